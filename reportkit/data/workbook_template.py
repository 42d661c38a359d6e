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

#: What to write in each column: (sheet name, field) -> 填写说明.
_COLUMN_NOTES: dict[tuple[str, str], str] = {
    ("活动台账", "date"): "活动举行的日期，格式见下方“日期写法”",
    ("活动台账", "unit"): "单位全称，与「单位信息」表一致，如：国家税务总局某市税务局机关",
    ("活动台账", "branch"): "举办活动的党支部；单位层面的活动（如中心组学习）留空",
    ("活动台账", "type"): "从下拉列表选择；也可写“也可写作”中的同义词，见下方活动类型词表",
    ("活动台账", "topic"): "学习或活动的主题，如：学习贯彻党的二十大精神",
    ("活动台账", "expected"): "应参加人数，非负整数",
    ("活动台账", "present"): "实际参加人数，非负整数，不大于应到人数",
    ("活动台账", "hours"): "活动时长（小时），可为小数，如 1.5",
    ("活动台账", "presenter"): "主持人或主讲人，建议填写职务（如：党委书记、支部书记、特邀专家）",
    ("活动台账", "note"): "其他说明，如：线上开展、党委委员到会指导",
    ("单位信息", "unit"): "单位全称，每个单位一行",
    ("单位信息", "org_name"): "党组织全称，用于报告标题；留空时为“中共{单位}委员会”",
    ("单位信息", "staff_total"): "机关工作人员总数，非负整数",
    ("单位信息", "party_workers"): (
        "专职党务工作人员数，非负整数（一般要求占 1%–2%，且不少于 1 人）"
    ),
    ("党员名册", "name"): "党员姓名（仅用于统计人数，报告中不显示）",
    ("党员名册", "unit"): "所在单位全称",
    ("党员名册", "branch"): "所在党支部",
    ("党员名册", "category"): "正式党员或预备党员",
    ("党员名册", "party_post"): (
        "党内职务，如：支部书记、组织委员、宣传委员、纪检委员、党小组长；无则留空"
    ),
    ("党员名册", "full_time_party_worker"): "是否专职党务工作人员：是 / 否",
    ("奖惩记录", "date"): "表彰、奖励或处理的日期",
    ("奖惩记录", "unit"): "单位全称",
    ("奖惩记录", "branch"): "所在党支部，可留空",
    ("奖惩记录", "category"): "表彰、奖励，或第一种形态至第四种形态",
    ("奖惩记录", "subject"): "对象（个人或集体；报告只统计次数，不显示姓名）",
    ("奖惩记录", "reason"): "事由",
    ("支部信息", "unit"): "单位全称",
    ("支部信息", "branch"): "党支部名称，与「活动台账」中的写法一致",
    ("支部信息", "founded"): "支部成立日期；报告期中途成立的支部，只核对成立后的完整月、季、年",
    ("支部信息", "dissolved"): "支部撤销日期；未撤销的留空",
}

_SHEET_NOTES: dict[str, str] = {
    "活动台账": "每行记录一次活动。",
    "单位信息": "每个单位一行，用于报告标题和专职党务工作人员配备情况。",
    "党员名册": "每名党员一行，用于统计正式党员人数（支委会要求）、党小组和专职党务人员。",
    "奖惩记录": "每条表彰、奖励或“四种形态”处理一行。",
    "支部信息": "可选。每个党支部一行；填写成立或撤销日期后，只在支部存续期内核对组织生活制度。",
}

_DATE_FORMS = (
    "日期可以是 Excel 日期单元格、Excel 日期序号，或文本：2019-3-5、2019/03/05、2019.3.5、"
    "2019年3月5日（全角数字亦可），后面可带时间（如 2019-3-5 14:30）。"
)


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


def write_atomically(path: Path, write: Callable[[Path], None], *, force: bool = False) -> Path:
    """Write a workbook the kit makes through layout.write_atomically; never overwrite unless
    `force`, so `template` and `demo` cannot destroy an analyst's filled-in log."""
    path = Path(path)
    check_writable([path], force)
    try:
        return layout.write_atomically(path, write, overwrite=force)
    except FileExistsError:
        raise UsageError(f"文件已存在，未覆盖：{path}") from None


# --------------------------------------------------------------------------- template


def write_template(path: Path, force: bool = False) -> Path:
    """Write the blank workbook to `path`; refuse to replace an existing file unless `force`."""
    return write_atomically(Path(path), lambda tmp: build_template().save(tmp), force=force)


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
        line(_SHEET_NOTES.get(sheet.name, ""))
        line("列名", "必填", "也可写作", "填写说明", bold=True)
        for column in sheet.columns:
            line(
                column.header,
                _required_word(sheet, column),
                "、".join(column.aliases),
                _COLUMN_NOTES.get((sheet.name, column.field), ""),
            )
        row += 1

    line("日期写法", bold=True, size=12)
    line(_DATE_FORMS)
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
