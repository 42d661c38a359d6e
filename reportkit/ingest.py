"""Read activity-log workbooks into four validated tables, naming every bad cell.

Analysts type these workbooks by hand, so the reader is forgiving about form (title rows, blank
rows, full-width characters, aliases, date spellings) and strict about meaning: a value that
cannot be read is an error at its exact Excel row and column, never silently dropped or guessed.

Cells are read raw with python-calamine so that row numbers match what Excel shows. Values are
parsed once per distinct value (pandas.factorize), so 200,000 rows cost about as much as the
few thousand distinct dates, types and counts they contain; Issues are built only for bad cells.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import stat
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import python_calamine as calamine

from reportkit.errors import Issue
from reportkit.schema import ACTIVITIES, SHEETS, Column, Kind, Sheet
from reportkit.text import normalize_name, normalize_value
from reportkit.vocabulary import (
    DISCIPLINE as DISCIPLINE_VOCAB,
)
from reportkit.vocabulary import (
    MEMBER_CATEGORY,
    YES_NO_VOCAB,
    Vocabulary,
    activity_vocabulary,
)

__all__ = [
    "PROVENANCE",
    "WORKBOOK_SUFFIXES",
    "IngestResult",
    "read_workbooks",
    "table_columns",
]

WORKBOOK_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm", ".xls", ".ods")
#: Provenance columns kept in every table so any figure can be traced back to a cell.
PROVENANCE: tuple[str, ...] = ("_file", "_sheet", "_row")
#: How far down a sheet the header row may be (title rows, notes, blank rows above it).
HEADER_SCAN_ROWS = 30
#: Columns dropped after validation: personal names never enter the dataset.
PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {"members": ("name",), "discipline": ("subject",)}
#: Tables whose unknown columns are dropped rather than kept: they describe people, and an
#: unknown column there (身份证号, 电话 …) is likely personal data.
PERSONAL_TABLES: frozenset[str] = frozenset({"members", "discipline"})

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
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")

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
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_NAT = np.datetime64("NaT", "ns")

_VOCAB_LABEL = {
    Kind.ACTIVITY_TYPE: "活动类型",
    Kind.DISCIPLINE_CATEGORY: "奖惩类别",
    Kind.MEMBER_CATEGORY: "党员类别",
}


# --------------------------------------------------------------------------------------------
# Result


@dataclass
class IngestResult:
    """What the workbooks hold: one DataFrame per table, plus every problem found."""

    tables: dict[str, pd.DataFrame]
    issues: list[Issue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: units in order of first appearance: 单位信息 first, then 活动台账
    units: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def summary(self) -> str:
        """One Chinese line for the terminal: what was read and how many warnings."""
        counts = "，".join(f"{s.name} {len(self.tables[s.table])} 行" for s in SHEETS)
        text = f"读取 {len(self.files)} 个文件：{counts}；共 {len(self.units)} 个单位"
        if self.errors:
            text += f"；错误 {len(self.errors)} 处"
        return text + f"；警告 {len(self.warnings)} 条。"


def table_columns(sheet: Sheet) -> list[str]:
    """The dataset columns of a table (before any unknown columns), in order."""
    private = PRIVATE_FIELDS.get(sheet.table, ())
    return [c.field for c in sheet.columns if c.field not in private] + list(PROVENANCE)


def _dtype_for(kind: Kind) -> str:
    return {
        Kind.DATE: "datetime64[ns]",
        Kind.COUNT: "Int64",
        Kind.NUMBER: "Float64",
    }.get(kind, "str")


def _missing_column(kind: Kind, size: int) -> pd.Series:
    """An all-missing column of the right dtype, for an optional column a sheet lacks."""
    if kind == Kind.DATE:
        return pd.Series(np.full(size, _NAT), dtype="datetime64[ns]")
    return pd.Series([None] * size, dtype=_dtype_for(kind))


def _str_column(values: Sequence[str | None], codes: np.ndarray) -> pd.Series:
    """A string column from distinct values and codes, built in Arrow (several times faster)."""
    table = pa.array(list(values), type=pa.large_string())
    return pd.Series(pd.array(table.take(pa.array(codes)), dtype="str"))


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values; a missing value (None, NaN) becomes one more distinct value.

    pandas' NA sentinel path is about twice as fast as use_na_sentinel=False, and calamine gives
    "" for empty cells, so the rare missing value is patched in afterwards.
    """
    codes, uniques = pd.factorize(values)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = np.append(np.asarray(uniques, dtype=object), None)
    return codes, np.asarray(uniques, dtype=object)


