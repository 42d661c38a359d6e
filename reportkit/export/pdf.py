"""Official-format PDF (GB/T 9704-2012) from the report page, through WeasyPrint.

The page already carries the print stylesheet (@media print: A4, margins, 22 lines of 28
characters, page numbers). Here we only pin every role to the exact font resolved on this
machine (a CSS stack would let fontconfig substitute), load font files the user named, and keep
WeasyPrint offline. Fonts are embedded as subsets (WeasyPrint's default; full CJK fonts would
make a 75 MB file). Parsed CSS and the font configuration are cached per process.

WeasyPrint is imported on first use: `jupyter nbconvert` imports every registered exporter
module whatever the target format, and should not pay for (or fail on) WeasyPrint then.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from reportkit.errors import ReportkitError
from reportkit.export import lazy_exporter, report_metadata
from reportkit.export.html import font_rules, notebook_to_html, render_page
from reportkit.fonts import ROLES, ResolvedFont, css_family, css_font_faces, resolve_fonts

FontsKey = tuple[tuple[str, ResolvedFont], ...]

_lock = threading.Lock()


def pdf_font_css(fonts: Mapping[str, ResolvedFont]) -> str:
    """User stylesheet that pins each role to its resolved font (beats the page's stacks)."""
    families = {role: css_family(role, font) for role, font in fonts.items()}
    weights = {"title": fonts["title"].weight}
    songti = families["songti"]
    page_numbers = "\n".join(
        f"@page :{side} {{ @bottom-{side} {{ font-family: {songti} !important; }} }}"
        for side in ("right", "left")
    )
    parts = (css_font_faces(fonts), font_rules(families, weights, important=True), page_numbers)
    return "\n".join(part for part in parts if part)


def _allowed_files(key: FontsKey) -> frozenset[str]:
    return frozenset(Path(font.path).resolve().as_uri() for _, font in key if font.path)


def _make_fetcher(allowed: frozenset[str]) -> Any:
    """A fetcher for data: URLs and the user's font files only: no network, no other files."""

    def check(url: str) -> None:
        if url.startswith("data:") or url in allowed:
            return
        raise ValueError(f"reportkit PDF export fetches nothing external: {url[:80]}")

    import weasyprint

    try:  # WeasyPrint >= 65
        from weasyprint.urls import URLFetcher
    except ImportError:  # pragma: no cover - older WeasyPrint
        URLFetcher = None  # noqa: N806

    if URLFetcher is not None:

        class OfflineFetcher(URLFetcher):
            def fetch(self, url: str, headers: Any = None) -> Any:
                check(url)
                return super().fetch(url, headers)

        return OfflineFetcher(timeout=5, allow_redirects=False)

    def fetcher(url: str, timeout: int = 5, ssl_context: Any = None) -> Any:  # pragma: no cover
        check(url)
        return weasyprint.default_url_fetcher(url, timeout=timeout)

    return fetcher


@lru_cache(maxsize=8)
def _prepared(key: FontsKey) -> tuple[Any, Any, Any]:
    """Font configuration, parsed font stylesheet and fetcher for one set of fonts (cached)."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    fonts = dict(key)
    font_config = FontConfiguration()
    fetcher = _make_fetcher(_allowed_files(key))
    css = weasyprint.CSS(string=pdf_font_css(fonts), font_config=font_config, url_fetcher=fetcher)
    return font_config, css, fetcher


def _fonts_key(fonts: Mapping[str, Any] | None) -> FontsKey:
    resolved = resolve_fonts(fonts)
    return tuple((role, resolved[role]) for role in ROLES)


def html_to_pdf(html: str, fonts: Mapping[str, Any] | None = None) -> bytes:
    """PDF bytes of a report page (notebook_to_html) or of a bare blocks fragment.

    `fonts`: params-style overrides (role -> family or file) or resolved fonts (ResolvedFont or
    its to_json() dict). Raises ReportkitError when no CJK font is available.
    """
    import weasyprint

    if "<html" not in html[:2000].lower():
        html = render_page(html, "报告", fonts=fonts)
    font_config, css, fetcher = _prepared(_fonts_key(fonts))
    # WeasyPrint's font configuration is not safe to share between threads rendering at once.
    with _lock:
        document = weasyprint.HTML(string=html, url_fetcher=fetcher, media_type="print")
        pdf = document.write_pdf(stylesheets=[css], font_config=font_config)
    if not pdf:
        raise ReportkitError("PDF 生成失败：WeasyPrint 未返回内容。")
    return pdf


def notebook_to_pdf(nb: Any, fonts: Mapping[str, Any] | None = None) -> bytes:
    """PDF of an executed report notebook; fonts default to metadata.reportkit.fonts."""
    if fonts is None:
        fonts = report_metadata(nb).fonts
    return html_to_pdf(notebook_to_html(nb), fonts)


__getattr__ = lazy_exporter(
    "ReportPDFExporter",
    __name__,
    "`jupyter nbconvert --to reportkit_pdf`: the official-format PDF, without code.",
    mimetype="application/pdf",
    extension=".pdf",
    label="Report (reportkit PDF)",
    convert=notebook_to_pdf,
)
