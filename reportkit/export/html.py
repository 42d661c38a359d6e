"""Offline HTML: one self-contained page built from the notebook's report outputs.

nbconvert's stock HTML templates link require.js and MathJax from a CDN and show prompts, code
and streams. This page has none of that: inline CSS (screen and the official print format), the
report content in cell order (reportkit.render.document.notebook_content: reportkit's own
outputs and an analyst's cells tagged `report`), an optional header of relative links (hidden
in print), and nothing that points outside the file. Leadership reads it on intranets without
internet access, on laptops and phones, or printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from reportkit import __version__
from reportkit.export import (
    BODY_PT,
    CAPTION_PT,
    CHAR_PT,
    LETTER_SPACING_PT,
    LINE_PT,
    MARGIN_MM,
    PAGE_MM,
    PAGE_NUMBER_PT,
    PAGE_NUMBER_TOP_MM,
    SMALL_PT,
    TEXT_HEIGHT_MM,
    TITLE_PT,
    lazy_exporter,
    report_metadata,
)
from reportkit.render.document import blocks_to_html, notebook_content
from reportkit.render.fonts import ROLES, css_font_stack
from reportkit.render.formats import Format, get_format

#: Which elements each font role dresses (songti: page numbers, set in the @page rules).
ROLE_SELECTORS: dict[str, str] = {
    "fangsong": ".rk-report, .rk-p, .rk-h3, .rk-table td, .rk-signature, .rk-lead",
    "title": ".rk-title",
    "heiti": ".rk-h1, .rk-table th, .rk-table caption, .rk-figure figcaption",
    "kaiti": ".rk-h2",
}

_URL_SCHEME = re.compile(r"\b(https?):(?=//)", re.IGNORECASE)
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reportkit", "templates/export"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def geometry() -> dict[str, float]:
    """The numbers the stylesheet uses (GB/T 9704-2012, see reportkit.export)."""
    return {
        "body_pt": BODY_PT,
        "line_pt": LINE_PT,
        "half_line_pt": round(LINE_PT / 2, 2),
        "letter_spacing_pt": LETTER_SPACING_PT,
        "indent_pt": round(2 * CHAR_PT, 2),
        "title_pt": TITLE_PT,
        "title_line_pt": round(TITLE_PT * 1.5, 2),
        "small_pt": SMALL_PT,
        "caption_pt": CAPTION_PT,
        "page_number_pt": PAGE_NUMBER_PT,
        "page_number_top_mm": PAGE_NUMBER_TOP_MM,
        "margin_top_mm": MARGIN_MM["top"],
        "margin_bottom_mm": MARGIN_MM["bottom"],
        "margin_left_mm": MARGIN_MM["left"],
        "margin_right_mm": MARGIN_MM["right"],
        "margin_left_pct": round(100 * MARGIN_MM["left"] / PAGE_MM[0], 1),
        "margin_right_pct": round(100 * MARGIN_MM["right"] / PAGE_MM[0], 1),
        "figure_max_height_mm": round(TEXT_HEIGHT_MM * 0.6),
        "signature_gap_pt": round(2 * LINE_PT, 2),
        "signature_right_pt": round(4 * CHAR_PT, 2),  # 成文日期右空四字
    }


def font_rules(families: Mapping[str, str]) -> str:
    """CSS rules giving each role's elements their font family."""
    return "\n".join(
        f"{selectors} {{ font-family: {families[role]}; }}"
        for role, selectors in ROLE_SELECTORS.items()
    )


def _fonts_key(fonts: Mapping[str, Any] | None) -> str:
    """A hashable form of font overrides (names, paths or resolved fonts) for the CSS cache."""

    def plain(value: Any) -> Any:
        return value.to_json() if hasattr(value, "to_json") else str(value)

    return json.dumps(dict(fonts or {}), sort_keys=True, ensure_ascii=False, default=plain)


@lru_cache(maxsize=16)
def _page_css(fonts_key: str) -> str:
    fonts = json.loads(fonts_key)
    stacks = {role: css_font_stack(role, fonts) for role in ROLES}
    return (
        _environment()
        .get_template("report.css.j2")
        .render(
            g=geometry(),
            font_rules=Markup(font_rules(stacks)),
            page_number_font=Markup(stacks["songti"]),
        )
    )


def page_css(fonts: Mapping[str, Any] | None = None) -> str:
    """The page stylesheet, with named font stacks (official faces first, free ones named)."""
    return _page_css(_fonts_key(fonts))


def _offline(fragment: str) -> str:
    """Defuse URL-looking text (a topic may quote a web address): http:// reads the same to
    people as http&#58;// but the page then holds no URL at all."""
    return _URL_SCHEME.sub(r"\1&#58;", fragment)


def page_links(stem: str, formats: Sequence[str], index_href: str) -> dict[str, str]:
    """The header links of a page in a run's output: back to the index, then the other
    formats built from the same notebook (`<stem>.pdf`, ...) that name a link text, all
    relative."""
    links = {"返回目录": index_href}
    for fmt in map(get_format, formats):
        if fmt.link_text:
            links[fmt.link_text] = f"{stem}{fmt.suffix}"
    return links


def render_page(
    body_html: str,
    title: str,
    lang: str = "zh-CN",
    fonts: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """A complete offline page around trusted report HTML (fragments from blocks_to_html);
    `links` (text -> relative href) make the header shown on screens only."""
    if not _LANG.match(lang or ""):
        lang = "zh-CN"
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            lang=lang,
            title=title,
            version=__version__,
            css=Markup(page_css(fonts)),
            body=Markup(_offline(body_html)),
            links=links or {},
        )
    )


def notebook_to_html(nb: Any, links: Mapping[str, str] | None = None) -> str:
    """The report page of an executed notebook (in-process, cheap; the runner's HTML step).
    reportkit's own outputs reuse the HTML the kernel rendered; an analyst's cells are rendered
    here from their blocks."""
    meta = report_metadata(nb)
    body = "\n".join(html or blocks_to_html(blocks) for blocks, html in notebook_content(nb))
    return render_page(body, meta.title, meta.lang, meta.fonts, links)


FORMAT = Format(
    name="html",
    suffix=".html",
    mimetype="text/html",
    label="Report (reportkit HTML)",
    needs=frozenset({"html"}),
    render=lambda report: notebook_to_html(report.nb, report.links).encode("utf-8"),
)

__getattr__ = lazy_exporter(
    "ReportHTMLExporter",
    __name__,
    "`jupyter nbconvert --to reportkit_html`: the offline report page, without code.",
    "html",
)
