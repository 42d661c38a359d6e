"""OOXML details python-docx has no API for: run fonts per script, colour, condensing, indents,
grid snapping and spacing, each set where Word's schema wants it."""

from __future__ import annotations

import math
from typing import Any

from reportkit.export import (
    CHAR_PT,
    LINE_PT,
)

# Word measures in twentieths of a point. The line pitch is rounded down so 22 lines fit.
LINE_TWIPS = math.floor(LINE_PT * 20)  # 579, as official templates use
CHAR_TWIPS = round(CHAR_PT * 20)


_THEME_FONT_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")
_FONT_ATTRS = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")


def qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return qn(tag)


def set_run_fonts(rpr: Any, family: str) -> None:
    """Name `family` for every script and drop theme fonts (which would win over names)."""
    rfonts = rpr.get_or_add_rFonts()
    for attr in _THEME_FONT_ATTRS:
        rfonts.attrib.pop(qn(attr), None)
    for attr in _FONT_ATTRS:
        rfonts.set(qn(attr), family)


#: The order of CT_RPr's children (ECMA-376): Word rejects run properties out of this order, so
#: a new child is inserted before the first of the children that must follow it.
_RPR_ORDER = (
    "w:color", "w:spacing", "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight",
    "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em",
    "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath",
)  # fmt: skip


def _rpr_successors(tag: str) -> tuple[str, ...]:
    return _RPR_ORDER[_RPR_ORDER.index(tag) + 1 :]


def set_black(rpr: Any) -> None:
    from docx.oxml import OxmlElement

    for color in rpr.findall(qn("w:color")):
        rpr.remove(color)
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "000000")
    rpr.insert_element_before(color, *_rpr_successors("w:color"))


def set_condensed(rpr: Any, twips: int) -> None:
    """Character spacing (negative: condensed) in twips."""
    from docx.oxml import OxmlElement

    remove_children(rpr, "w:spacing")
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), str(twips))
    rpr.insert_element_before(spacing, *_rpr_successors("w:spacing"))


def remove_children(parent: Any, *tags: str) -> None:
    for tag in tags:
        for child in parent.findall(qn(tag)):
            parent.remove(child)


def set_indent(
    ppr: Any, *, first_chars: float = 0, left_chars: float = 0, right_chars: float = 0
) -> None:
    """Indents in characters (w:*Chars, which Word prefers) and in twips for other readers."""
    ind = ppr.get_or_add_ind()
    for attr in list(ind.attrib):
        del ind.attrib[attr]
    ind.set(qn("w:firstLineChars"), str(round(first_chars * 100)))
    ind.set(qn("w:firstLine"), str(round(first_chars * CHAR_TWIPS)))
    if left_chars:
        ind.set(qn("w:leftChars"), str(round(left_chars * 100)))
        ind.set(qn("w:left"), str(round(left_chars * CHAR_TWIPS)))
    if right_chars:
        ind.set(qn("w:rightChars"), str(round(right_chars * 100)))
        ind.set(qn("w:right"), str(round(right_chars * CHAR_TWIPS)))


def set_snap_to_grid(ppr: Any, snap: bool) -> None:
    from docx.oxml import OxmlElement

    remove_children(ppr, "w:snapToGrid")
    element = OxmlElement("w:snapToGrid")
    element.set(qn("w:val"), "1" if snap else "0")
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


def set_spacing(
    ppr: Any, *, line_twips: int | None, exact: bool = True, before: int = 0, after: int = 0
) -> None:
    spacing = ppr.get_or_add_spacing()
    for attr in list(spacing.attrib):
        del spacing.attrib[attr]
    spacing.set(qn("w:before"), str(before))
    spacing.set(qn("w:after"), str(after))
    if line_twips is None:  # single
        spacing.set(qn("w:line"), "240")
        spacing.set(qn("w:lineRule"), "auto")
    else:
        spacing.set(qn("w:line"), str(line_twips))
        spacing.set(qn("w:lineRule"), "exact" if exact else "atLeast")
