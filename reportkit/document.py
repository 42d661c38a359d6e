"""The report document model: a flat list of blocks that every output format renders.

A notebook cell displays one part of a report as a bundle with two representations: `text/html`
for people reading the notebook and for the HTML export, and BLOCKS_MIME (JSON blocks) from which
the DOCX exporter builds real Word paragraphs, headings and tables. Both come from the same
blocks, so the formats cannot drift apart.

Block kinds (all plain JSON):
  {"kind": "title", "text"}
  {"kind": "heading", "level": 1|2|3, "text"}        一、 / （一） / 1.
  {"kind": "paragraph", "text", "align": "justify"|"center"|"right", "lead"?}  lead: bold opening
  {"kind": "table", "caption", "columns": [str], "rows": [[str]], "compact"?: bool}
  {"kind": "figure", "caption", "mime": "image/svg+xml"|"image/png", "data": base64}
  {"kind": "signature", "lines": [str]}               organisation, date; right-aligned
  {"kind": "page_break"}
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

BLOCKS_MIME = "application/vnd.reportkit.blocks+json"

Block = dict[str, Any]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reportkit", "templates/export"),
        autoescape=True,  # every text in a block may come from a workbook
        trim_blocks=True,
        lstrip_blocks=True,
    )


def blocks_to_html(blocks: list[Block]) -> str:
    """An HTML fragment for blocks; all text escaped, images as data URIs (no external URL)."""
    return _environment().get_template("blocks.html.j2").render(blocks=blocks)


def bundle(blocks: list[Block]) -> dict[str, Any]:
    """A display bundle for IPython's `display(..., raw=True)`."""
    return {"text/html": blocks_to_html(blocks), BLOCKS_MIME: {"blocks": blocks}}


def blocks_of_notebook(nb: Any) -> list[Block]:
    """All report blocks in a notebook, in cell order (for the DOCX exporter)."""
    found: list[Block] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if BLOCKS_MIME in data:
                found.extend(data[BLOCKS_MIME]["blocks"])
    return found
