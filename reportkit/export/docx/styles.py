"""The styled empty document: the GB/T 9704 page, Word styles by role with the fonts resolved
on this machine, and odd/even page-number footers; built once per font set, reused from bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from reportkit.export import (
    BODY_PT,
    CAPTION_PT,
    MARGIN_MM,
    PAGE_MM,
    PAGE_NUMBER_GAP_MM,
    PAGE_NUMBER_PT,
    SMALL_PT,
    TEXT_HEIGHT_MM,
    TEXT_WIDTH_MM,
    TITLE_PT,
)
from reportkit.export.docx.oxml import (
    LINE_TWIPS,
    qn,
    remove_children,
    set_black,
    set_condensed,
    set_indent,
    set_run_fonts,
    set_snap_to_grid,
    set_spacing,
)
from reportkit.render.fonts import ResolvedFont

# 28 characters in 156 mm: body text is condensed by a quarter point (w:spacing, in twips).
# A docGrid character grid would say the same to Word, but LibreOffice and WPS read its
# charSpace differently (17 characters a line); condensed spacing reads the same everywhere.
CONDENSE_TWIPS = math.floor((TEXT_WIDTH_MM * 72 / 25.4 / 28 - BODY_PT) * 20) - 1  # -5
PAGE_NUMBER_LINE_PT = 16.0
# Footer distance (page bottom to the footer line's bottom) that puts the em dashes about 7 mm
# below the text area; the dash sits near the middle of the 16 pt line.
FOOTER_MM = MARGIN_MM["bottom"] - PAGE_NUMBER_GAP_MM - PAGE_NUMBER_LINE_PT * 25.4 / 72 / 2
FIGURE_MAX_HEIGHT_MM = TEXT_HEIGHT_MM * 0.6


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
    set_run_fonts(rpr, font.family)
    remove_children(rpr, "w:kern", "w:i", "w:iCs")
    style.font.size = Pt(size_pt)
    style.font.bold = bold
    remove_children(rpr, "w:bCs")
    sz_cs = rpr.find(qn("w:szCs"))
    if sz_cs is None:
        sz_cs = rpr.find(qn("w:sz"))
        from docx.oxml import OxmlElement

        new = OxmlElement("w:szCs")
        sz_cs.addnext(new)
        sz_cs = new
    sz_cs.set(qn("w:val"), str(round(size_pt * 2)))
    set_black(rpr)
    set_condensed(rpr, CONDENSE_TWIPS if condensed else 0)  # 0: don't inherit Normal's


def _setup_styles(doc: Any, fonts: Mapping[str, ResolvedFont]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    # Document defaults: 仿宋 16 pt, Chinese language, no theme fonts.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    set_run_fonts(rpr_default, fonts["fangsong"].family)
    for tag in ("w:sz", "w:szCs"):
        rpr_default.find(qn(tag)).set(qn("w:val"), str(round(BODY_PT * 2)))
    lang = rpr_default.find(qn("w:lang"))
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    ppr_default = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr"))
    set_spacing(ppr_default, line_twips=None)

    normal = doc.styles["Normal"]
    _dress(normal, fonts["fangsong"], BODY_PT, condensed=True)
    ppr = normal.element.get_or_add_pPr()
    set_spacing(ppr, line_twips=LINE_TWIPS)
    set_indent(ppr, first_chars=2)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    normal.paragraph_format.widow_control = True

    title = doc.styles["Title"]
    title_font = fonts["title"]
    _dress(title, title_font, TITLE_PT, bold=title_font.weight >= 600)
    ppr = title.element.get_or_add_pPr()
    remove_children(ppr, "w:pBdr", "w:contextualSpacing")
    set_spacing(ppr, line_twips=round(TITLE_PT * 1.5 * 20), after=LINE_TWIPS)
    set_indent(ppr)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.keep_with_next = True

    for level, role, bold in ((1, "heiti", False), (2, "kaiti", False), (3, "fangsong", True)):
        heading = doc.styles[f"Heading {level}"]
        _dress(heading, fonts[role], BODY_PT, bold=bold, condensed=True)
        ppr = heading.element.get_or_add_pPr()
        remove_children(ppr, "w:numPr")
        set_spacing(ppr, line_twips=LINE_TWIPS)
        set_indent(ppr, first_chars=2)
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
    set_spacing(ppr, line_twips=LINE_TWIPS)
    set_indent(ppr)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.keep_with_next = True
    caption.hidden = False
    caption.unhide_when_used = False
    caption.quick_style = True

    table_text = _style(doc, "Table Text")
    _dress(table_text, fonts["fangsong"], SMALL_PT)
    ppr = table_text.element.get_or_add_pPr()
    set_snap_to_grid(ppr, False)  # rows as tall as their text, not a 29 pt grid line
    set_spacing(ppr, line_twips=None)
    set_indent(ppr)
    table_text.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    table_heading = _style(doc, "Table Heading", base="Table Text")
    _dress(table_heading, fonts["heiti"], SMALL_PT)
    table_heading.paragraph_format.keep_with_next = True

    figure = _style(doc, "Figure")
    ppr = figure.element.get_or_add_pPr()
    set_snap_to_grid(ppr, False)
    set_spacing(ppr, line_twips=None)  # exact spacing would crop the picture
    set_indent(ppr)
    figure.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    figure.paragraph_format.keep_with_next = True

    signature = _style(doc, "Signature")
    ppr = signature.element.get_or_add_pPr()
    set_indent(ppr)
    signature.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    signature.paragraph_format.keep_together = True

    footer = doc.styles["Footer"]
    _dress(footer, fonts["songti"], PAGE_NUMBER_PT)
    ppr = footer.element.get_or_add_pPr()
    remove_children(ppr, "w:tabs")
    set_snap_to_grid(ppr, False)
    set_spacing(ppr, line_twips=round(PAGE_NUMBER_LINE_PT * 20))
    set_indent(ppr)


def _page_number_paragraph(paragraph: Any, *, odd: bool) -> None:
    """Page number "— N —" with a PAGE field: odd pages right, even pages left, one char in."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement

    paragraph.style = "Footer"
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    ppr = paragraph._p.get_or_add_pPr()
    ind = ppr.get_or_add_ind()
    side = "right" if odd else "left"
    ind.set(qn(f"w:{side}Chars"), "100")  # 单页码居右空一字，双页码居左空一字
    ind.set(qn(f"w:{side}"), str(round(PAGE_NUMBER_PT * 20)))

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
            fld.set(qn("w:fldCharType"), kind)
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
    grid = section._sectPr.find(qn("w:docGrid"))
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_TWIPS))

    doc.settings.odd_and_even_pages_header_footer = True
    section.different_first_page_header_footer = False
    footer = section.footer
    footer.is_linked_to_previous = False
    _page_number_paragraph(footer.paragraphs[0], odd=True)
    even = section.even_page_footer
    even.is_linked_to_previous = False
    _page_number_paragraph(even.paragraphs[0], odd=False)


@lru_cache(maxsize=8)
def styled_template(key: tuple[tuple[str, ResolvedFont], ...]) -> bytes:
    """The styled, empty document for one font set, saved once and reopened per report."""
    import docx

    doc = docx.Document()
    _setup_styles(doc, dict(key))
    _setup_section(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
