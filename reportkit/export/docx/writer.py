"""Blocks into Word: paragraphs, headings, tables (built as XML, fast for long tables), figures
and the signature."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from reportkit.export import (
    CHARS_PER_LINE,
    TEXT_WIDTH_MM,
    column_widths,
    text_columns,
    width_chars,
)
from reportkit.export.docx.oxml import LINE_TWIPS, qn, remove_children, set_indent
from reportkit.export.docx.styles import FIGURE_MAX_HEIGHT_MM
from reportkit.render.document import Block

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def block_text(value: Any) -> str:
    """Text safe for XML: workbooks may carry control characters Word cannot store."""
    return "" if value is None else _NOT_XML.sub("", str(value))


def _rows_xml(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[int],
    left: set[int],
    heading_style: str,
    text_style: str,
) -> str:
    """WordprocessingML rows: a repeating header row, then rows that never split."""
    from xml.sax.saxutils import escape, quoteattr

    from docx.oxml.ns import nsdecls

    def cell(value: Any, width: int, style: str, align_left: bool) -> str:
        text = block_text(value)
        runs = "<w:br/>".join(
            f'<w:t xml:space="preserve">{escape(part)}</w:t>' for part in text.split("\n")
        )
        jc = '<w:jc w:val="left"/>' if align_left else ""
        return (
            f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>'
            f"<w:p><w:pPr><w:pStyle w:val={quoteattr(style)}/>{jc}</w:pPr>"
            f"{f'<w:r>{runs}</w:r>' if text else ''}</w:p></w:tc>"
        )

    parts = [f"<w:tbl {nsdecls('w')}>"]
    for r, values in enumerate([columns, *rows]):
        header = r == 0
        parts.append("<w:tr><w:trPr><w:cantSplit/>")
        parts.append("<w:tblHeader/></w:trPr>" if header else "</w:trPr>")
        for c, width in enumerate(widths):
            value = values[c] if c < len(values) else ""
            parts.append(
                cell(
                    value, width, heading_style if header else text_style, not header and c in left
                )
            )
        parts.append("</w:tr>")
    parts.append("</w:tbl>")
    return "".join(parts)


class Writer:
    """Appends blocks to a document; style ids are looked up once (python-docx's by-name
    lookup scans all styles and dominated the export time)."""

    STYLES = (
        "Title",
        "Heading 1",
        "Heading 2",
        "Heading 3",
        "Caption",
        "Table Text",
        "Table Heading",
        "Figure",
        "Signature",
    )

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.ids = {name: doc.styles[name].style_id for name in self.STYLES}
        # A page break becomes "page break before" on the next paragraph: a paragraph holding
        # only a break would leave an empty line at the top of the new page.
        self.break_pending = False

    def paragraph(self, text: str = "", style: str | None = None) -> Any:
        paragraph = self.doc.add_paragraph()
        if style:
            paragraph._p.style = self.ids[style]
        if self.break_pending:
            paragraph.paragraph_format.page_break_before = True
            self.break_pending = False
        if text:
            paragraph.add_run(text)
        return paragraph

    def add(self, block: Block) -> None:
        kind = block.get("kind")
        if kind == "title":
            self.paragraph(block_text(block.get("text")), "Title")
        elif kind == "heading":
            level = min(max(int(block.get("level") or 1), 1), 3)
            self.paragraph(block_text(block.get("text")), f"Heading {level}")
        elif kind == "paragraph":
            self.body_paragraph(block)
        elif kind == "table":
            self.table(block)
        elif kind == "figure":
            self.figure(block)
        elif kind == "signature":
            self.signature(block.get("lines") or [])
        elif kind == "page_break":
            self.break_pending = True

    def body_paragraph(self, block: Block) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        paragraph = self.paragraph()
        lead = block_text(block.get("lead"))
        if lead:
            paragraph.add_run(lead).bold = True
        paragraph.add_run(block_text(block.get("text")))
        align = block.get("align")
        if align in ("center", "right"):
            paragraph.alignment = (
                WD_ALIGN_PARAGRAPH.CENTER if align == "center" else WD_ALIGN_PARAGRAPH.RIGHT
            )
            set_indent(paragraph._p.get_or_add_pPr())

    def table(self, block: Block) -> None:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.oxml import OxmlElement, parse_xml
        from docx.shared import Twips

        columns = [block_text(c) for c in block.get("columns") or []]
        rows = [list(r) for r in block.get("rows") or []]
        count = max([len(columns), *(len(r) for r in rows)])
        if count == 0:
            return
        if block.get("caption"):
            self.paragraph(block_text(block["caption"]), "Caption")
        elif self.break_pending:  # a table cannot break before itself
            self.doc.add_page_break()
            self.break_pending = False
        widths = column_widths(columns, rows, round(TEXT_WIDTH_MM / 25.4 * 1440))
        table = self.doc.add_table(rows=0, cols=count)
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        tbl = table._tbl
        tblpr = tbl.tblPr
        remove_children(tblpr, "w:tblW")
        tbl_w = OxmlElement("w:tblW")
        tbl_w.set(qn("w:w"), str(sum(widths)))
        tbl_w.set(qn("w:type"), "dxa")
        tblpr.insert_element_before(
            tbl_w,
            "w:jc",
            "w:tblCellSpacing",
            "w:tblInd",
            "w:tblBorders",
            "w:shd",
            "w:tblLayout",
            "w:tblCellMar",
            "w:tblLook",
            "w:tblCaption",
            "w:tblDescription",
            "w:tblPrChange",
        )
        for grid_col, width in zip(tbl.tblGrid.gridCol_lst, widths, strict=True):
            grid_col.w = Twips(width)
        # Rows as one XML string: python-docx's cell API is quadratic in the row count (a
        # 400-row appendix took a second); this takes milliseconds.
        xml = _rows_xml(
            columns,
            rows,
            widths,
            text_columns(rows),
            self.ids["Table Heading"],
            self.ids["Table Text"],
        )
        for tr in parse_xml(xml):
            tbl.append(tr)

    def figure(self, block: Block) -> None:
        from docx.shared import Mm

        mime = block.get("mime") or ""
        data = block.get("png") if mime == "image/svg+xml" else block.get("data")
        if mime not in ("image/svg+xml", "image/png", "image/jpeg"):
            data = block.get("png")
        caption = block_text(block.get("caption"))
        if not data:
            name = f"“{caption}”" if caption else ""
            self.paragraph(f"（图表{name}请见 PDF 或 HTML 版本）", "Figure")
            return
        paragraph = self.paragraph(style="Figure")
        picture = paragraph.add_run().add_picture(io.BytesIO(base64.b64decode(data)))
        scale = min(
            1.0, Mm(TEXT_WIDTH_MM) / picture.width, Mm(FIGURE_MAX_HEIGHT_MM) / picture.height
        )
        if scale < 1.0:
            picture.width = int(picture.width * scale)
            picture.height = int(picture.height * scale)
        if caption:
            self.paragraph(caption, "Caption").paragraph_format.keep_with_next = False
        else:
            paragraph.paragraph_format.keep_with_next = False

    def signature(self, lines: Iterable[Any]) -> None:
        """One paragraph, lines centred on each other in a box 4 characters in from the right
        (成文日期右空四字), kept on the page of the body's last lines.

        One paragraph with line breaks, not one per line: LibreOffice splits a chain of
        keep-with-next paragraphs, but it keeps a paragraph's lines together.
        """
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
        from docx.shared import Twips

        texts = [block_text(t) for t in lines if block_text(t)]
        if not texts:
            return
        body = self.doc.element.body
        previous = body[-2] if len(body) > 1 else None  # the element before w:sectPr
        if previous is not None and previous.tag == qn("w:p"):
            previous.get_or_add_pPr().get_or_add_keepNext()  # Word brings its last lines along
        box = max(width_chars(t) for t in texts) + 1  # one spare character against wrapping
        paragraph = self.paragraph(style="Signature")
        for i, text in enumerate(texts):
            run = paragraph.add_run(text)
            if i < len(texts) - 1:
                run.add_break(WD_BREAK.LINE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        set_indent(
            paragraph._p.get_or_add_pPr(),
            left_chars=max(CHARS_PER_LINE - 4 - box, 0),
            right_chars=4,
        )
        paragraph.paragraph_format.space_before = Twips(2 * LINE_TWIPS)
        paragraph.paragraph_format.keep_together = True
