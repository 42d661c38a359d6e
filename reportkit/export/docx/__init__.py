"""Editable Word report (GB/T 9704-2012 layout) from the notebook's blocks, with python-docx.

Analysts edit these files, so structure lives in real Word styles, not in direct formatting:
Title, Heading 1/2/3 (black, unnumbered, so the navigation pane shows the outline), Normal for
body text, Table Grid tables whose header row repeats, and PAGE fields in odd/even footers.
Word names a single family per script, so each style names the font resolved on this machine
(for a font file: the family stored in it) in w:ascii, w:hAnsi, w:eastAsia and w:cs.

The styled empty document is built once per font set and reused from bytes. Modules: oxml
(element helpers python-docx lacks), styles (page, styles, footers) and writer (blocks to Word).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any

from reportkit.export import lazy_exporter
from reportkit.export.docx.oxml import qn
from reportkit.export.docx.styles import styled_template
from reportkit.export.docx.writer import Writer, block_text
from reportkit.render.document import Block
from reportkit.render.fonts import ROLES, resolve_fonts
from reportkit.render.formats import ExecutedReport, Format

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def blocks_to_docx(
    blocks: Sequence[Block],
    fonts: Mapping[str, Any] | None = None,
    title: str | None = None,
    date: dt.date | None = None,
) -> bytes:
    """DOCX bytes for report blocks.

    `fonts`: params-style overrides (role -> family or file) or resolved fonts (ResolvedFont or
    its to_json() dict), as for blocks_to_pdf. `title` sets the document properties (default:
    the title block's text). `date` is the creation and modification date, in the core
    properties and on every zip entry (default 1980-01-01, never the clock): the same blocks
    give the same bytes.
    """
    import docx

    resolved = resolve_fonts(fonts)
    doc = docx.Document(io.BytesIO(styled_template(tuple((r, resolved[r]) for r in ROLES))))
    writer = Writer(doc)
    for block in blocks:
        writer.add(block)
    body = doc.element.body
    last = body[-2] if len(body) > 1 else None  # the element before w:sectPr
    if last is None or last.tag == qn("w:tbl"):
        doc.add_paragraph()  # Word wants a paragraph after a closing table
    if title is None:
        title = next((block_text(b.get("text")) for b in blocks if b.get("kind") == "title"), "")
    day = date or dt.date(1980, 1, 1)
    props = doc.core_properties
    props.title = (title or "")[:255]  # Word's core properties hold at most 255 characters
    props.language = "zh-CN"
    props.author = "reportkit"
    props.last_modified_by = "reportkit"
    props.revision = 1
    props.created = props.modified = dt.datetime(day.year, day.month, day.day)
    buffer = io.BytesIO()
    doc.save(buffer)
    return _dated_zip(buffer.getvalue(), day)


def _dated_zip(data: bytes, day: dt.date) -> bytes:
    """The same zip with every entry dated `day` (python-docx stamps entries with the clock)."""
    import zipfile

    stamp = (day.year, day.month, day.day, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            target.writestr(info, source.read(entry))
    return out.getvalue()


def notebook_to_docx(report: ExecutedReport) -> bytes:
    """The DOCX of an executed report notebook (the `docx` format)."""
    return blocks_to_docx(report.blocks, report.fonts, report.meta.title, report.date)


FORMAT = Format(
    name="docx",
    suffix=".docx",
    mimetype=DOCX_MIME,
    label="Report (reportkit DOCX)",
    needs=frozenset({"blocks", "png"}),
    render=notebook_to_docx,
    link_text="Word（DOCX）",
)

__getattr__ = lazy_exporter(
    "ReportDOCXExporter",
    __name__,
    "`jupyter nbconvert --to reportkit_docx`: the editable Word report, without code.",
    "docx",
)
