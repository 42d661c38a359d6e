"""One sheet, once its header is known: every cell parsed into a table, every bad cell an Issue.

This reader knows column kinds, not what the columns mean: rules about the meaning of a row
(实到 within 应到 …) are registered per table in reportkit.data.ingest.rules and run here on
the parsed rows. Values are parsed once per distinct value (pandas.factorize), so 200,000 rows
cost about as much as the few thousand distinct dates, types and counts they contain; Issues
are built only for bad cells.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reportkit.data.ingest.cells import (
    MAX_CELL_CHARS,
    NAT,
    Parsed,
    clip,
    column_letter,
    display,
    excel_error_mask,
    excel_error_message,
    too_long,
)
from reportkit.data.ingest.files import UNCACHED_FORMULA
from reportkit.data.ingest.header import Header, Range
from reportkit.data.ingest.rules import ROW_RULES
from reportkit.data.ingest.tables import (
    PERSONAL_TABLES,
    PROVENANCE,
    dtype_for,
    empty_table,
    factorize,
    missing_column,
    str_column,
)
from reportkit.data.schema import Column, Kind, Sheet
from reportkit.errors import Issue


@dataclass
class SheetResult:
    frame: pd.DataFrame | None
    issues: list[tuple[int, int, Issue]]  # (row, column index) sort key and the issue


@dataclass
class _SheetIssues:
    """Collects one sheet's issues, each with its (Excel row, column index) sort key."""

    file: str
    sheet: str
    found: list[tuple[int, int, Issue]] = field(default_factory=list)

    def __call__(
        self,
        row: int | None,
        col: int,
        column: str | None,
        value: str | None,
        message: str,
        severity: str = "error",
    ) -> None:
        excel_row = None if row is None else row + 1
        cell = f"{column_letter(col)}{excel_row}" if column and excel_row else None
        issue = Issue(
            self.file, self.sheet, excel_row, clip(column), clip(value), message, severity, cell
        )
        self.found.append((excel_row or 0, col, issue))


@dataclass
class _Body:
    """The data rows below the header, factorised column by column; blank rows left out."""

    codes: dict[int, np.ndarray]  # column index -> code of each kept row
    uniques: dict[int, np.ndarray]  # column index -> distinct raw values
    texts: dict[int, np.ndarray]  # column index -> display text of each distinct value
    excel_rows: np.ndarray  # Excel row number of each kept row

    @classmethod
    def of(cls, body: list[list[Any]], width: int, first_row: int, non_blank: Collection) -> _Body:
        """`first_row` is the raw index of body[0]; rows in `non_blank` are kept even if blank."""
        grid = np.empty((len(body), width), dtype=object)
        grid[:] = body
        codes: dict[int, np.ndarray] = {}
        uniques: dict[int, np.ndarray] = {}
        texts: dict[int, np.ndarray] = {}
        blank = np.ones(len(body), dtype=bool)
        for col in range(width):
            col_codes, col_uniques = factorize(grid[:, col])
            col_texts = np.array([display(u) for u in col_uniques], dtype=object)
            codes[col], uniques[col], texts[col] = col_codes, col_uniques, col_texts
            blank &= (col_texts == "")[col_codes]
        for r in non_blank:
            if 0 <= r - first_row < len(body):
                blank[r - first_row] = False
        keep = ~blank
        excel_rows = np.arange(first_row + 1, first_row + 1 + len(body), dtype=np.int64)[keep]
        return cls({c: codes[c][keep] for c in codes}, uniques, texts, excel_rows)

    def __len__(self) -> int:
        return len(self.excel_rows)


