"""The blank workbook analysts fill in: every contract sheet, its headers, dropdowns and a 说明.

Headers, required columns, aliases and dropdown lists are all generated from
`reportkit.data.schema` and `reportkit.data.vocabulary`, the same tables the validator reads, so
the template can never offer a word that validation then rejects. This module also holds the two
output helpers the demo shares: formula neutralisation (`safe_cell_value`) and refuse-to-overwrite
atomic writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from reportkit import layout
from reportkit.data.schema import SHEETS, Column, Kind, Sheet
from reportkit.data.vocabulary import (
    ACTIVITY_TYPES,
    DISCIPLINE_CATEGORIES,
    MEMBER_CATEGORIES,
    YES_NO,
)
from reportkit.errors import UsageError

INSTRUCTIONS_SHEET = "说明"
VOCABULARY_SHEET = "词表"
DATE_FORMAT = "yyyy-mm-dd"
#: Rows a dropdown or number check covers below the header (Excel's last row).
LAST_ROW = 1_048_576

#: Leading characters that make Excel, LibreOffice or a CSV export evaluate text as a formula
#: (OWASP "CSV injection": = + - @, and tab / carriage return which some apps strip first).
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")

#: Dropdown vocabularies by column kind: (词表 column title, canonical -> aliases).
_LISTS: dict[Kind, tuple[str, Mapping[str, Sequence[str]]]] = {
    Kind.ACTIVITY_TYPE: ("活动类型", ACTIVITY_TYPES),
    Kind.DISCIPLINE_CATEGORY: ("奖惩类别", DISCIPLINE_CATEGORIES),
    Kind.MEMBER_CATEGORY: ("党员类别", MEMBER_CATEGORIES),
    Kind.YES_NO: ("是否", YES_NO),
}

_WIDTHS: dict[Kind, float] = {
    Kind.DATE: 12,
    Kind.COUNT: 11,
    Kind.NUMBER: 9,
    Kind.ACTIVITY_TYPE: 14,
    Kind.DISCIPLINE_CATEGORY: 12,
    Kind.MEMBER_CATEGORY: 11,
    Kind.YES_NO: 13,
}
_TEXT_WIDTHS: dict[str, float] = {
    "unit": 36,
    "branch": 22,
    "topic": 46,
    "org_name": 40,
    "reason": 40,
    "note": 20,
}

#: The notes of the 填写说明 sheet (per sheet, per column, and the date forms): wording, so it
#: lives in a data file beside this module.
_NOTES_FILE = Path(__file__).with_name("workbook_notes.yaml")


# --------------------------------------------------------------------------- shared helpers


def is_formula_like(value: object) -> bool:
    """True for text a spreadsheet would evaluate as a formula (=, +, -, @, tab, CR first)."""
    return isinstance(value, str) and bool(_FORMULA_START.match(value))


def safe_cell_value(cell: Cell, value: Any) -> Cell:
    """Put `value` into an openpyxl cell so that text is never stored as a formula.

    Why: workbook text (topics, names, reasons) comes from people and is echoed back into
    workbooks; "=HYPERLINK(...)" must stay the literal text the user typed. Such text is stored
    as a string cell with quotePrefix, which is what typing an apostrophe first does in Excel.
    """
    if is_formula_like(value):
        cell.value = value  # openpyxl infers a formula here; the next two lines undo that
        cell.data_type = "s"
        cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def check_writable(paths: Sequence[Path], force: bool) -> None:
    """Refuse before writing anything when an output exists and `force` is off."""
    if force:
        return
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        raise UsageError(
            f"文件已存在，未覆盖：{'、'.join(existing)}。请先删除、改用其他文件名，或指定强制覆盖。"
        )


def write_new_file(path: Path, write: Callable[[Path], None], *, force: bool = False) -> Path:
    """Write a file the kit makes (template, demo) through layout.write_atomically, which never
    overwrites here unless `force`: `template` and `demo` cannot destroy an analyst's log."""
    path = Path(path)
    check_writable([path], force)
    try:
        return layout.write_atomically(path, write, overwrite=force)
    except FileExistsError:
        raise UsageError(f"文件已存在，未覆盖：{path}") from None


# --------------------------------------------------------------------------- template


