"""The one table rule of every format (HTML, PDF, DOCX): which columns hold text, and how wide
each column is, in 12 pt characters. The HTML template reads it through its Jinja globals, the
exporters through reportkit.export, so the rule is written (and computed) once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TEXT_COLUMN_CHARS = 12  # a table column with longer cells holds text: left-aligned
TABLE_CHARS = 36  # 12 pt characters across the 156 mm text area


def width_chars(text: str) -> float:
    """Width in body characters: ASCII letters and digits are half-width."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def text_columns(rows: Sequence[Sequence[Any]]) -> set[int]:
    """Columns holding long text (topics), left-aligned."""
    found: set[int] = set()
    for row in rows:
        for i, value in enumerate(row):
            if value is not None and len(str(value)) > TEXT_COLUMN_CHARS:
                found.add(i)
    return found


def column_units(columns: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[float]:
    """Each column's width in 12 pt characters, by content: short columns stay narrow and
    topics get room.

    The widest body cell (ASCII counts half; 2 to 24) or half the header (headers may wrap),
    plus 1.5 for padding. When they add up to more than the 36 that fit, columns wider than 8
    give up the excess in proportion, and if that is not enough every column shrinks towards
    3.5 (two characters and padding), so no column ends up one character wide.
    """
    count = max([len(columns), *(len(r) for r in rows)])
    need = [2.0] * count
    for i, header in enumerate(columns):
        if header is not None:
            need[i] = max(need[i], min(math.ceil(width_chars(str(header)) / 2), 24))
    for row in rows:
        for i, value in enumerate(row):
            if value is not None:
                need[i] = max(need[i], min(width_chars(str(value)), 24))
    units = [n + 1.5 for n in need]
    excess = sum(units) - TABLE_CHARS
    flex = sum(u - 8 for u in units if u > 8)
    if excess > 0 and flex > 0:
        units = [max(u - excess * (u - 8) / flex, 8) if u > 8 else u for u in units]
    floor = 3.5 * len(units)
    total = sum(units)
    if total > TABLE_CHARS and floor < TABLE_CHARS:  # shrink towards two characters each
        units = [3.5 + (u - 3.5) * (TABLE_CHARS - floor) / (total - floor) for u in units]
    return units