def read_sheet(
    label: str,
    name: str,
    sheet: Sheet,
    header: Header,
    rows: list[list[Any]],
    error_cells: list[tuple[int, int, str]],
    merged: Sequence[Range],
    parsers: Mapping[Kind, Callable[[Any], Parsed]],
) -> SheetResult:
    """The table of one sheet and its issues; the frame keeps private columns (see tables)."""
    issue = _SheetIssues(label, name)
    by_field = _check_header(header, sheet, issue)
    error_at = {(r, c): code for r, c, code in error_cells}
    _error_cell_issues(error_at, header, issue)
    body = rows[header.row + 1 :]
    if not body:
        return SheetResult(empty_table(sheet, keep_private=True).iloc[0:0], issue.found)
    width = max((len(r) for r in rows), default=0)
    non_blank = [r for r, _ in error_at if r > header.row]  # an error cell makes its row count
    data_rows = _Body.of(body, width, header.row + 1, non_blank)
    silent = set(error_at) | _merged_issues(merged, header, data_rows.excel_rows, issue)
    personal = sheet.table in PERSONAL_TABLES
    _headerless_columns(header, data_rows, width, personal, issue)

    data: dict[str, Any] = {}
    for column in sheet.columns:
        col = by_field.get(column.field)
        if col is None:
            data[column.field] = missing_column(column.kind, len(data_rows))
            continue
        parse = parsers.get(column.kind)
        data[column.field] = _parse_column(
            column, header.texts[col], col, data_rows, parse, silent, issue
        )
    if not personal:
        data.update(_unknown_columns(header, data_rows, set(data), issue))
    frame = pd.DataFrame(data)
    frame["_file"] = pd.Series([label] * len(data_rows), dtype="str")
    frame["_sheet"] = pd.Series([name] * len(data_rows), dtype="str")
    frame["_row"] = data_rows.excel_rows

    for rule in ROW_RULES.get(sheet.table, ()):
        for at, field_name, value, message in rule(frame):
            col = by_field.get(field_name, 0)
            issue(int(data_rows.excel_rows[at]) - 1, col, header.texts.get(col), value, message)
    return SheetResult(frame, issue.found)


def _check_header(header: Header, sheet: Sheet, issue: _SheetIssues) -> dict[str, int]:
    """Column index of each contract field; two columns for one field and unknown columns are
    reported."""
    by_field: dict[str, int] = {}
    for col, column in sorted(header.fields.items()):
        if column.field in by_field:
            first = header.texts[by_field[column.field]]
            issue(
                header.row,
                col,
                header.texts[col],
                header.texts[col],
                f"与「{first}」列都对应「{column.header}」，请删除或改名其中一列",
            )
        else:
            by_field[column.field] = col
    personal = sheet.table in PERSONAL_TABLES
    for col in header.unknown:
        issue(
            header.row,
            col,
            header.texts[col],
            None,
            "未知的列，已忽略（名册和奖惩记录只保留已知列，以免带入个人信息）"
            if personal
            else "未知的列，已保留，但不参与统计",
            "warning",
        )
    return by_field


def _error_cell_issues(
    error_at: Mapping[tuple[int, int], str], header: Header, issue: _SheetIssues
) -> None:
    """Excel error values and uncalculated formulas, which calamine reads as blank."""
    for (r, c), code in sorted(error_at.items()):
        column_name = header.texts.get(c) if r > header.row else None
        uncached = code.startswith("=")  # a title above the header is no data: a warning
        issue(
            r,
            c,
            column_name or f"{column_letter(c)} 列",
            code,
            UNCACHED_FORMULA if uncached else excel_error_message(code),
            "warning" if uncached and r <= header.row else "error",
        )


def _headerless_columns(
    header: Header, rows: _Body, width: int, personal: bool, issue: _SheetIssues
) -> None:
    """A warning for each column that has data but no header (its first value, unless the
    table describes people)."""
    for col in range(width):
        if col in header.texts:
            continue
        has_data = (rows.texts[col] != "")[rows.codes[col]]
        if has_data.any():
            at = int(np.flatnonzero(has_data)[0])
            issue(
                int(rows.excel_rows[at]) - 1,
                col,
                f"{column_letter(col)} 列",
                None if personal else str(rows.texts[col][rows.codes[col][at]]),
                "该列有数据但没有表头，已忽略",
                "warning",
            )


def _unknown_columns(
    header: Header, rows: _Body, used: set[str], issue: _SheetIssues
) -> dict[str, pd.Series]:
    """Columns no contract knows, kept as text under their header (made unique)."""
    data: dict[str, pd.Series] = {}
    for col, text in header.unknown.items():
        key = text if text not in used and text not in PROVENANCE else f"{text}_{col}"
        used.add(key)
        distinct, codes = rows.texts[col], rows.codes[col]
        for at in np.flatnonzero(excel_error_mask(distinct)[codes]):
            code = distinct[codes[at]]
            issue(
                int(rows.excel_rows[at]) - 1,
                col,
                header.texts[col],
                code,
                excel_error_message(code),
            )
        data[key] = str_column([t or None for t in distinct], codes)
    return data