def _empty_table(sheet: Sheet, keep_private: bool = False) -> pd.DataFrame:
    private = () if keep_private else PRIVATE_FIELDS.get(sheet.table, ())
    data: dict[str, pd.Series] = {
        c.field: pd.Series([], dtype=_dtype_for(c.kind))
        for c in sheet.columns
        if c.field not in private
    }
    data["_file"] = pd.Series([], dtype="str")
    data["_sheet"] = pd.Series([], dtype="str")
    data["_row"] = pd.Series([], dtype="int64")
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------------------
# Cell values


def _display(value: Any) -> str:
    """A raw cell as a person would read it, for messages and text columns."""
    if isinstance(value, str):
        return normalize_value(_CONTROL_CHARS.sub("", value))
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
    return normalize_value(_CONTROL_CHARS.sub("", str(value)))


def _clip(text: str | None) -> str | None:
    """A value as an Issue quotes it: long text is cut, so one 1 MB cell cannot flood a terminal."""
    if text is None or len(text) <= _ISSUE_VALUE_CHARS:
        return text
    return f"{text[:_ISSUE_VALUE_CHARS]}…（共 {len(text)} 个字符）"


def _too_long(text: str) -> str | None:
    if len(text) <= MAX_CELL_CHARS:
        return None
    return f"内容过长（{len(text)} 个字符），超过 Excel 单元格上限 {MAX_CELL_CHARS} 个字符"


def _is_excel_error(text: str) -> bool:
    return text in _EXCEL_ERRORS or bool(_ODS_ERROR.match(text))


_Parsed = tuple[Any, str | None]  # (value or None when blank/bad, error message or None)


def _parse_date(value: Any) -> _Parsed:
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
        return _parse_date_text(_display(value))
    return _check_year(day)


def _parse_date_text(text: str) -> _Parsed:
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


def _date_from_parts(year: str, month: str, day: str) -> _Parsed:
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None, "日期不存在（请检查月份和日）"
    return _check_year(value)


def _check_year(day: dt.date) -> _Parsed:
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
    text = suffix.sub("", _display(value)).replace(",", "").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def _parse_count(value: Any) -> _Parsed:
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


def _parse_number(value: Any) -> _Parsed:
    number = _number_of(value, _HOURS_SUFFIX)
    if number is None:
        return None, "不是数字，应填写不小于 0 的数"
    if number < 0:
        return None, "不能为负数"
    return number, None


def _vocab_parser(vocab: Vocabulary, label: str) -> Callable[[Any], _Parsed]:
    def parse(value: Any) -> _Parsed:
        text = _display(value)
        name = vocab.resolve(text)
        if name is not None:
            return name, None
        guess = vocab.suggest(text) if len(text) <= 50 else None  # difflib is slow on long text
        if guess:
            return None, f"未知的{label}，是否应为「{guess}」？"
        return None, f"未知的{label}，可选值：{'、'.join(vocab.canonical)}"

    return parse


def _parse_yes_no(value: Any) -> _Parsed:
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    name = YES_NO_VOCAB.resolve(_display(value))
    if name is None:
        return None, "应填写「是」或「否」"
    return name, None


def _parse_text(value: Any) -> _Parsed:
    text = _display(value)
    problem = _too_long(text)
    if problem:
        return None, problem
    return text, None


# --------------------------------------------------------------------------------------------
# Files


