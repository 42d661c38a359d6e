"""Cell values: how a raw cell reads as text, date, count, number or vocabulary word.

Each parser takes one raw value (as python-calamine gives it) and returns (value, None) or
(None, a Chinese message saying what is wrong and how to write it). The sheet reader calls a
parser once per distinct value of a column, so these stay plain and unvectorised.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from reportkit.data.schema import Kind
from reportkit.data.text import normalize_value
from reportkit.data.vocabulary import (
    DISCIPLINE,
    MEMBER_CATEGORY,
    YES_NO_VOCAB,
    Vocabulary,
    activity_vocabulary,
)

_EXCEL_ERRORS = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)
_ODS_ERROR = re.compile(r"^Err:\d{3}$")
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_TIME_TEXT = re.compile(
    r"^\s*T?\s*(\d{1,2})\s*[:时点]\s*(?:(\d{1,2})\s*(?:[:分]\s*(?:\d{1,2}(?:\.\d+)?\s*秒?)?)?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (after Excel's 1900 leap-year bug)
#: Dates a party-building log can plausibly hold. 1900-01-01 is what Excel shows for a 0 or 1
#: typed into a date cell, and 2100 is a typo; both are errors, never silently out of period.
_YEAR_MIN, _YEAR_MAX = 1950, 2099
_SERIAL_MIN, _SERIAL_MAX = 18264, 73050  # 1950-01-01 .. 2099-12-31 as Excel serial day numbers
_YEAR_LIKE = (1900, 2100)  # a bare number in this range is a year someone typed alone
#: Excel's limit for one cell; longer text cannot come from Excel and would swamp every report.
MAX_CELL_CHARS = 32_767
#: How much of a long value an Issue quotes.
_ISSUE_VALUE_CHARS = 80
#: Characters that are invalid in XML 1.0 (DOCX, XLSX) and invisible in Excel: calamine decodes
#: Excel's _x0000_ escapes into them. They are removed from every text value.
CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
NAT = np.datetime64("NaT", "ns")


def display(value: Any) -> str:
    """A raw cell as a person would read it, for messages and text columns."""
    if isinstance(value, str):
        return normalize_value(CONTROL_CHARS.sub("", value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes" if not value.second else "seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if value is None:
        return ""
    return normalize_value(CONTROL_CHARS.sub("", str(value)))


def clip(text: str | None) -> str | None:
    """A value as an Issue quotes it: long text is cut, so one 1 MB cell cannot flood a terminal."""
    if text is None or len(text) <= _ISSUE_VALUE_CHARS:
        return text
    return f"{text[:_ISSUE_VALUE_CHARS]}…（共 {len(text)} 个字符）"


def too_long(text: str) -> str | None:
    if len(text) <= MAX_CELL_CHARS:
        return None
    return f"内容过长（{len(text)} 个字符），超过 Excel 单元格上限 {MAX_CELL_CHARS} 个字符"


def is_excel_error(text: str) -> bool:
    return text in _EXCEL_ERRORS or bool(_ODS_ERROR.match(text))


def excel_error_mask(texts: np.ndarray) -> np.ndarray:
    """is_excel_error of every distinct text (cheaper than pandas' string methods on the few
    hundred distinct values a column usually holds)."""
    return np.fromiter(map(is_excel_error, texts), bool, len(texts))


Parsed = tuple[Any, str | None]  # (value or None when blank/bad, error message or None)


def parse_date(value: Any) -> Parsed:
    if isinstance(value, bool):
        return None, "不是日期"
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, dt.time):
        return None, "只有时间，没有日期"
    elif isinstance(value, int | float):
        number = float(value)
        if number.is_integer() and 19000101 <= number <= 21001231:
            return _date_from_parts(*_COMPACT_DATE.match(str(int(number))).groups())
        if number.is_integer() and _YEAR_LIKE[0] <= number <= _YEAR_LIKE[1]:
            return None, "只填了年份，请填写完整日期（如 2019-03-05）"
        if not _SERIAL_MIN <= number <= _SERIAL_MAX:
            return None, "数字不像日期，请填写日期（如 2019-03-05）"
        day = _EXCEL_EPOCH + dt.timedelta(days=int(number))
    else:
        return _parse_date_text(display(value))
    return _check_year(day)


def _parse_date_text(text: str) -> Parsed:
    match = _DATE_TEXT.match(text)
    if match:
        rest = text[match.end() :]
        if rest and not _time_ok(rest):
            return None, "日期后面的时间无法识别，请写成 2019-03-05 14:30 的形式"
        return _date_from_parts(*match.groups())
    compact = _COMPACT_DATE.match(text)
    if compact:
        return _date_from_parts(*compact.groups())
    return None, "无法识别的日期，请写成 2019-03-05 或 2019年3月5日 的形式"


def _time_ok(text: str) -> bool:
    match = _TIME_TEXT.match(text)
    if not match:
        return False
    hour, minute = match.groups()
    return int(hour) < 24 and (minute is None or int(minute) < 60)


def _date_from_parts(year: str, month: str, day: str) -> Parsed:
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None, "日期不存在（请检查月份和日）"
    return _check_year(value)


def _check_year(day: dt.date) -> Parsed:
    if not _YEAR_MIN <= day.year <= _YEAR_MAX:
        return None, f"日期超出 {_YEAR_MIN}–{_YEAR_MAX} 年的合理范围，请检查年份"
    return np.datetime64(day, "ns"), None


#: The largest count kept: every integer up to it is exact as a float and fits the Int64 column.
_COUNT_MAX = 2**53
_COUNT_SUFFIX = re.compile(r"(人|名|个|次)$")
_HOURS_SUFFIX = re.compile(r"(小时|学时|课时|h|H)$")


def _number_of(value: Any, suffix: re.Pattern[str]) -> float | None:
    """A cell as a float, accepting '35人' / '1.5小时' / '1,200'; None when it is no number."""
    if isinstance(value, bool | dt.date | dt.time):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = suffix.sub("", display(value)).replace(",", "").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def parse_count(value: Any) -> Parsed:
    number = _number_of(value, _COUNT_SUFFIX)
    if number is None:
        return None, "不是数字，应填写不小于 0 的整数"
    if not number.is_integer():
        return None, "不是整数，应填写不小于 0 的整数"
    if number < 0:
        return None, "不能为负数"
    if number > _COUNT_MAX:
        return None, "数字过大，应填写不小于 0 的整数"
    return number, None


def parse_number(value: Any) -> Parsed:
    number = _number_of(value, _HOURS_SUFFIX)
    if number is None:
        return None, "不是数字，应填写不小于 0 的数"
    if number < 0:
        return None, "不能为负数"
    return number, None


def vocab_parser(vocab: Vocabulary, label: str) -> Callable[[Any], Parsed]:
    def parse(value: Any) -> Parsed:
        text = display(value)
        name = vocab.resolve(text)
        if name is not None:
            return name, None
        guess = vocab.suggest(text) if len(text) <= 50 else None  # difflib is slow on long text
        if guess:
            return None, f"未知的{label}，是否应为「{guess}」？"
        return None, f"未知的{label}，可选值：{'、'.join(vocab.canonical)}"

    return parse


def parse_yes_no(value: Any) -> Parsed:
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    name = YES_NO_VOCAB.resolve(display(value))
    if name is None:
        return None, "应填写「是」或「否」"
    return name, None


# --------------------------------------------------------------------------------------------
# Files


def parsers(extra_types: Mapping[str, Iterable[str]] | None) -> dict[Kind, Callable[[Any], Parsed]]:
    """The parser of each column kind; Kind.TEXT has none (a text value is its display text)."""
    return {
        Kind.DATE: parse_date,
        Kind.COUNT: parse_count,
        Kind.NUMBER: parse_number,
        Kind.ACTIVITY_TYPE: vocab_parser(activity_vocabulary(extra_types), "活动类型"),
        Kind.DISCIPLINE_CATEGORY: vocab_parser(DISCIPLINE, "奖惩类别"),
        Kind.MEMBER_CATEGORY: vocab_parser(MEMBER_CATEGORY, "党员类别"),
        Kind.YES_NO: parse_yes_no,
    }


def excel_error_message(code: str) -> str:
    """The message for a cell holding an Excel error value such as #REF!."""
    return f"单元格是 Excel 错误值 {code}，请修正公式或填写实际数值"


def column_letter(index: int) -> str:
    """Excel's letters for a 0-based column index (0 → A)."""
    from openpyxl.utils import get_column_letter  # only when a message names a cell

    return get_column_letter(index + 1)


def column_index(letters: str) -> int:
    """The 0-based column index of Excel's letters (A → 0)."""
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1