def write_template(path: Path, force: bool = False) -> Path:
    """Write the blank workbook to `path`; refuse to replace an existing file unless `force`."""
    return write_new_file(Path(path), lambda tmp: build_template().save(tmp), force=force)


def build_template() -> Workbook:
    """The template workbook in memory: 说明, every contract sheet, and a hidden 词表."""
    wb = Workbook()
    _fill_instructions(wb.active)
    ranges = _vocabulary_ranges()
    for sheet in SHEETS:
        _fill_data_sheet(wb.create_sheet(sheet.name), sheet, ranges)
    # The hidden 词表 goes last so it can never be the sheet Excel opens on.
    _fill_vocabulary(wb.create_sheet(VOCABULARY_SHEET))
    wb.active = 0
    return wb


def vocabulary_lists() -> dict[Kind, tuple[str, tuple[str, ...]]]:
    """Dropdown lists by column kind: (词表 column title, canonical names in display order)."""
    return {kind: (title, tuple(table)) for kind, (title, table) in _LISTS.items()}


def _vocabulary_ranges() -> dict[Kind, str]:
    """The absolute 词表 range each dropdown refers to: one column per list, values from row 2.

    Why a sheet: an inline list formula is limited to 255 characters, too short for 18 types.
    """
    sheet = quote_sheetname(VOCABULARY_SHEET)
    return {
        kind: f"{sheet}!${get_column_letter(col)}$2:${get_column_letter(col)}${len(names) + 1}"
        for col, (kind, (_, names)) in enumerate(vocabulary_lists().items(), start=1)
    }


def _fill_vocabulary(ws: Worksheet) -> None:
    """Write each canonical list into its own column, in the layout `_vocabulary_ranges` names."""
    ws.sheet_state = "hidden"
    for col, (title, names) in enumerate(vocabulary_lists().values(), start=1):
        safe_cell_value(ws.cell(row=1, column=col), title).font = Font(bold=True)
        for row, name in enumerate(names, start=2):
            safe_cell_value(ws.cell(row=row, column=col), name)
        ws.column_dimensions[get_column_letter(col)].width = 16


def _fill_data_sheet(ws: Worksheet, sheet: Sheet, ranges: Mapping[Kind, str]) -> None:
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for col, column in enumerate(sheet.columns, start=1):
        cell = safe_cell_value(ws.cell(row=1, column=col), column.header)
        cell.font = Font(bold=True, color="C00000" if column.required else None)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = _width(column)
        if column.kind is Kind.DATE:
            ws.column_dimensions[letter].number_format = DATE_FORMAT
        validation = _validation(column, ranges)
        if validation is not None:
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def _width(column: Column) -> float:
    if column.kind in _WIDTHS:
        return _WIDTHS[column.kind]
    return _TEXT_WIDTHS.get(column.field, max(12.0, 2.2 * len(column.header) + 2))


def _validation(column: Column, ranges: Mapping[Kind, str]) -> DataValidation | None:
    """A dropdown or number check; 'warning' style so aliases and pasted data still go in."""
    if column.kind in ranges:
        title = _LISTS[column.kind][0]
        return DataValidation(
            type="list",
            formula1=ranges[column.kind],  # OOXML stores formulas without the leading "="
            allow_blank=True,
            showDropDown=False,  # sic: False *shows* the in-cell arrow in OOXML
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=f"{title}不在列表中",
            error="建议从下拉列表中选择；“说明”表中列出的同义词也可识别，其他写法会在校验时报错。",
            promptTitle=column.header,
            prompt="请从下拉列表中选择",
            showInputMessage=True,
        )
    if column.kind in (Kind.COUNT, Kind.NUMBER):
        whole = column.kind is Kind.COUNT
        return DataValidation(
            type="whole" if whole else "decimal",
            operator="greaterThanOrEqual",
            formula1="0",
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=f"{column.header}应为{'非负整数' if whole else '非负数'}",
            error=f"{column.header}应为{'不小于 0 的整数' if whole else '不小于 0 的数'}。",
        )
    return None


