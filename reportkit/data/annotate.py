"""`validate --annotate`: a copy of each workbook with its problems marked where they are typed.

A terminal list of 500 rows is hard to work through; the analyst fixes cells in Excel. The copy
`<name>.校验.xlsx` has every bad cell filled red (warnings yellow) with the message as a cell
comment, and a first sheet 校验结果 listing every issue with a link to its cell. The original is
only read. A .xls or .ods workbook is copied as .xlsx (openpyxl writes no other format), with
its cell values but not its formatting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from reportkit import layout
from reportkit.data.sources import ANNOTATED_SUFFIX
from reportkit.data.workbook_template import safe_cell_value
from reportkit.errors import SEVERITY_LABELS, Issue

#: Fills for cells with an error and cells with only warnings (Excel's "bad" and "neutral").
RED = "FFFFC7CE"
YELLOW = "FFFFEB9C"
SUMMARY_SHEET = "校验结果"
SUMMARY_HEADER = ("序号", "级别", "工作表", "单元格", "行", "列", "值", "问题")
_WIDTHS = (6, 6, 14, 8, 6, 14, 24, 80)
_OPENPYXL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Annotated:
    """What --annotate did for one workbook: the copy written (or None) and a line to show."""

    source: Path
    target: Path | None
    message: str


def annotate_workbooks(
    files: Sequence[Path], issues: Sequence[Issue], out_dir: Path
) -> list[Annotated]:
    """Write `<name>.校验.xlsx` into out_dir for each file with errors or warnings.

    A workbook that is now clean has its earlier copy removed, so a stale copy never shows
    problems that were fixed.
    """
    by_file: dict[str, list[Issue]] = defaultdict(list)
    for issue in issues:
        if issue.severity in ("error", "warning"):
            by_file[issue.file].append(issue)
    inputs = {p.resolve() for p in files}
    taken: set[str] = set()
    done: list[Annotated] = []
    for source in files:
        target = out_dir / _copy_name(source, taken)
        found = by_file.get(str(source))
        if target.resolve() in inputs:  # never overwrite a workbook being checked
            done.append(Annotated(source, None, f"未生成标注副本：{target} 是输入文件之一"))
        elif not found:
            if target.exists():
                target.unlink()
                done.append(Annotated(source, None, f"{source} 已无问题，已删除旧的标注副本"))
        else:
            done.append(annotate_workbook(source, found, target))
    return done


def annotate_workbook(source: Path, issues: Sequence[Issue], target: Path) -> Annotated:
    """Mark `issues` (all about `source`) in a copy of `source` written to `target`."""
    try:
        book, converted = _open_copy(source)
    except Exception as exc:  # noqa: BLE001 - the issues already say why it cannot be read
        reason = type(exc).__name__
        return Annotated(source, None, f"未生成标注副本：{source} 无法用 openpyxl 打开（{reason}）")
    _mark_cells(book, issues)
    _add_summary(book, issues)
    layout.write_atomically(target, book.save)
    errors = sum(1 for i in issues if i.severity == "error")
    text = f"已生成标注副本：{target}（错误 {errors} 处，警告 {len(issues) - errors} 处）"
    if converted:
        text += f"；原文件为 {source.suffix.lower()} 格式，副本另存为 .xlsx，只保留单元格内容"
    return Annotated(source, target, text)


def _copy_name(source: Path, taken: set[str]) -> str:
    """`<stem>.校验.xlsx`, with -2, -3 … when two inputs share a stem."""
    name, n = f"{source.stem}{ANNOTATED_SUFFIX}", 1
    while name in taken:
        n += 1
        name = f"{source.stem}-{n}{ANNOTATED_SUFFIX}"
    taken.add(name)
    return name


def _open_copy(source: Path) -> tuple[Workbook, bool]:
    """The workbook to mark, and whether it was converted from a format openpyxl cannot read."""
    if source.suffix.lower() in _OPENPYXL_SUFFIXES:
        return load_workbook(source, rich_text=True), False
    import python_calamine as calamine

    book = Workbook()
    book.remove(book.active)
    original = calamine.CalamineWorkbook.from_path(str(source))
    try:
        for name in original.sheet_names:
            sheet = book.create_sheet(name)
            rows = original.get_sheet_by_name(name).to_python(skip_empty_area=False)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row, start=1):
                    if value not in ("", None):
                        safe_cell_value(sheet.cell(r, c), _cleaned(value))
    finally:
        original.close()
    return book, True


def _cleaned(value: Any) -> Any:
    """Text without the control characters openpyxl refuses to write."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _label(issue: Issue) -> str:
    return SEVERITY_LABELS.get(issue.severity, issue.severity)


def _mark_cells(book: Workbook, issues: Sequence[Issue]) -> None:
    """Fill each named cell and give it a comment with every message about it."""
    at: dict[tuple[str, str], list[Issue]] = defaultdict(list)
    for issue in issues:
        if issue.cell and issue.sheet in book.sheetnames:
            at[(issue.sheet, issue.cell)].append(issue)
    for (sheet, ref), found in at.items():
        cell = _anchor(book[sheet], ref)
        is_error = any(i.severity == "error" for i in found)
        cell.fill = PatternFill("solid", fgColor=RED if is_error else YELLOW)
        text = "\n".join(f"{_label(i)}：{i.message}" for i in found)
        if cell.comment is not None:
            text += f"\n\n原批注：{cell.comment.text}"
        cell.comment = Comment(text, "reportkit", width=320, height=120)


def _anchor(sheet: Worksheet, ref: str) -> Cell:
    """The cell to mark: a cell inside a merged range is marked at the range's top-left cell."""
    cell = sheet[ref]
    if isinstance(cell, MergedCell):
        merged = next(r for r in sheet.merged_cells.ranges if ref in r)
        cell = sheet.cell(merged.min_row, merged.min_col)
    return cell


def _add_summary(book: Workbook, issues: Sequence[Issue]) -> None:
    """A first sheet listing every issue; its 单元格 column links to the cell."""
    name, n = SUMMARY_SHEET, 1
    while name in book.sheetnames:
        n += 1
        name = f"{SUMMARY_SHEET}{n}"
    sheet = book.create_sheet(name, 0)
    sheet.append(SUMMARY_HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, issue in enumerate(issues, start=1):
        row = number + 1
        values = (
            number,
            _label(issue),
            issue.sheet,
            issue.cell,
            issue.row,
            issue.column,
            issue.value,
            issue.message,
        )
        for col, value in enumerate(values, start=1):
            safe_cell_value(sheet.cell(row, col), _cleaned(value))
        target = _link_target(book, issue)
        if target is not None:
            link = sheet.cell(row, 4)
            if link.value is None:
                link.value = f"第 {issue.row} 行" if issue.row else "工作表"
            link.hyperlink = Hyperlink(ref=link.coordinate, location=target)
            link.style = "Hyperlink"
    for col, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(col)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:H{len(issues) + 1}"
    book.active = 0
    for other in book.worksheets[1:]:
        other.sheet_view.tabSelected = False


def _link_target(book: Workbook, issue: Issue) -> str | None:
    """Where a row of 校验结果 links to: the cell, else the row, else the sheet."""
    if issue.sheet not in book.sheetnames:
        return None
    ref = issue.cell or f"A{issue.row or 1}"
    return f"{quote_sheetname(issue.sheet)}!{ref}"
