"""Editable Word report (GB/T 9704-2012 layout) from the notebook's blocks, with python-docx.

Analysts edit these files, so structure lives in real Word styles, not in direct formatting:
Title, Heading 1/2/3 (black, unnumbered, so the navigation pane shows the outline), Normal for
body text, Table Grid tables whose header row repeats, and PAGE fields in odd/even footers.
Word names a single family per script, so each style names the font resolved on this machine
(for a font file: the family stored in it) in w:ascii, w:hAnsi, w:eastAsia and w:cs.

The styled empty document is built once per font set and reused from bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from reportkit.export import (
    BODY_PT,
    CAPTION_PT,
    CHAR_PT,
    CHARS_PER_LINE,
    LINE_PT,
    MARGIN_MM,
    PAGE_MM,
    PAGE_NUMBER_GAP_MM,
    PAGE_NUMBER_PT,
    SMALL_PT,
    TEXT_HEIGHT_MM,
    TEXT_WIDTH_MM,
    TITLE_PT,
    column_widths,
    lazy_exporter,
    text_columns,
    width_chars,
)
from reportkit.render.document import Block
from reportkit.render.fonts import ROLES, ResolvedFont, resolve_fonts
from reportkit.render.formats import ExecutedReport, Format

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Word measures in twentieths of a point. The line pitch is rounded down so 22 lines fit.
LINE_TWIPS = math.floor(LINE_PT * 20)  # 579, as official templates use
CHAR_TWIPS = round(CHAR_PT * 20)
# 28 characters in 156 mm: body text is condensed by a quarter point (w:spacing, in twips).
# A docGrid character grid would say the same to Word, but LibreOffice and WPS read its
# charSpace differently (17 characters a line); condensed spacing reads the same everywhere.
CONDENSE_TWIPS = math.floor((TEXT_WIDTH_MM * 72 / 25.4 / 28 - BODY_PT) * 20) - 1  # -5
PAGE_NUMBER_LINE_PT = 16.0
# Footer distance (page bottom to the footer line's bottom) that puts the em dashes about 7 mm
# below the text area; the dash sits near the middle of the 16 pt line.
FOOTER_MM = MARGIN_MM["bottom"] - PAGE_NUMBER_GAP_MM - PAGE_NUMBER_LINE_PT * 25.4 / 72 / 2
FIGURE_MAX_HEIGHT_MM = TEXT_HEIGHT_MM * 0.6

_THEME_FONT_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")
_FONT_ATTRS = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")


# -- low-level XML helpers (python-docx has no API for these) --------------------------------


def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return qn(tag)


def _set_run_fonts(rpr: Any, family: str) -> None:
    """Name `family` for every script and drop theme fonts (which would win over names)."""
    rfonts = rpr.get_or_add_rFonts()
    for attr in _THEME_FONT_ATTRS:
        rfonts.attrib.pop(_qn(attr), None)
    for attr in _FONT_ATTRS:
        rfonts.set(_qn(attr), family)


#: The order of CT_RPr's children (ECMA-376): Word rejects run properties out of this order, so
#: a new child is inserted before the first of the children that must follow it.
_RPR_ORDER = (
    "w:color", "w:spacing", "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight",
    "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em",
    "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath",
)  # fmt: skip


def _rpr_successors(tag: str) -> tuple[str, ...]:
    return _RPR_ORDER[_RPR_ORDER.index(tag) + 1 :]


def _set_black(rpr: Any) -> None:
    from docx.oxml import OxmlElement

    for color in rpr.findall(_qn("w:color")):
        rpr.remove(color)
    color = OxmlElement("w:color")
    color.set(_qn("w:val"), "000000")
    rpr.insert_element_before(color, *_rpr_successors("w:color"))


def _set_condensed(rpr: Any, twips: int) -> None:
    """Character spacing (negative: condensed) in twips."""
    from docx.oxml import OxmlElement

    _remove(rpr, "w:spacing")
    spacing = OxmlElement("w:spacing")
    spacing.set(_qn("w:val"), str(twips))
    rpr.insert_element_before(spacing, *_rpr_successors("w:spacing"))


def _remove(parent: Any, *tags: str) -> None:
    for tag in tags:
        for child in parent.findall(_qn(tag)):
            parent.remove(child)


def _set_indent(
    ppr: Any, *, first_chars: float = 0, left_chars: float = 0, right_chars: float = 0
) -> None:
    """Indents in characters (w:*Chars, which Word prefers) and in twips for other readers."""
    ind = ppr.get_or_add_ind()
    for attr in list(ind.attrib):
        del ind.attrib[attr]
    ind.set(_qn("w:firstLineChars"), str(round(first_chars * 100)))
    ind.set(_qn("w:firstLine"), str(round(first_chars * CHAR_TWIPS)))
    if left_chars:
        ind.set(_qn("w:leftChars"), str(round(left_chars * 100)))
        ind.set(_qn("w:left"), str(round(left_chars * CHAR_TWIPS)))
    if right_chars:
        ind.set(_qn("w:rightChars"), str(round(right_chars * 100)))
        ind.set(_qn("w:right"), str(round(right_chars * CHAR_TWIPS)))


def _set_snap_to_grid(ppr: Any, snap: bool) -> None:
    from docx.oxml import OxmlElement

    _remove(ppr, "w:snapToGrid")
    element = OxmlElement("w:snapToGrid")
    element.set(_qn("w:val"), "1" if snap else "0")
    ppr.insert_element_before(
        element,
        "w:spacing",
        "w:ind",
        "w:contextualSpacing",
        "w:mirrorIndents",
        "w:suppressOverlap",
        "w:jc",
        "w:textDirection",
        "w:textAlignment",
        "w:textboxTightWrap",
        "w:outlineLvl",
        "w:divId",
        "w:cnfStyle",
        "w:rPr",
        "w:sectPr",
        "w:pPrChange",
    )


def _set_spacing(
    ppr: Any, *, line_twips: int | None, exact: bool = True, before: int = 0, after: int = 0
) -> None:
    spacing = ppr.get_or_add_spacing()
    for attr in list(spacing.attrib):
        del spacing.attrib[attr]
    spacing.set(_qn("w:before"), str(before))
    spacing.set(_qn("w:after"), str(after))
    if line_twips is None:  # single
        spacing.set(_qn("w:line"), "240")
        spacing.set(_qn("w:lineRule"), "auto")
    else:
        spacing.set(_qn("w:line"), str(line_twips))
        spacing.set(_qn("w:lineRule"), "exact" if exact else "atLeast")


def _style(doc: Any, name: str, *, base: str = "Normal", kind: str = "paragraph") -> Any:
    from docx.enum.style import WD_STYLE_TYPE

    try:
        return doc.styles[name]
    except KeyError:
        style_type = WD_STYLE_TYPE.PARAGRAPH if kind == "paragraph" else WD_STYLE_TYPE.CHARACTER
        style = doc.styles.add_style(name, style_type)
        style.base_style = doc.styles[base]
        style.quick_style = True
        return style


def _dress(
    style: Any, font: ResolvedFont, size_pt: float, *, bold: bool = False, condensed: bool = False
) -> None:
    """Font, size, weight and black colour for a style (and nothing left from the theme)."""
    from docx.shared import Pt

    rpr = style.element.get_or_add_rPr()
    _set_run_fonts(rpr, font.family)
    _remove(rpr, "w:kern", "w:i", "w:iCs")
    style.font.size = Pt(size_pt)
    style.font.bold = bold
    _remove(rpr, "w:bCs")
    sz_cs = rpr.find(_qn("w:szCs"))
    if sz_cs is None:
        sz_cs = rpr.find(_qn("w:sz"))
        from docx.oxml import OxmlElement

        new = OxmlElement("w:szCs")
        sz_cs.addnext(new)
        sz_cs = new
    sz_cs.set(_qn("w:val"), str(round(size_pt * 2)))
    _set_black(rpr)
    _set_condensed(rpr, CONDENSE_TWIPS if condensed else 0)  # 0: don't inherit Normal's


# -- the styled template --------------------------------------------------------------------


def _setup_styles(doc: Any, fonts: Mapping[str, ResolvedFont]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    # Document defaults: 仿宋 16 pt, Chinese language, no theme fonts.
    defaults = doc.styles.element.find(_qn("w:docDefaults"))
    rpr_default = defaults.find(_qn("w:rPrDefault")).find(_qn("w:rPr"))
    _set_run_fonts(rpr_default, fonts["fangsong"].family)
    for tag in ("w:sz", "w:szCs"):
        rpr_default.find(_qn(tag)).set(_qn("w:val"), str(round(BODY_PT * 2)))
    lang = rpr_default.find(_qn("w:lang"))
    lang.set(_qn("w:val"), "en-US")
    lang.set(_qn("w:eastAsia"), "zh-CN")
    ppr_default = defaults.find(_qn("w:pPrDefault")).find(_qn("w:pPr"))
    _set_spacing(ppr_default, line_twips=None)

    normal = doc.styles["Normal"]
    _dress(normal, fonts["fangsong"], BODY_PT, condensed=True)
    ppr = normal.element.get_or_add_pPr()
    _set_spacing(ppr, line_twips=LINE_TWIPS)
    _set_indent(ppr, first_chars=2)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    normal.paragraph_format.widow_control = True

    title = doc.styles["Title"]
    title_font = fonts["title"]
    _dress(title, title_font, TITLE_PT, bold=title_font.weight >= 600)
    ppr = title.element.get_or_add_pPr()
    _remove(ppr, "w:pBdr", "w:contextualSpacing")
    _set_spacing(ppr, line_twips=round(TITLE_PT * 1.5 * 20), after=LINE_TWIPS)
    _set_indent(ppr)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.keep_with_next = True

    for level, role, bold in ((1, "heiti", False), (2, "kaiti", False), (3, "fangsong", True)):
        heading = doc.styles[f"Heading {level}"]
        _dress(heading, fonts[role], BODY_PT, bold=bold, condensed=True)
        ppr = heading.element.get_or_add_pPr()
        _remove(ppr, "w:numPr")
        _set_spacing(ppr, line_twips=LINE_TWIPS)
        _set_indent(ppr, first_chars=2)
        heading.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        heading.paragraph_format.keep_with_next = True
        heading.paragraph_format.keep_together = True
        outline = ppr.get_or_add_outlineLvl()
        outline.val = level - 1
        linked = doc.styles[f"Heading {level} Char"]
        _dress(linked, fonts[role], BODY_PT, bold=bold)
    _dress(doc.styles["Title Char"], title_font, TITLE_PT, bold=title_font.weight >= 600)

    caption = doc.styles["Caption"]
    _dress(caption, fonts["heiti"], CAPTION_PT)
    ppr = caption.element.get_or_add_pPr()
    _set_spacing(ppr, line_twips=LINE_TWIPS)
    _set_indent(ppr)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.keep_with_next = True
    caption.hidden = False
    caption.unhide_when_used = False
    caption.quick_style = True

    table_text = _style(doc, "Table Text")
    _dress(table_text, fonts["fangsong"], SMALL_PT)
    ppr = table_text.element.get_or_add_pPr()
    _set_snap_to_grid(ppr, False)  # rows as tall as their text, not a 29 pt grid line
    _set_spacing(ppr, line_twips=None)
    _set_indent(ppr)
    table_text.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    table_heading = _style(doc, "Table Heading", base="Table Text")
    _dress(table_heading, fonts["heiti"], SMALL_PT)
    table_heading.paragraph_format.keep_with_next = True

    figure = _style(doc, "Figure")
    ppr = figure.element.get_or_add_pPr()
    _set_snap_to_grid(ppr, False)
    _set_spacing(ppr, line_twips=None)  # exact spacing would crop the picture
    _set_indent(ppr)
    figure.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    figure.paragraph_format.keep_with_next = True

    signature = _style(doc, "Signature")
    ppr = signature.element.get_or_add_pPr()
    _set_indent(ppr)
    signature.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    signature.paragraph_format.keep_together = True

    footer = doc.styles["Footer"]
    _dress(footer, fonts["songti"], PAGE_NUMBER_PT)
    ppr = footer.element.get_or_add_pPr()
    _remove(ppr, "w:tabs")
    _set_snap_to_grid(ppr, False)
    _set_spacing(ppr, line_twips=round(PAGE_NUMBER_LINE_PT * 20))
    _set_indent(ppr)


def _page_number_paragraph(paragraph: Any, *, odd: bool) -> None:
    """Page number "— N —" with a PAGE field: odd pages right, even pages left, one char in."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement

    paragraph.style = "Footer"
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    ppr = paragraph._p.get_or_add_pPr()
    ind = ppr.get_or_add_ind()
    side = "right" if odd else "left"
    ind.set(_qn(f"w:{side}Chars"), "100")  # 单页码居右空一字，双页码居左空一字
    ind.set(_qn(f"w:{side}"), str(round(PAGE_NUMBER_PT * 20)))

    paragraph.add_run("— ")
    for kind, text in (
        ("begin", None),
        ("instr", " PAGE "),
        ("separate", None),
        ("text", "1"),
        ("end", None),
    ):
        run = paragraph.add_run()
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            instr.text = text
            run._r.append(instr)
        elif kind == "text":
            run.text = text
        else:
            fld = OxmlElement("w:fldChar")
            fld.set(_qn("w:fldCharType"), kind)
            run._r.append(fld)
    paragraph.add_run(" —")