def _merged_issues(
    merged: Sequence[Range],
    header: Header,
    excel_rows: np.ndarray,
    issue: _SheetIssues,
) -> set[tuple[int, int]]:
    """One error per merged range that spans data cells of known columns.

    Excel keeps a merged range's value in its top-left cell only, so every other cell reads
    as blank: the rows below would silently lose their date, unit or type. Returns the
    (row, column) indexes covered, so that they are not also reported as blank one by one.
    """
    kept = {int(r) - 1 for r in excel_rows}  # raw row indexes of non-blank data rows
    covered: set[tuple[int, int]] = set()
    for (top, left), (bottom, right) in sorted(merged):
        cells = [
            (r, c)
            for r in range(max(top, header.row + 1), bottom + 1)
            for c in range(left, right + 1)
            if (r, c) != (top, left) and r in kept and c in header.fields
        ]
        if not cells:
            continue
        covered.update(cells)
        row, col = cells[0]
        ref = f"{column_letter(left)}{top + 1}:{column_letter(right)}{bottom + 1}"
        across = "多行" if bottom > top else "多列"
        issue(
            row,
            col,
            header.texts[col],
            None,
            f"合并单元格 {ref} 跨越{across}数据：合并后只有左上角单元格有值，"
            "其余单元格读作空白。请取消合并，并在每一行填写",
        )
    return covered


def _parse_column(
    column: Column,
    header_text: str,
    col: int,
    rows: _Body,
    parse: Callable[[Any], Parsed] | None,
    silent: Collection[tuple[int, int]],
    issue: _SheetIssues,
) -> pd.Series:
    """Parse one column per distinct value; report each bad or missing required cell.

    `parse` is None for Kind.TEXT: a text value is its display text.
    """
    codes, uniques, texts = rows.codes[col], rows.uniques[col], rows.texts[col]
    values, messages = _parse_distinct(uniques, texts, parse)
    bad_unique = np.not_equal(messages, None)
    for at in np.flatnonzero(bad_unique[codes]):
        row = int(rows.excel_rows[at]) - 1
        issue(row, col, header_text, str(texts[codes[at]]), messages[codes[at]])
    if column.required:
        for at in np.flatnonzero((texts == "")[codes]):
            row = int(rows.excel_rows[at]) - 1
            if (row, col) not in silent:  # already named as an error value or a merge
                issue(row, col, header_text, None, f"必填项「{column.header}」为空")
    return _column_series(column.kind, values, codes)


def _parse_distinct(
    uniques: np.ndarray, texts: np.ndarray, parse: Callable[[Any], Parsed] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The value and the message (None when good) of each distinct cell value."""
    size = len(uniques)
    messages = np.full(size, None, dtype=object)
    is_error = excel_error_mask(texts)
    for i in np.flatnonzero(is_error):
        messages[i] = excel_error_message(texts[i])
    todo = (texts != "") & ~is_error
    if parse is None:
        # A text value is its display text, which the caller already made once per distinct
        # value: only the length limit is left to check, without a Python call per value.
        values = np.where(todo, texts, None)
        lengths = np.fromiter(map(len, texts), np.int64, size)
        for i in np.flatnonzero(todo & (lengths > MAX_CELL_CHARS)):
            values[i], messages[i] = None, too_long(texts[i])
    else:
        values = np.full(size, None, dtype=object)
        for i in np.flatnonzero(todo):
            values[i], messages[i] = parse(uniques[i])
    return values, messages


def _column_series(kind: Kind, values: np.ndarray, codes: np.ndarray) -> pd.Series:
    """The column of a table from each distinct value and each row's code."""
    dtype = dtype_for(kind)
    if kind == Kind.DATE:
        table = np.array([NAT if v is None else v for v in values], dtype="datetime64[ns]")
        return pd.Series(
            table[codes] if len(values) else np.array([], "datetime64[ns]"), dtype=dtype
        )
    if kind in (Kind.COUNT, Kind.NUMBER):
        table = np.array([np.nan if v is None else v for v in values], dtype="float64")
        floats = table[codes] if len(values) else np.array([], "float64")
        return pd.Series(floats).astype(dtype)
    return str_column(values, codes)