class _FileProblem(Exception):
    """A whole file cannot be read; the message is shown to the user as is."""


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter  # only when a message names a cell

    return get_column_letter(index + 1)


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def _check_file(path: Path) -> tuple[bytes, int]:
    """The first bytes and size of a readable workbook file, or a _FileProblem saying why not."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise _FileProblem("文件不存在，请检查路径和文件名") from None
    except NotADirectoryError:
        raise _FileProblem("文件不存在：路径中的某一级不是文件夹，请检查路径") from None
    except PermissionError:
        raise _FileProblem("没有访问该文件的权限（所在文件夹不允许读取）") from None
    except OSError as exc:
        raise _FileProblem(f"无法访问文件：{exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise _FileProblem("这是一个文件夹，不是工作簿文件；请给出其中的 .xlsx 文件")
    if not stat.S_ISREG(mode):  # a FIFO or a device: opening it could block for ever
        raise _FileProblem("这不是普通文件（可能是管道或设备），请给出 .xlsx 工作簿文件")
    suffix = path.suffix.lower()
    text_suffix = suffix in (".csv", ".tsv", ".txt")
    if suffix not in WORKBOOK_SUFFIXES and not text_suffix:
        raise _FileProblem(
            f"不支持的文件类型「{suffix or '无扩展名'}」：请提供 .xlsx、.xlsm、.xls 或 .ods 工作簿"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
        size = path.stat().st_size
    except PermissionError:
        raise _FileProblem("没有读取该文件的权限") from None
    except OSError as exc:
        raise _FileProblem(f"无法读取文件：{exc.strerror or exc}") from None
    if text_suffix:
        if head.startswith((_ZIP_MAGIC, _CFB_MAGIC)):
            raise _FileProblem(
                f"扩展名是 {suffix}，但内容是 Excel 工作簿（可能被改了扩展名）："
                "请把扩展名改回 .xlsx（旧版 Excel 文件为 .xls）再试"
            )
        raise _FileProblem(
            f"不支持 {suffix} 文本文件：请在 Excel 中打开后「另存为」Excel 工作簿（.xlsx）再试"
        )
    if size == 0:
        raise _FileProblem("文件是空的（0 字节），请重新保存或换用正确的文件")
    return head, size


def _open_workbook(path: Path) -> tuple[calamine.CalamineWorkbook, bool]:
    """Open a workbook by its content; return it and whether it is a zip-based .xlsx/.xlsm."""
    head, _ = _check_file(path)
    suffix = path.suffix.lower()
    is_zip = head.startswith(_ZIP_MAGIC)
    is_cfb = head.startswith(_CFB_MAGIC)
    if is_cfb and suffix != ".xls":
        if _ENCRYPTION_INFO in path.read_bytes():
            raise _FileProblem(
                "文件已加密（设置了打开密码）：请在 Excel 中取消密码后另存为 .xlsx 再试"
            )
    elif not is_zip and not is_cfb:
        if head.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
            raise _FileProblem(
                "文件内容不是 Excel 工作簿（像是网页导出后改了扩展名）："
                "请在 Excel 中打开后另存为 .xlsx 再试"
            )
        raise _FileProblem("文件内容不是有效的工作簿（可能已损坏，或是其他文件改了扩展名）")
    matches_suffix = (is_zip and suffix != ".xls") or (is_cfb and suffix == ".xls")
    try:
        try:
            if not matches_suffix:
                raise ValueError("extension does not match content")
            book = calamine.CalamineWorkbook.from_path(str(path))
        except (calamine.PasswordError, PermissionError):
            raise
        except Exception:  # e.g. an .xls or .ods saved as .xlsx: detect the format from the bytes
            book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    except calamine.PasswordError:
        raise _FileProblem("文件已加密（设置了打开密码）：请取消密码后另存为 .xlsx 再试") from None
    except PermissionError:
        raise _FileProblem("没有读取该文件的权限") from None
    except BaseException as exc:  # calamine raises several types, and pyo3 panics
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise _FileProblem(
            f"无法打开工作簿：文件已加密或已损坏（{type(exc).__name__}）。"
            "请在 Excel 中打开确认，并另存为 .xlsx 再试"
        ) from None
    is_ooxml = is_zip and suffix in (".xlsx", ".xlsm")
    return book, is_ooxml


_CELL_WITH_ERROR = re.compile(
    rb"<(?:\w+:)?c\b([^>]*?\bt=[\"']e[\"'][^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S
)
_CELL_REF = re.compile(rb"\br=[\"']([A-Z]+)(\d+)[\"']")
#: A formula cell with no cached result (`<v>` absent or empty, and no string type): written by
#: a program and never calculated by Excel or WPS, so calamine reads it as blank.
_CELL_WITH_FORMULA = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?f>)"
    rb"\s*(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>"
)
#: A formula typed as a string or an error: an empty <v> is then a real (empty) result.
_STRING_OR_ERROR = re.compile(rb"\bt=[\"'](?:str|e)[\"']")
#: A quick test that a sheet may hold a formula element (<f>, <x:f …/>): a literal first byte
#: lets re skip ahead, 20 times faster than matching the tag; a false hit only costs the scan.
_MAY_HAVE_FORMULA = re.compile(rb"f[\s>/]")
#: The message for such a cell; the same for every cell, so the terminal groups them per column.
UNCACHED_FORMULA = (
    "单元格是公式，但文件中没有它的计算结果：文件可能是程序生成的，从未在 Excel/WPS 中保存过。"
    "请用 Excel 或 WPS 打开该文件，保存后再试"
)
_CELL_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


_ErrorCells = dict[str, list[tuple[int, int, str]]]
#: A merged range as calamine gives it: ((top row, left column), (bottom row, right column)).
_Range = tuple[tuple[int, int], tuple[int, int]]


def _xlsx_error_cells(path: Path, sheet_names: Sequence[str]) -> _ErrorCells:
    """Cells holding an Excel error value (#REF! …), per sheet: (row index, column index, code).

    A formula with no cached result is included with its formula ("=DATE(2019,3,5)") as code.
    calamine reports both as blank, so an .xlsx is scanned separately. This runs in a
    thread beside calamine: zlib releases the GIL, so on two cores it costs no wall time.
    """
    found: _ErrorCells = {}
    try:
        with zipfile.ZipFile(path) as archive:
            book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
            targets = {
                r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_NS_PKG_REL}Relationship")
            }
            for sheet in book.iter(f"{_NS_MAIN}sheet"):
                name = sheet.get("name")
                if name not in sheet_names:
                    continue
                target = targets.get(sheet.get(f"{_NS_REL}id"), "")
                part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                data = archive.read(part)
                cells = found.setdefault(name, [])
                if _MAY_HAVE_FORMULA.search(data):
                    for match in _CELL_WITH_FORMULA.finditer(data):
                        ref = _CELL_REF.search(match.group(1))
                        if ref and not _STRING_OR_ERROR.search(match.group(1)):
                            formula = (match.group(2) or b"").decode("utf-8", "replace")
                            row, col = int(ref.group(2)) - 1, _column_index(ref.group(1).decode())
                            cells.append((row, col, f"={html.unescape(formula)}"))
                if b't="e"' not in data and b"t='e'" not in data:
                    continue
                for match in _CELL_WITH_ERROR.finditer(data):
                    ref = _CELL_REF.search(match.group(1))
                    value = _CELL_VALUE.search(match.group(2) or b"")
                    if ref:
                        code = value.group(1).decode("utf-8", "replace") if value else "#错误"
                        row, col = int(ref.group(2)) - 1, _column_index(ref.group(1).decode())
                        cells.append((row, col, code))
    except Exception:  # noqa: BLE001 - best effort: calamine reports an unreadable file itself
        return found
    return found


# --------------------------------------------------------------------------------------------
# Sheets


@dataclass
class _Header:
    row: int  # index into the raw rows (Excel row - 1)
    fields: dict[int, Column]  # column index -> contract column
    unknown: dict[int, str]  # column index -> header text, normalised (a dataset column name)
    texts: dict[int, str]  # column index -> header text as written (trimmed), for messages


def _header_lookup(sheet: Sheet) -> dict[str, Column]:
    return {normalize_name(word): c for c in sheet.columns for word in (c.header, *c.aliases)}


def _find_header(
    rows: list[list[Any]], sheet: Sheet, lookup: Mapping[str, Column]
) -> tuple[_Header | None, tuple[int, list[Column]] | None]:
    """The first row holding every required column; else the best candidate and what it lacks."""
    required = {c.field for c in sheet.required}
    best: tuple[int, int, int, list[Column]] | None = None  # (score, known, row, missing)
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        fields: dict[int, Column] = {}
        unknown: dict[int, str] = {}
        texts: dict[int, str] = {}
        for col, cell in enumerate(row):
            text = _display(cell)
            if not text:
                continue
            texts[col] = _CONTROL_CHARS.sub("", cell).strip() if isinstance(cell, str) else text
            column = lookup.get(normalize_name(text))
            if column is None:
                unknown[col] = text
            else:
                fields[col] = column
        found = {c.field for c in fields.values()}
        if required <= found:
            return _Header(index, fields, unknown, texts), None
        score = len(required & found)
        if score and (best is None or (score, len(found)) > (best[0], best[1])):
            missing = [c for c in sheet.required if c.field not in found]
            best = (score, len(found), index, missing)
    return None, (best[2], best[3]) if best else None


@dataclass
class _SheetResult:
    frame: pd.DataFrame | None
    issues: list[tuple[int, int, Issue]]  # (row, column index) sort key and the issue


class _Reader:
    """Reads files one by one and gathers tables and issues; `finish` cross-checks them."""

    def __init__(self, extra_types: Mapping[str, Iterable[str]] | None) -> None:
        self.parsers: dict[Kind, Callable[[Any], _Parsed]] = {
            Kind.TEXT: _parse_text,
            Kind.DATE: _parse_date,
            Kind.COUNT: _parse_count,
            Kind.NUMBER: _parse_number,
            Kind.ACTIVITY_TYPE: _vocab_parser(
                activity_vocabulary(extra_types), _VOCAB_LABEL[Kind.ACTIVITY_TYPE]
            ),
            Kind.DISCIPLINE_CATEGORY: _vocab_parser(
                DISCIPLINE_VOCAB, _VOCAB_LABEL[Kind.DISCIPLINE_CATEGORY]
            ),
            Kind.MEMBER_CATEGORY: _vocab_parser(
                MEMBER_CATEGORY, _VOCAB_LABEL[Kind.MEMBER_CATEGORY]
            ),
            Kind.YES_NO: _parse_yes_no,
        }
        self.lookups = {s.table: _header_lookup(s) for s in SHEETS}
        self.frames: dict[str, list[pd.DataFrame]] = {s.table: [] for s in SHEETS}
        self.issues: list[Issue] = []
        self.files: list[str] = []
        self.units_sheet_seen = False
        self.pool = ThreadPoolExecutor(max_workers=1)

    # -- files ---------------------------------------------------------------------------------

    def read_file(self, path: Path) -> None:
        label = str(path)
        self.files.append(label)
        try:
            book, is_ooxml = _open_workbook(path)
        except _FileProblem as problem:
            self.issues.append(Issue(label, None, None, None, None, str(problem)))
            return
        try:
            self._read_book(path, label, book, is_ooxml)
        finally:
            book.close()

    def _read_book(
        self, path: Path, label: str, book: calamine.CalamineWorkbook, is_ooxml: bool
    ) -> None:
        known: list[tuple[str, Sheet]] = []
        for name in book.sheet_names:
            sheet = next((s for s in SHEETS if s.matches(name)), None)
            if sheet is None:
                continue
            known.append((name, sheet))
        if not known:
            expected = "、".join(f"「{s.name}」" for s in SHEETS)
            found = "、".join(f"「{n}」" for n in book.sheet_names) or "无"
            self.issues.append(
                Issue(
                    label,
                    None,
                    None,
                    None,
                    None,
                    f"没有可识别的工作表：应至少包含 {expected} 之一（现有工作表：{found}）",
                )
            )
            return
        tables_seen: dict[str, str] = {}
        for name in book.sheet_names:
            if not any(name == k for k, _ in known):
                self.issues.append(
                    Issue(label, name, None, None, None, "不是台账工作表，已忽略", "warning")
                )
        errors: Future | None = None
        if is_ooxml:
            errors = self.pool.submit(_xlsx_error_cells, path, [n for n, _ in known])
        grids: list[tuple[str, Sheet, list[list[Any]], list[_Range]]] = []
        for name, sheet in known:
            if sheet.table in tables_seen:
                self.issues.append(
                    Issue(
                        label,
                        name,
                        None,
                        None,
                        None,
                        f"与工作表「{tables_seen[sheet.table]}」都是{sheet.name}，两张表都会读取",
                        "warning",
                    )
                )
            tables_seen.setdefault(sheet.table, name)
            try:
                data = book.get_sheet_by_name(name)
                rows = data.to_python(skip_empty_area=False)
                merged = list(getattr(data, "merged_cell_ranges", None) or [])
            except BaseException as exc:  # calamine errors and pyo3 panics on a corrupt part
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                self.issues.append(
                    Issue(label, name, None, None, None, "无法读取该工作表：文件可能已损坏")
                )
                continue
            grids.append((name, sheet, rows, merged))
        error_cells = errors.result() if errors is not None else {}
        for name, sheet, rows, merged in grids:
            outcome = self._read_sheet(label, name, sheet, rows, error_cells.get(name, []), merged)
            self.issues.extend(i for _, _, i in sorted(outcome.issues, key=lambda t: t[:2]))
            if outcome.frame is not None:
                self.frames[sheet.table].append(outcome.frame)
                if sheet.table == "units":
                    self.units_sheet_seen = True

    # -- one sheet -----------------------------------------------------------------------------

    def _read_sheet(
        self,
        label: str,
        name: str,
        sheet: Sheet,
        rows: list[list[Any]],
        error_cells: list[tuple[int, int, str]],
        merged: Sequence[_Range] = (),
    ) -> _SheetResult:
        issues: list[tuple[int, int, Issue]] = []

        def issue(
            row: int | None,
            col: int,
            column: str | None,
            value: str | None,
            message: str,
            severity: str = "error",
        ) -> None:
            excel_row = None if row is None else row + 1
            cell = f"{_column_letter(col)}{excel_row}" if column and excel_row else None
            found = Issue(
                label, name, excel_row, _clip(column), _clip(value), message, severity, cell
            )
            issues.append((excel_row or 0, col, found))

        if not error_cells and not any(_display(cell) for row in rows for cell in row):
            issue(None, 0, None, None, "工作表是空的，已跳过", "warning")
            return _SheetResult(None, issues)

        header, candidate = _find_header(rows, sheet, self.lookups[sheet.table])
        if header is None:
            names = "、".join(f"「{c.header}」" for c in sheet.required)
            if candidate is None:
                issue(
                    None,
                    0,
                    None,
                    None,
                    f"前 {HEADER_SCAN_ROWS} 行中找不到表头行：表头应包含必填列 {names}",
                )
            else:
                row, missing = candidate
                lacking = "、".join(f"「{c.header}」" for c in missing)
                issue(
                    row,
                    0,
                    None,
                    None,
                    f"表头缺少必填列 {lacking}（第 {row + 1} 行最像表头；必填列为 {names}）",
                )
            return _SheetResult(None, issues)

        # Header: duplicates, unknown columns.
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

        body = rows[header.row + 1 :]
        width = max((len(r) for r in rows), default=0)
        first_row = header.row + 1  # raw index of body[0]
        error_at = {(r, c): code for r, c, code in error_cells}
        for (r, c), code in sorted(error_at.items()):
            column_name = header.texts.get(c) if r > header.row else None
            uncached = code.startswith("=")  # a title above the header is no data: a warning
            issue(
                r,
                c,
                column_name or f"{_column_letter(c)} 列",
                code,
                UNCACHED_FORMULA
                if uncached
                else f"单元格是 Excel 错误值 {code}，请修正公式或填写实际数值",
                "warning" if uncached and r <= header.row else "error",
            )

        if not body:
            return _SheetResult(_empty_table(sheet, keep_private=True).iloc[0:0], issues)
        grid = np.empty((len(body), width), dtype=object)
        grid[:] = body

        # Factorise every column once: parsing and blank checks then run per distinct value.
        codes: dict[int, np.ndarray] = {}
        uniques: dict[int, np.ndarray] = {}
        texts: dict[int, np.ndarray] = {}
        blank = np.ones(len(body), dtype=bool)
        for col in range(width):
            col_codes, col_uniques = _factorize(grid[:, col])
            col_texts = np.array([_display(u) for u in col_uniques], dtype=object)
            codes[col], uniques[col], texts[col] = col_codes, col_uniques, col_texts
            blank &= (col_texts == "")[col_codes]
        for r, _ in error_at:  # an error cell makes its row non-blank
            if r > header.row and r - first_row < len(body):
                blank[r - first_row] = False
        keep = ~blank
        excel_rows = np.arange(first_row + 1, first_row + 1 + len(body), dtype=np.int64)[keep]
        n_rows = int(keep.sum())
        silent = set(error_at) | self._merged_issues(merged, header, excel_rows, issue)
        for col in range(width):
            codes[col] = codes[col][keep]

        # Columns with data but no header.
        for col in range(width):
            if col in header.texts:
                continue
            has_data = (texts[col] != "")[codes[col]]
            if has_data.any():
                at = int(np.flatnonzero(has_data)[0])
                issue(
                    int(excel_rows[at]) - 1,
                    col,
                    f"{_column_letter(col)} 列",
                    None if personal else str(texts[col][codes[col][at]]),  # may be personal
                    "该列有数据但没有表头，已忽略",
                    "warning",
                )

        data: dict[str, Any] = {}
        for column in sheet.columns:
            col = by_field.get(column.field)
            if col is None:
                data[column.field] = _missing_column(column.kind, n_rows)
                continue
            data[column.field] = self._parse_column(
                column,
                header.texts[col],
                col,
                codes[col],
                uniques[col],
                texts[col],
                excel_rows,
                silent,
                issue,
            )
        if not personal:
            used = set(data)
            for col, text in header.unknown.items():
                key = text if text not in used and text not in PROVENANCE else f"{text}_{col}"
                used.add(key)
                distinct = texts[col]
                is_error = np.fromiter((_is_excel_error(t) for t in distinct), bool, len(distinct))
                for at in np.flatnonzero(is_error[codes[col]]):
                    code = distinct[codes[col][at]]
                    issue(
                        int(excel_rows[at]) - 1,
                        col,
                        header.texts[col],
                        code,
                        f"单元格是 Excel 错误值 {code}，请修正公式或填写实际数值",
                    )
                data[key] = _str_column([t or None for t in distinct], codes[col])
        frame = pd.DataFrame(data)
        frame["_file"] = pd.Series([label] * n_rows, dtype="str")
        frame["_sheet"] = pd.Series([name] * n_rows, dtype="str")
        frame["_row"] = excel_rows

        if sheet.table == "activities":
            over = (frame["present"] > frame["expected"]).fillna(False).to_numpy(bool)
            col = by_field.get("present", 0)
            for at in np.flatnonzero(over):
                present, expected = frame["present"].iat[at], frame["expected"].iat[at]
                issue(
                    int(excel_rows[at]) - 1,
                    col,
                    header.texts.get(col),
                    str(present),
                    f"实到人数大于应到人数（{expected}）",
                )
        return _SheetResult(frame, issues)

    @staticmethod
    def _merged_issues(
        merged: Sequence[_Range],
        header: _Header,
        excel_rows: np.ndarray,
        issue: Callable[..., None],
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
            ref = f"{_column_letter(left)}{top + 1}:{_column_letter(right)}{bottom + 1}"
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
        self,
        column: Column,
        header_text: str,
        col: int,
        codes: np.ndarray,
        uniques: np.ndarray,
        texts: np.ndarray,
        excel_rows: np.ndarray,
        silent: Collection[tuple[int, int]],
        issue: Callable[..., None],
    ) -> pd.Series:
        """Parse one column per distinct value; report each bad or missing required cell."""
        parse = self.parsers[column.kind]
        size = len(uniques)
        values = np.empty(size, dtype=object)
        messages = np.empty(size, dtype=object)
        is_blank = texts == ""
        for i in range(size):
            text = texts[i]
            if is_blank[i]:
                values[i], messages[i] = None, None
            elif _is_excel_error(text):
                values[i] = None
                messages[i] = f"单元格是 Excel 错误值 {text}，请修正公式或填写实际数值"
            else:
                values[i], messages[i] = parse(uniques[i])
        bad_unique = np.fromiter((m is not None for m in messages), bool, size)
        for at in np.flatnonzero(bad_unique[codes]):
            issue(
                int(excel_rows[at]) - 1,
                col,
                header_text,
                str(texts[codes[at]]),
                messages[codes[at]],
            )
        if column.required:
            for at in np.flatnonzero(is_blank[codes]):
                row = int(excel_rows[at]) - 1
                if (row, col) not in silent:  # already named as an error value or a merge
                    issue(row, col, header_text, None, f"必填项「{column.header}」为空")

        dtype = _dtype_for(column.kind)
        if column.kind == Kind.DATE:
            table = np.array([_NAT if v is None else v for v in values], dtype="datetime64[ns]")
            return pd.Series(table[codes] if size else np.array([], "datetime64[ns]"), dtype=dtype)
        if column.kind in (Kind.COUNT, Kind.NUMBER):
            table = np.array([np.nan if v is None else v for v in values], dtype="float64")
            floats = table[codes] if size else np.array([], "float64")
            return pd.Series(floats).astype(dtype)
        return _str_column(values, codes)

    # -- across files --------------------------------------------------------------------------

    def finish(self) -> IngestResult:
        self.pool.shutdown(wait=False)
        tables: dict[str, pd.DataFrame] = {}
        for sheet in SHEETS:
            parts = [f for f in self.frames[sheet.table] if len(f)]
            empty = _empty_table(sheet, keep_private=True)
            if not parts:
                tables[sheet.table] = empty
                continue
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            dtypes = {c: empty[c].dtype for c in empty.columns}
            extra = {c: "str" for c in frame.columns if c not in dtypes}  # unknown columns
            tables[sheet.table] = frame.astype({**dtypes, **extra})
        self._check_units(tables)
        self._check_duplicate_activities(tables["activities"])
        units = _units_in_order(tables)
        if self.units_sheet_seen:
            listed = set(tables["units"]["unit"].dropna())
            logged = tables["activities"].dropna(subset=["unit"]).drop_duplicates(subset=["unit"])
            for _, first in logged[~logged["unit"].isin(listed)].iterrows():
                unit = first["unit"]
                self.issues.append(
                    Issue(
                        first["_file"],
                        first["_sheet"],
                        int(first["_row"]),
                        None,
                        _clip(unit),
                        f"单位「{_clip(unit)}」出现在活动台账中，但单位信息表中没有它",
                        "warning",
                    )
                )
        _protect_privacy(tables)
        return IngestResult(tables, self.issues, self.files, units)

    def _check_units(self, tables: dict[str, pd.DataFrame]) -> None:
        frame = tables["units"]
        if frame.empty:
            return
        org = frame["org_name"]
        frame["org_name"] = org.where(org.notna(), "中共" + frame["unit"] + "委员会")
        named = frame[frame["unit"].notna()]
        figures = ["org_name", "staff_total", "party_workers"]
        for unit, group in named.groupby("unit", sort=False):
            if len(group) < 2:
                continue
            first = group.iloc[0]
            for _, row in group.iloc[1:].iterrows():
                where_first = _location(first, row)
                same = all(_same(row[f], first[f]) for f in figures)
                if same:
                    message, severity = f"单位「{unit}」重复列出（与{where_first}相同）", "warning"
                else:
                    message = f"单位「{unit}」列出两次且数据不同：另见{where_first}，请只保留一行"
                    severity = "error"
                self.issues.append(
                    Issue(
                        row["_file"], row["_sheet"], int(row["_row"]), None, unit, message, severity
                    )
                )
        frame = frame.drop_duplicates(subset=["unit"], keep="first")
        tables["units"] = frame.reset_index(drop=True)

    def _check_duplicate_activities(self, frame: pd.DataFrame) -> None:
        """Warn about rows that repeat another row exactly; rows with errors are left out."""
        if len(frame) < 2:
            return
        bad = {(i.file, i.sheet, i.row) for i in self.issues if i.severity == "error"}
        if bad:
            where = zip(frame["_file"], frame["_sheet"], frame["_row"], strict=True)
            frame = frame[[w not in bad for w in where]]
        subset = [c.field for c in ACTIVITIES.columns]
        later = frame.duplicated(subset=subset, keep="first").to_numpy()
        if not later.any():
            return
        groups = frame.groupby(subset, dropna=False, sort=False).ngroup().to_numpy()
        first_at = pd.Series(np.arange(len(frame))).groupby(groups).transform("first").to_numpy()
        for at in np.flatnonzero(later):
            first = frame.iloc[int(first_at[at])]
            row = frame.iloc[at]
            self.issues.append(
                Issue(
                    row["_file"],
                    row["_sheet"],
                    int(row["_row"]),
                    None,
                    None,
                    f"与{_location(first, row)}完全相同，可能重复登记",
                    "warning",
                )
            )


def _same(a: Any, b: Any) -> bool:
    """Equality where two missing values are equal (pd.NA == x is neither true nor false)."""
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    return bool(a == b)


def _location(target: pd.Series, here: pd.Series) -> str:
    """Where `target` is, said briefly when it is in the same sheet as `here`."""
    if (target["_file"], target["_sheet"]) == (here["_file"], here["_sheet"]):
        return f"第 {target['_row']} 行"
    return f" {target['_file']} 工作表「{target['_sheet']}」第 {target['_row']} 行"


def _units_in_order(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    seen: dict[str, None] = {}
    for table in ("units", "activities"):
        for unit in pd.unique(tables[table]["unit"].dropna()):
            seen.setdefault(str(unit), None)
    return list(seen)


_NAME_LIST_SEPARATORS = re.compile(r"([、，,；;/／]+)")


def _protect_privacy(tables: dict[str, pd.DataFrame]) -> None:
    """Replace roster names in presenters by the member's post, then drop every name column.

    Names from 党员名册 never reach a report: a presenter cell naming a member (alone, in a list
    such as 甄士隐、贾雨村, or within text such as 书记甄士隐) shows that member's post in the
    same unit, or 党员 when the name is on another unit's roster.
    """
    members = tables["members"]
    activities = tables["activities"]
    if not members.empty and not activities.empty:
        roster = members[members["name"].notna()]
        posts: dict[tuple[str, str], str] = {}  # (unit, name), both normalised -> post
        names: set[str] = set()
        columns = (roster["unit"], roster["name"], roster["party_post"])
        for unit, name, post in zip(*columns, strict=True):
            key = normalize_name(name)
            if not key:
                continue
            names.add(key)
            if not isinstance(unit, str):
                continue
            where = (normalize_name(unit), key)
            if not isinstance(post, str) or not post:
                posts.setdefault(where, "党员")
            elif posts.get(where) in (None, "党员"):
                posts[where] = post
        presenter = activities["presenter"]
        has = presenter.notna()
        if names and has.any():
            longest_first = sorted((n for n in names if len(n) >= 2), key=len, reverse=True)
            within = re.compile("|".join(map(re.escape, longest_first))) if longest_first else None
            cache: dict[tuple[str, str], str] = {}

            def redact(unit: Any, text: str) -> str:
                unit_key = normalize_name(unit) if isinstance(unit, str) else ""
                done = cache.get((unit_key, text))
                if done is not None:
                    return done
                parts = _NAME_LIST_SEPARATORS.split(text)
                for i in range(0, len(parts), 2):  # odd indexes hold the separators
                    key = normalize_name(parts[i])
                    found = key if key in names else None
                    if found is None and within is not None:
                        match = within.search(key)
                        found = match.group(0) if match else None
                    if found is not None:
                        parts[i] = posts.get((unit_key, found), "党员")
                done = cache[(unit_key, text)] = "".join(parts)
                return done

            values = [
                redact(u, p)
                for u, p in zip(activities.loc[has, "unit"], presenter[has], strict=True)
            ]
            activities.loc[has, "presenter"] = pd.Series(
                values, index=presenter[has].index, dtype="str"
            )
    for table, fields in PRIVATE_FIELDS.items():
        tables[table] = tables[table].drop(columns=list(fields))


def read_workbooks(
    paths: Sequence[Path | str], extra_types: Mapping[str, Iterable[str]] | None = None
) -> IngestResult:
    """Read and validate workbooks; problems come back as Issues, never as exceptions."""
    reader = _Reader(extra_types)
    try:
        for path in paths:
            reader.read_file(Path(path))
        return reader.finish()
    finally:
        reader.pool.shutdown(wait=True)
