"""A real browser (Debian's chromium, headless, offline) opens the index and a report."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import manifest


def open_offline(browser, page_path: Path, screenshot: Path):
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.as_uri(), wait_until="load")
    page.screenshot(path=str(screenshot), full_page=False)
    text = page.inner_text("body")
    context.close()
    return problems, requests, text


def not_blank(png: Path) -> bool:
    from PIL import Image, ImageStat

    with Image.open(png) as image:
        stat = ImageStat.Stat(image.convert("L"))
    return stat.stddev[0] > 10


def test_index_and_report_open_offline_without_errors(browser, full_run: Path, tmp_path: Path):
    unit = manifest(full_run)["units"][0]
    for page in (
        full_run / "index.html",
        full_run / unit["dir"] / "report.html",
        full_run / "summary.html",
    ):
        shot = tmp_path / f"{page.parent.name}-{page.stem}.png"
        problems, requests, text = open_offline(browser, page, shot)
        assert problems == []
        assert all(url.startswith(("file:", "data:")) for url in requests), requests
        assert not_blank(shot)
        assert "党建" in text


def test_index_links_resolve(browser, full_run: Path):
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((full_run / "index.html").as_uri())
    hrefs = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    context.close()
    assert len(hrefs) >= 3 * 3 + 2
    for href in hrefs:
        assert href.startswith("file://")
        from urllib.parse import unquote, urlparse

        assert Path(unquote(urlparse(href).path)).is_file(), href