def _fill_instructions(ws: Worksheet) -> None:
    """The 说明 sheet, generated from the schema and vocabulary so it cannot drift from them."""
    ws.title = INSTRUCTIONS_SHEET
    notes = yaml.safe_load(_NOTES_FILE.read_text(encoding="utf-8"))
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 36
    ws.column_dimensions["D"].width = 70
    wrap = Alignment(wrap_text=True, vertical="top")
    row = 1

    def line(*values: str, bold: bool = False, size: float | None = None) -> None:
        nonlocal row
        for col, value in enumerate(values, start=1):
            cell = safe_cell_value(ws.cell(row=row, column=col), value)
            cell.alignment = wrap if len(values) > 1 else Alignment(vertical="top")
            if bold or size:
                cell.font = Font(bold=bold, size=size)
        row += 1

    line("党建工作台账填写说明", bold=True, size=16)
    line("本工作簿由 reportkit 生成，用于记录党建活动并自动生成党建工作情况报告。")
    line(
        "请在「活动台账」「单位信息」「党员名册」「奖惩记录」「支部信息」中填写；一个文件可以只含其中几张表，"
        "可以填写一个或多个单位，多个文件可以一起校验。"
    )
    line("表头请勿改名（可使用“也可写作”中的写法）；红色列名为必填列，其余为选填列，可以删去。")
    line("表头上方可以有标题行或空行；完全空白的行会被跳过；不认识的列会保留并给出提示，不算错误。")
    line(
        "工作表按表头识别，不按名称：可以每年一张表（如「2019年」「2020年」，每张表上方可有标题行），"
        "各表的行会合并统计。"
    )
    line(
        "每个单位也可以单独一个工作簿，此时可不设「单位」列：单位取自本工作簿「单位信息」表中的唯一单位，"
        "其次取标题行中的单位名称（如“某某局党建活动台账”），再次取文件名；校验时会说明按哪一条确定。"
    )
    line("表头可以占两到三行，例如「参加人数」合并在「应到」「实到」之上。")
    line("全角字母数字、全角空格和首尾空格会自动规范，无需手工处理。")
    row += 1

    for number, sheet in enumerate(SHEETS, start=1):
        aliases = f"（工作表也可命名为：{'、'.join(sheet.aliases)}）" if sheet.aliases else ""
        line(f"{_CN_NUMBERS[number]}、{sheet.name}{aliases}", bold=True, size=12)
        sheet_notes = notes["sheets"].get(sheet.name, {})
        line(sheet_notes.get("note", ""))
        line("列名", "必填", "也可写作", "填写说明", bold=True)
        for column in sheet.columns:
            line(
                column.header,
                _required_word(sheet, column),
                "、".join(column.aliases),
                sheet_notes.get("columns", {}).get(column.field, ""),
            )
        row += 1

    line("日期写法", bold=True, size=12)
    line(notes["date_forms"])
    row += 1

    line("活动类型词表", bold=True, size=12)
    line(
        "「活动类型」请填写下表中的标准名称或其同义词。不在词表中的类型会报错并提示最接近的"
        "标准名称，不会被自动计为“其他”。"
    )
    line("中心组学习等单位层面的活动，「党支部」列留空。")
    line("标准名称", "", "也可写作", bold=True)
    for name, aliases in ACTIVITY_TYPES.items():
        line(name, "", "、".join(aliases))
    row += 1

    line("其他词表", bold=True, size=12)
    line("词表", "", "可选值（括号内为同义词）", bold=True)
    for kind, (title, table) in _LISTS.items():
        if kind is Kind.ACTIVITY_TYPE:
            continue
        line(title, "", "、".join(_with_aliases(name, al) for name, al in table.items()))
    row += 1

    line("个人信息", bold=True, size=12)
    line(
        "「党员名册」「奖惩记录」中的姓名属于个人信息：报告只统计人数和次数，不显示任何姓名。"
        "请按本单位保密规定妥善保管本工作簿。"
    )


def _required_word(sheet: Sheet, column: Column) -> str:
    if not column.required:
        return "选填"
    return (
        "是（单位自己的工作簿可省略）" if column.field == "unit" and sheet.unit_inferable else "是"
    )


def _with_aliases(name: str, aliases: Sequence[str]) -> str:
    return f"{name}（{'、'.join(aliases)}）" if aliases else name


_CN_NUMBERS = ("〇", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
