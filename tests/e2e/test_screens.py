"""Reports, the summary and the index read well on a laptop (1280×900) and a phone (390×844).

Real Chromium (Debian's, via Playwright). Screenshots are kept for a person to look at, in
$REPORTKIT_ARTIFACTS/screens (default build/test-artifacts/screens).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.e2e.helpers import REPO, manifest

pytestmark = pytest.mark.slow

VIEWPORTS = {"laptop": (1280, 900), "phone": (390, 844)}
ARTIFACTS = Path(os.environ.get("REPORTKIT_ARTIFACTS", REPO / "build" / "test-artifacts"))
SHORT_FIGURE = re.compile(r"^(\d{4}年|-?\d+(\.\d+)?%)$")

# Cells holding a year ("2017年") or a percentage ("0.6%"), and how many line boxes each takes.
WRAPPED_CELLS = """() => [...document.querySelectorAll('td, th')]
  .filter(c => /^(\\d{4}年|-?\\d+(\\.\\d+)?%)$/.test(c.textContent.trim()))
  .map(c => {
    const range = document.createRange();
    range.selectNodeContents(c);
    const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    return [c.textContent.trim(), tops.size];
  })"""

# The heatmap's SVG drawn inline at the width its <img> has, and the heights of its axis labels.
HEATMAP_LABELS = """(alt) => {
  const img = [...document.images].find(i => i.alt.includes(alt));
  const svgText = atob(img.src.split(',')[1]);
  const holder = document.createElement('div');
  holder.innerHTML = new TextDecoder().decode(Uint8Array.from(svgText, c => c.charCodeAt(0)));
  const svg = holder.querySelector('svg');
  svg.style.width = img.getBoundingClientRect().width + 'px';
  svg.style.height = 'auto';
  document.body.append(holder);
  const labels = [...svg.querySelectorAll('g[id^="xtick_"] text, g[id^="ytick_"] text')];
  const heights = labels.map(t => t.getBoundingClientRect().height);
  holder.remove();
  return heights;
}"""


def pages(full_run: Path) -> dict[str, Path]:
    unit = manifest(full_run)["units"][0]
    return {
        "report": full_run / unit["dir"] / "report.html",
        "summary": full_run / "summary.html",
        "index": full_run / "index.html",
    }


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_pages_fit_the_screen_and_short_figures_never_wrap(browser, full_run, viewport):
    width, height = VIEWPORTS[viewport]
    folder = ARTIFACTS / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(offline=True, viewport={"width": width, "height": height})
    try:
        for name, path in pages(full_run).items():
            page = context.new_page()
            page.goto(path.as_uri(), wait_until="load")
            page.screenshot(path=str(folder / f"{name}-{width}x{height}.png"), full_page=True)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (name, viewport, scroll)
            cells = page.evaluate(WRAPPED_CELLS)
            assert cells, name  # every page has years or percentages in its tables
            assert [c for c in cells if c[1] > 1] == [], (name, viewport)
            if name != "index":
                text_width = page.evaluate(
                    "() => Math.max(...[...document.querySelectorAll('.rk-p')]"
                    ".map(p => p.getBoundingClientRect().width))"
                )
                assert text_width <= 910, (name, viewport, text_width)
                # The header links back to the index and to the other formats, on screen only.
                links = page.eval_on_selector_all("nav.rk-nav a", "as => as.map(a => a.href)")
                assert links
                assert links[0].endswith("/index.html")
                assert all(Path(unquote(urlparse(link).path)).is_file() for link in links), links
                page.emulate_media(media="print")
                assert not page.is_visible("nav.rk-nav")
                page.emulate_media(media="screen")
            page.close()
    finally:
        context.close()


def test_summary_heatmap_labels_are_legible_at_1280(browser, full_run):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(pages(full_run)["summary"].as_uri(), wait_until="load")
    heights = page.evaluate(HEATMAP_LABELS, "达到一般要求的支部占比")
    context.close()
    assert len(heights) >= 4
    assert min(heights) >= 11, heights


def test_index_sorts_on_header_click_and_filters_by_unit(browser, full_run):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(pages(full_run)["index"].as_uri(), wait_until="load")
    headers = page.eval_on_selector_all(
        "table.rk-index thead th", "ths => ths.map(t => t.textContent)"
    )
    column = headers.index("主题党日（次）")

    def values() -> list[str]:
        return page.eval_on_selector_all(
            "table.rk-index tbody tr:not([hidden])",
            f"rs => rs.map(r => r.cells[{column}].textContent)",
        )

    before = values()
    page.click(f"table.rk-index thead th >> nth={column}")
    ascending = values()
    assert [int(v) for v in ascending] == sorted(int(v) for v in before)
    page.click(f"table.rk-index thead th >> nth={column}")
    assert [int(v) for v in values()] == sorted((int(v) for v in before), reverse=True)
    page.click("table.rk-index thead th >> nth=0")
    units = page.eval_on_selector_all(
        "table.rk-index tbody tr", "rs => rs.map(r => r.cells[0].textContent)"
    )
    page.fill("#rk-filter", units[-1][-4:])
    shown = page.eval_on_selector_all(
        "table.rk-index tbody tr:not([hidden])", "rs => rs.map(r => r.cells[0].textContent)"
    )
    assert units[-1] in shown
    assert len(shown) < len(units)
    page.screenshot(path=str(ARTIFACTS / "screens" / "index-sorted-filtered.png"))
    context.close()

    # With scripts off it is the same table: every row, no filter box.
    context = browser.new_context(offline=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(pages(full_run)["index"].as_uri(), wait_until="load")
    assert len(page.query_selector_all("table.rk-index tbody tr")) == len(units)
    assert not page.is_visible("#rk-filter")
    context.close()
