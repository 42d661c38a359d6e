"""Header recognition: which row of a sheet is its header, and which contract sheet it fits.

A sheet is recognised by its header, not its name: the header may sit below title rows, span two
or three rows (参加人数 merged over 应到 and 实到) and use aliases. The sheet's name decides only
between contracts its header fits equally well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportkit.data.ingest.cells import CONTROL_CHARS, display
from reportkit.data.schema import SHEETS, Column, Sheet
from reportkit.data.text import normalize_name, normalize_value
from reportkit.errors import Issue

#: How far down a sheet the header row may be (title rows, notes, blank rows above it).
HEADER_SCAN_ROWS = 30
#: How many rows one header may span: a group row (参加人数 over 应到/实到) and one more.
HEADER_MAX_ROWS = 3
#: A merged range as calamine gives it: ((top row, left column), (bottom row, right column)).
Range = tuple[tuple[int, int], tuple[int, int]]


@dataclass
class Header:
    row: int  # index into the raw rows (Excel row - 1) of the last header row; data follow it
    fields: dict[int, Column]  # column index -> contract column
    unknown: dict[int, str]  # column index -> header text, normalised (a dataset column name)
    texts: dict[int, str]  # column index -> header text as written (trimmed), for messages
    top: int  # first header row: a header of two or three rows starts above `row`

    def found(self) -> set[str]:
        return {c.field for c in self.fields.values()}


def header_lookup(sheet: Sheet) -> dict[str, Column]:
    return {normalize_name(word): c for c in sheet.columns for word in (c.header, *c.aliases)}


def needed_fields(sheet: Sheet) -> set[str]:
    """Required fields a header must show; 单位 may be left out where the unit is inferred."""
    return {c.field for c in sheet.required if not (c.field == "unit" and sheet.unit_inferable)}


def _own_fields(sheet: Sheet) -> frozenset[str]:
    """Columns no other contract has (活动类型, 姓名, 成立日期 …), unlike 日期, 单位 or 党支部."""
    others = {
        normalize_name(word)
        for other in SHEETS
        if other is not sheet
        for c in other.columns
        for word in (c.header, *c.aliases)
    }
    return frozenset(c.field for c in sheet.columns if normalize_name(c.header) not in others)


_OWN_FIELDS = {sheet.table: _own_fields(sheet) for sheet in SHEETS}


def _qualifies(header: Header, sheet: Sheet, by_name: bool) -> bool:
    """A header matches a contract when it has the needed columns. Without the sheet's name to
    go by, it must also have a column of that contract's own: 单位 and 党支部 alone could be
    anything."""
    found = header.found()
    return (
        bool(found)
        and needed_fields(sheet) <= found
        and (by_name or bool(found & _OWN_FIELDS[sheet.table]))
    )


def _group_cells(rows: Sequence[list[Any]], merged: Sequence[Range]) -> dict[tuple[int, int], Any]:
    """Cells inside merged ranges near the top, holding the range's value: a group cell such as
    参加人数 merged over 应到 and 实到 names every column it spans."""
    limit = HEADER_SCAN_ROWS + HEADER_MAX_ROWS
    spread: dict[tuple[int, int], Any] = {}
    for (top, left), (bottom, right) in merged:
        if top >= limit or right <= left or top >= len(rows) or left >= len(rows[top]):
            continue
        value = rows[top][left]
        for r in range(top, min(bottom, limit) + 1):
            for c in range(left, right + 1):
                if (r, c) != (top, left):
                    spread[(r, c)] = value
    return spread


def _header_cells(
    rows: Sequence[list[Any]], groups: Mapping[tuple[int, int], Any], r: int
) -> dict[int, str]:
    """Column index -> header text (trimmed) of row r, group cells included."""
    row = rows[r] if r < len(rows) else []
    width = max([len(row), *(c + 1 for (gr, c) in groups if gr == r)])
    cells: dict[int, str] = {}
    for col in range(width):
        cell = groups.get((r, col), row[col] if col < len(row) else None)
        text = display(cell)
        if text:
            cells[col] = CONTROL_CHARS.sub("", cell).strip() if isinstance(cell, str) else text
    return cells


def _assemble(
    stack: Mapping[int, list[str]], row: int, top: int, lookup: Mapping[str, Column]
) -> Header:
    """A header from each column's stacked texts (参加人数 over 应到), resolved by the whole
    text first (党支部/名称 → 党支部名称), then by its lowest part (参加人数/应到 → 应到)."""
    fields: dict[int, Column] = {}
    unknown: dict[int, str] = {}
    texts: dict[int, str] = {}
    for col, parts in sorted(stack.items()):
        texts[col] = "/".join(parts)
        column = lookup.get(normalize_name("".join(parts))) or lookup.get(normalize_name(parts[-1]))
        if column is None:
            unknown[col] = normalize_value("/".join(display(p) for p in parts))
        else:
            fields[col] = column
    return Header(row, fields, unknown, texts, top)


def _header_at(
    rows: Sequence[list[Any]],
    groups: Mapping[tuple[int, int], Any],
    top: int,
    lookup: Mapping[str, Column],
) -> Header:
    """The header that starts at row `top`, with up to two rows of sub-headers below it.

    The first row must name a known column (日期 merged down over two rows, say). A row below
    continues the header when it holds only text, none of it under a header cell that already
    names a known column, and at least one of its cells then names one more known column. A
    data row has a date or a type under known columns, so it never continues one.
    """
    stack = {col: [text] for col, text in _header_cells(rows, groups, top).items()}
    header = _assemble(stack, top, top, lookup)
    if not header.fields:  # a title row, or groups alone: the header starts lower down
        return header
    for below in range(top + 1, min(top + HEADER_MAX_ROWS, len(rows))):
        cells = _header_cells(rows, groups, below)
        own = {c for c in cells if (below, c) not in groups}  # typed in this row, not merged
        if not own or any(not isinstance(rows[below][c], str) for c in own):
            break
        if own & set(header.fields):
            break
        grown = {c: list(p) for c, p in stack.items()}
        for col, text in cells.items():
            parts = grown.setdefault(col, [])
            if not parts or parts[-1] != text:
                parts.append(text)
        candidate = _assemble(grown, below, top, lookup)
        if not candidate.found() - header.found():
            break
        stack, header = grown, candidate
    return header


def classify(
    rows: Sequence[list[Any]],
    merged: Sequence[Range],
    lookups: Mapping[str, Mapping[str, Column]],
    named: Sheet | None,
) -> tuple[Sheet, Header] | tuple[None, list[Sheet]] | None:
    """Which contract a sheet holds, and its header: the contract its name says when the header
    fits it, else the one its header matches best. Returns (None, tied sheets) when a header
    matches two contracts equally well, and None when it matches none."""
    groups = _group_cells(rows, merged)
    if named is not None:
        found = _first_match(rows, groups, lookups, [named], by_name=True)
        if found is not None:
            return found
    others = [sheet for sheet in SHEETS if sheet is not named]
    return _first_match(rows, groups, lookups, others, by_name=False)


def _first_match(
    rows: Sequence[list[Any]],
    groups: Mapping[tuple[int, int], Any],
    lookups: Mapping[str, Mapping[str, Column]],
    sheets: Sequence[Sheet],
    by_name: bool,
) -> tuple[Sheet, Header] | tuple[None, list[Sheet]] | None:
    """The first row (within HEADER_SCAN_ROWS) that is a header of one of `sheets`."""
    for top in range(min(len(rows), HEADER_SCAN_ROWS)):
        matches: list[tuple[int, Sheet, Header]] = []
        for sheet in sheets:
            header = _header_at(rows, groups, top, lookups[sheet.table])
            if _qualifies(header, sheet, by_name):
                matches.append((len(header.found()), sheet, header))
        if not matches:
            continue
        best = max(score for score, _, _ in matches)
        tied = [(sheet, header) for score, sheet, header in matches if score == best]
        if len(tied) > 1:
            return None, [sheet for sheet, _ in tied]
        return tied[0]
    return None


def _missing_columns(
    rows: Sequence[list[Any]], sheet: Sheet, lookup: Mapping[str, Column]
) -> tuple[int, list[Column]] | None:
    """For a sheet named as a contract whose header was not found: the row most like its header
    and the needed columns it lacks; None when no row holds any of them."""
    needed = needed_fields(sheet)
    best: tuple[int, int, int, list[Column]] | None = None  # (score, known, row, missing)
    for index in range(min(len(rows), HEADER_SCAN_ROWS)):
        found = _header_at(rows, {}, index, lookup).found()
        score = len(needed & found)
        if score and (best is None or (score, len(found)) > (best[0], best[1])):
            missing = [c for c in sheet.required if c.field in needed - found]
            best = (score, len(found), index, missing)
    return (best[2], best[3]) if best else None


def missing_header_issue(
    label: str, name: str, sheet: Sheet, rows: Sequence[list[Any]], lookup: Mapping[str, Column]
) -> Issue:
    """For a sheet named as a contract whose header is not there: what is missing, and where
    the row most like a header is."""
    names = "、".join(f"「{c.header}」" for c in sheet.required if c.field in needed_fields(sheet))
    candidate = _missing_columns(rows, sheet, lookup)
    if candidate is None:
        message = f"前 {HEADER_SCAN_ROWS} 行中找不到表头行：表头应包含必填列 {names}"
        return Issue(label, name, None, None, None, message)
    row, missing = candidate
    lacking = "、".join(f"「{c.header}」" for c in missing)
    message = f"表头缺少必填列 {lacking}（第 {row + 1} 行最像表头；必填列为 {names}）"
    return Issue(label, name, row + 1, None, None, message)