def _setup_section(doc: Any) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
    section.top_margin, section.bottom_margin = Mm(MARGIN_MM["top"]), Mm(MARGIN_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGIN_MM["left"]), Mm(MARGIN_MM["right"])
    section.gutter = Mm(0)
    section.header_distance = Mm(15)
    section.footer_distance = Mm(round(FOOTER_MM, 1))
    grid = section._sectPr.find(_qn("w:docGrid"))
    grid.set(_qn("w:type"), "lines")
    grid.set(_qn("w:linePitch"), str(LINE_TWIPS))

    doc.settings.odd_and_even_pages_header_footer = True
    section.different_first_page_header_footer = False
    footer = section.footer
    footer.is_linked_to_previous = False
    _page_number_paragraph(footer.paragraphs[0], odd=True)
    even = section.even_page_footer
    even.is_linked_to_previous = False
    _page_number_paragraph(even.paragraphs[0], odd=False)


@lru_cache(maxsize=8)
def _template(key: tuple[tuple[str, ResolvedFont], ...]) -> bytes:
    """The styled, empty document for one font set, saved once and reopened per report."""
    import docx

    doc = docx.Document()
    _setup_styles(doc, dict(key))
    _setup_section(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# -- blocks ---------------------------------------------------------------------------------


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
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
        text = _text(value)
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


class _Writer:
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
            self.paragraph(_text(block.get("text")), "Title")
        elif kind == "heading":
            level = min(max(int(block.get("level") or 1), 1), 3)
            self.paragraph(_text(block.get("text")), f"Heading {level}")
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
        lead = _text(block.get("lead"))
        if lead:
            paragraph.add_run(lead).bold = True
        paragraph.add_run(_text(block.get("text")))
        align = block.get("align")
        if align in ("center", "right"):
            paragraph.alignment = (
                WD_ALIGN_PARAGRAPH.CENTER if align == "center" else WD_ALIGN_PARAGRAPH.RIGHT
            )
            _set_indent(paragraph._p.get_or_add_pPr())

    def table(self, block: Block) -> None:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.oxml import OxmlElement, parse_xml
        from docx.shared import Twips

        columns = [_text(c) for c in block.get("columns") or []]
        rows = [list(r) for r in block.get("rows") or []]
        count = max([len(columns), *(len(r) for r in rows)])
        if count == 0:
            return
        if block.get("caption"):
            self.paragraph(_text(block["caption"]), "Caption")
        elif self.break_pending:  # a table cannot break before itself
            self.doc.add_page_break()
            self.break_pending = False
        widths = column_widths(columns, rows, round(TEXT_WIDTH_MM / 25.4 * 1440))
        table = self.doc.add_table(rows=0, cols=count)
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        tbl = table._tbl
        tblpr = tbl.tblPr
        _remove(tblpr, "w:tblW")
        tbl_w = OxmlElement("w:tblW")
        tbl_w.set(_qn("w:w"), str(sum(widths)))
        tbl_w.set(_qn("w:type"), "dxa")
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
        caption = _text(block.get("caption"))
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

        texts = [_text(t) for t in lines if _text(t)]
        if not texts:
            return
        body = self.doc.element.body
        previous = body[-2] if len(body) > 1 else None  # the element before w:sectPr
        if previous is not None and previous.tag == _qn("w:p"):
            previous.get_or_add_pPr().get_or_add_keepNext()  # Word brings its last lines along
        box = max(width_chars(t) for t in texts) + 1  # one spare character against wrapping
        paragraph = self.paragraph(style="Signature")
        for i, text in enumerate(texts):
            run = paragraph.add_run(text)
            if i < len(texts) - 1:
                run.add_break(WD_BREAK.LINE)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _set_indent(
            paragraph._p.get_or_add_pPr(),
            left_chars=max(CHARS_PER_LINE - 4 - box, 0),
            right_chars=4,
        )
        paragraph.paragraph_format.space_before = Twips(2 * LINE_TWIPS)
        paragraph.paragraph_format.keep_together = True


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
    doc = docx.Document(io.BytesIO(_template(tuple((r, resolved[r]) for r in ROLES))))
    writer = _Writer(doc)
    for block in blocks:
        writer.add(block)
    body = doc.element.body
    last = body[-2] if len(body) > 1 else None  # the element before w:sectPr
    if last is None or last.tag == _qn("w:tbl"):
        doc.add_paragraph()  # Word wants a paragraph after a closing table
    if title is None:
        title = next((_text(b.get("text")) for b in blocks if b.get("kind") == "title"), "")
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
)

__getattr__ = lazy_exporter(
    "ReportDOCXExporter",
    __name__,
    "`jupyter nbconvert --to reportkit_docx`: the editable Word report, without code.",
    "docx",
)
