"""Exports of an executed report notebook: offline HTML, official-format PDF and DOCX.

Only blocks reach a report (reportkit.render.document.notebook_content): reportkit's own outputs
(BLOCKS_MIME) and an analyst's cells tagged `report`. Code, prompts, streams, errors, untagged
outputs and papermill's cells never do.

Modules: `html` (notebook_to_html, ReportHTMLExporter), `pdf` (blocks_to_pdf, ReportPDFExporter,
Typst) and `docx` (blocks_to_docx, ReportDOCXExporter, python-docx). Each also defines its
FORMAT, registered in the `reportkit.formats` entry-point group (see reportkit.render.formats); the
nbconvert exporters reportkit_html, reportkit_pdf and reportkit_docx render through it.

Notebook metadata read here (all optional):
    metadata.reportkit = {"title": str, "lang": "zh-CN",
                          "fonts": {role: family name or font file path}}
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reportkit.render.document import BLOCKS_MIME, Block, blocks_of_notebook
from reportkit.render.tables import column_units, text_columns, width_chars

# -- GB/T 9704-2012 geometry: the print CSS, the Typst page and the DOCX styles -------------

PAGE_MM = (210.0, 297.0)
MARGIN_MM = {"top": 37.0, "bottom": 35.0, "left": 28.0, "right": 26.0}
TEXT_WIDTH_MM = PAGE_MM[0] - MARGIN_MM["left"] - MARGIN_MM["right"]  # 156
TEXT_HEIGHT_MM = PAGE_MM[1] - MARGIN_MM["top"] - MARGIN_MM["bottom"]  # 225
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
BODY_PT = 16.0  # 3号
TITLE_PT = 22.0  # 2号
PAGE_NUMBER_PT = 14.0  # 4号
SMALL_PT = 12.0  # tables
COMPACT_PT = 10.5  # 五号: the long listings of 附件1
CAPTION_PT = 14.0
PAGE_NUMBER_GAP_MM = 7.0  # below the text area
# The em dash's top sits about 0.64 em below the top of a 1.0 line box (measured on rendered
# pages): the page number's line starts this far below the text area, so that the dash is
# 7 mm below it (一字线上距版心下边缘7mm).
PAGE_NUMBER_TOP_MM = round(PAGE_NUMBER_GAP_MM - PAGE_NUMBER_PT * 0.64 * 25.4 / 72, 2)

_PT_PER_MM = 72 / 25.4
# Rounded down to 1/100 pt, so that 22 lines and 28 characters still fit after rounding.
LINE_PT = math.floor(TEXT_HEIGHT_MM * _PT_PER_MM / LINES_PER_PAGE * 100) / 100  # 28.99
CHAR_PT = math.floor(TEXT_WIDTH_MM * _PT_PER_MM / CHARS_PER_LINE * 100) / 100  # 15.79
LETTER_SPACING_PT = round(CHAR_PT - BODY_PT, 2)  # -0.21: 28 characters of 16 pt in 156 mm


@dataclass(frozen=True)
class ReportMeta:
    """What a notebook says about its report (metadata.reportkit), with defaults filled in."""

    title: str
    lang: str = "zh-CN"
    fonts: dict[str, str] = field(default_factory=dict)


DEFAULT_TITLE = "党建工作情况报告"


def report_metadata(nb: Any, blocks: list[Block] | None = None) -> ReportMeta:
    """Title, language and font overrides of a report notebook."""
    meta = (nb.get("metadata") or {}).get("reportkit") or {}
    title = str(meta.get("title") or "").strip()
    if not title:
        for block in blocks if blocks is not None else blocks_of_notebook(nb):
            if block.get("kind") == "title" and str(block.get("text") or "").strip():
                title = str(block["text"]).strip()
                break
    fonts = meta.get("fonts") or {}
    return ReportMeta(
        title=title or DEFAULT_TITLE,
        lang=str(meta.get("lang") or "zh-CN"),
        fonts={str(k): v for k, v in fonts.items() if v} if isinstance(fonts, Mapping) else {},
    )


# -- tables: one width rule for HTML, PDF and DOCX -------------------------------------------


def as_text(value: Any) -> str:
    """A cell or block value as text (None as empty)."""
    return "" if value is None else str(value)


def column_widths(columns: Sequence[str], rows: Sequence[Sequence[Any]], total: int) -> list[int]:
    """Column widths adding up to about `total`, by reportkit.render.tables.column_units
    (the rule blocks.html.j2 uses too)."""
    units = column_units(columns, rows)
    scale = total / sum(units)
    return [int(u * scale) for u in units]


def make_exporter(name: str, module: str, doc: str, format_name: str) -> type:
    """An nbconvert Exporter class that renders the (preprocessed) notebook as one registered
    format (reportkit.render.formats), the same code path the runner takes.

    Built on first use (PEP 562 module __getattr__ in html/pdf/docx): importing nbconvert
    costs about 0.6 s, which the runner's in-process functions never need.
    """
    from nbconvert.exporters import Exporter
    from traitlets import default

    from reportkit.render.formats import get_format, render_formats

    fmt = get_format(format_name)

    class ReportExporter(Exporter):
        output_mimetype = fmt.mimetype
        export_from_notebook = fmt.label

        @default("file_extension")
        def _file_extension_default(self) -> str:
            return fmt.suffix

        def from_notebook_node(
            self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
        ) -> tuple[str | bytes, dict[str, Any]]:
            nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
            data = render_formats(nb_copy, [fmt.name])[fmt.name]
            return (data.decode("utf-8") if fmt.mimetype.startswith("text/") else data), resources

    ReportExporter.__name__ = ReportExporter.__qualname__ = name
    ReportExporter.__module__ = module
    ReportExporter.__doc__ = doc
    return ReportExporter


def lazy_exporter(name: str, module: str, doc: str, format_name: str) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) that builds exporter `name` with make_exporter on first
    access and keeps it in the module, so entry points resolve without importing nbconvert early."""

    def module_getattr(attribute: str) -> Any:
        if attribute != name:
            raise AttributeError(f"module {module!r} has no attribute {attribute!r}")
        cls = make_exporter(name, module, doc, format_name)
        setattr(sys.modules[module], name, cls)
        return cls

    return module_getattr


__all__ = [
    "BLOCKS_MIME",
    "CHAR_PT",
    "LETTER_SPACING_PT",
    "LINE_PT",
    "MARGIN_MM",
    "PAGE_MM",
    "ReportMeta",
    "as_text",
    "column_widths",
    "lazy_exporter",
    "make_exporter",
    "report_metadata",
    "text_columns",
    "width_chars",
]
