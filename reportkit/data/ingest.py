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
from typing import Any, Protocol
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import python_calamine as calamine

from reportkit.data.schema import ACTIVITIES, SHEETS, Column, Kind, Sheet, sheet_for
from reportkit.data.text import normalize_name, normalize_value
from reportkit.data.vocabulary import (
    DISCIPLINE as DISCIPLINE_VOCAB,
)
from reportkit.data.vocabulary import (
    MEMBER_CATEGORY,
    YES_NO_VOCAB,
    Vocabulary,
    activity_vocabulary,
)
from reportkit.errors import Issue, UsageError

__all__ = [
    "PROVENANCE",
    "WORKBOOK_SUFFIXES",
    "FileParse",
    "IngestResult",
    "ParseCache",
    "ingest_params",
    "read_workbooks",
    "table_columns",
]

WORKBOOK_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm", ".xls", ".ods")
#: Provenance columns kept in every table so any figure can be traced back to a cell.
PROVENANCE: tuple[str, ...] = ("_file", "_sheet", "_row")
#: How far down a sheet the header row may be (title rows, notes, blank rows above it).
HEADER_SCAN_ROWS = 30
#: How many rows one header may span: a group row (参加人数 over 应到/实到) and one more.
HEADER_MAX_ROWS = 3
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


@dataclass
class FileParse:
    """What one workbook adds before the checks across files (units, duplicates, privacy).

    A parse cache keeps it per workbook, so that an unchanged workbook among changed ones is
    not read again. Its tables still hold the roster names that `finish` removes.
    """

    #: the frames of each table read from this file's sheets (a table seen with no rows: one
    #: empty frame; a table not in the file: none)
    frames: dict[str, list[pd.DataFrame]]
    issues: list[Issue]
    #: a sheet without a 单位 column, named only in `finish`: such a parse is not cached
    unnamed: bool = False

    @property
    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)


class ParseCache(Protocol):
    """Where read_workbooks finds and keeps FileParses, e.g. the dataset cache's folder."""

    def load(self, path: Path) -> FileParse | None: ...

    def store(self, path: Path, parse: FileParse) -> None: ...


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


def _excel_error_mask(texts: np.ndarray) -> np.ndarray:
    """_is_excel_error of every distinct text (cheaper than pandas' string methods on the few
    hundred distinct values a column usually holds)."""
    return np.fromiter(map(_is_excel_error, texts), bool, len(texts))


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
    row: int  # index into the raw rows (Excel row - 1) of the last header row; data follow it
    fields: dict[int, Column]  # column index -> contract column
    unknown: dict[int, str]  # column index -> header text, normalised (a dataset column name)
    texts: dict[int, str]  # column index -> header text as written (trimmed), for messages
    top: int  # first header row: a header of two or three rows starts above `row`

    def found(self) -> set[str]:
        return {c.field for c in self.fields.values()}


def _header_lookup(sheet: Sheet) -> dict[str, Column]:
    return {normalize_name(word): c for c in sheet.columns for word in (c.header, *c.aliases)}


def _needed(sheet: Sheet) -> set[str]:
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


def _qualifies(header: _Header, sheet: Sheet, by_name: bool) -> bool:
    """A header matches a contract when it has the needed columns. Without the sheet's name to
    go by, it must also have a column of that contract's own: 单位 and 党支部 alone could be
    anything."""
    found = header.found()
    return (
        bool(found)
        and _needed(sheet) <= found
        and (by_name or bool(found & _OWN_FIELDS[sheet.table]))
    )


def _group_cells(rows: Sequence[list[Any]], merged: Sequence[_Range]) -> dict[tuple[int, int], Any]:
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
        text = _display(cell)
        if text:
            cells[col] = _CONTROL_CHARS.sub("", cell).strip() if isinstance(cell, str) else text
    return cells


def _assemble(
    stack: Mapping[int, list[str]], row: int, top: int, lookup: Mapping[str, Column]
) -> _Header:
    """A header from each column's stacked texts (参加人数 over 应到), resolved by the whole
    text first (党支部/名称 → 党支部名称), then by its lowest part (参加人数/应到 → 应到)."""
    fields: dict[int, Column] = {}
    unknown: dict[int, str] = {}
    texts: dict[int, str] = {}
    for col, parts in sorted(stack.items()):
        texts[col] = "/".join(parts)
        column = lookup.get(normalize_name("".join(parts))) or lookup.get(normalize_name(parts[-1]))
        if column is None:
            unknown[col] = normalize_value("/".join(_display(p) for p in parts))
        else:
            fields[col] = column
    return _Header(row, fields, unknown, texts, top)


def _header_at(
    rows: Sequence[list[Any]],
    groups: Mapping[tuple[int, int], Any],
    top: int,
    lookup: Mapping[str, Column],
) -> _Header:
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


def _classify(
    rows: Sequence[list[Any]],
    merged: Sequence[_Range],
    lookups: Mapping[str, Mapping[str, Column]],
    named: Sheet | None,
) -> tuple[Sheet, _Header] | tuple[None, list[Sheet]] | None:
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
) -> tuple[Sheet, _Header] | tuple[None, list[Sheet]] | None:
    """The first row (within HEADER_SCAN_ROWS) that is a header of one of `sheets`."""
    for top in range(min(len(rows), HEADER_SCAN_ROWS)):
        matches: list[tuple[int, Sheet, _Header]] = []
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
    needed = _needed(sheet)
    best: tuple[int, int, int, list[Column]] | None = None  # (score, known, row, missing)
    for index in range(min(len(rows), HEADER_SCAN_ROWS)):
        found = _header_at(rows, {}, index, lookup).found()
        score = len(needed & found)
        if score and (best is None or (score, len(found)) > (best[0], best[1])):
            missing = [c for c in sheet.required if c.field in needed - found]
            best = (score, len(found), index, missing)
    return (best[2], best[3]) if best else None


@dataclass
class _SheetResult:
    frame: pd.DataFrame | None
    issues: list[tuple[int, int, Issue]]  # (row, column index) sort key and the issue


@dataclass
class _Unnamed:
    """A sheet with no 单位 column, whose unit is named in `finish` (see `_name_units`)."""

    frame: pd.DataFrame
    file: str
    sheet: str
    titles: list[tuple[int, str]]  # (Excel row, text) of the title rows above the header


class _Reader:
    """Reads files one by one and gathers tables and issues; `finish` cross-checks them."""

    def __init__(
        self,
        extra_types: Mapping[str, Iterable[str]] | None,
        file_units: Mapping[str, str] | None = None,
    ) -> None:
        # Kind.TEXT needs no parser: a text value is its display text (see _parse_column).
        self.parsers: dict[Kind, Callable[[Any], _Parsed]] = {
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
        self.file_units = dict(file_units or {})
        self.listed: dict[str, list[str]] = {}  # file -> units its 单位信息 sheets list
        self.unnamed: list[_Unnamed] = []
        self.pool = ThreadPoolExecutor(max_workers=1)

    # -- files ---------------------------------------------------------------------------------

    def read_file_parse(self, path: Path) -> FileParse:
        """Read one file, and return what it added."""
        frames_before = {t: len(f) for t, f in self.frames.items()}
        issues_before = len(self.issues)
        unnamed_before = len(self.unnamed)
        self.read_file(path)
        return FileParse(
            {t: f[frames_before[t] :] for t, f in self.frames.items()},
            self.issues[issues_before:],
            unnamed=len(self.unnamed) > unnamed_before,
        )

    def add(self, path: Path, parse: FileParse) -> None:
        """What an earlier read of this (unchanged) file added, as if it were read now."""
        self.files.append(str(path))
        for table, frames in parse.frames.items():
            self.frames[table].extend(frames)
        self.issues.extend(parse.issues)
        self.units_sheet_seen |= bool(parse.frames.get("units"))

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
        """Read every sheet whose header matches a contract, whatever the sheet is called."""

        def problem(sheet: str | None, message: str, severity: str = "error") -> None:
            self.issues.append(Issue(label, sheet, None, None, None, message, severity))

        errors: Future | None = None
        if is_ooxml:
            errors = self.pool.submit(_xlsx_error_cells, path, list(book.sheet_names))
        grids: list[tuple[str, list[list[Any]], list[_Range]]] = []
        for name in book.sheet_names:
            try:
                data = book.get_sheet_by_name(name)
                rows = data.to_python(skip_empty_area=False)
                merged = list(getattr(data, "merged_cell_ranges", None) or [])
            except BaseException as exc:  # calamine errors and pyo3 panics on a corrupt part
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                problem(name, "无法读取该工作表：文件可能已损坏")
                continue
            grids.append((name, rows, merged))
        error_cells = errors.result() if errors is not None else {}
        recognised = 0
        ignored: list[str] = []
        for name, rows, merged in grids:
            named = sheet_for(name)
            cells = error_cells.get(name, [])
            if not cells and not any(_display(cell) for row in rows for cell in row):
                if named is not None:
                    recognised += 1
                    problem(name, "工作表是空的，已跳过", "warning")
                continue
            found = _classify(rows, merged, self.lookups, named)
            if found is None and named is None:
                ignored.append(name)
                continue
            recognised += 1
            if found is None:
                self._header_problem(label, name, named, rows)
                continue
            sheet, header = found
            if sheet is None:
                both = "、".join(f"「{s.name}」" for s in header)
                problem(
                    name,
                    f"表头同时符合{both}，无法判断是哪种表：请按模板修改列名，"
                    "或把工作表命名为其中之一",
                )
                continue
            outcome = self._read_sheet(label, name, sheet, header, rows, cells, merged)
            self.issues.extend(i for _, _, i in sorted(outcome.issues, key=lambda t: t[:2]))
            if outcome.frame is None:
                continue
            self.frames[sheet.table].append(outcome.frame)
            if sheet.table == "units":
                self.units_sheet_seen = True
                self.listed.setdefault(label, []).extend(outcome.frame["unit"].dropna())
            elif "unit" not in header.found():
                titles = [
                    (r + 1, " ".join(_display(c) for c in rows[r] if _display(c)))
                    for r in range(header.top)
                ]
                self.unnamed.append(
                    _Unnamed(outcome.frame, label, name, [t for t in titles if t[1]])
                )
        found_names = "、".join(f"「{n}」" for n in book.sheet_names) or "无"
        if not recognised:
            expected = "、".join(f"「{s.name}」" for s in SHEETS)
            problem(
                None,
                f"没有可识别的工作表：没有一张表的表头符合 {expected} 之一"
                f"（现有工作表：{found_names}）",
            )
        elif ignored:
            names = "、".join(f"「{n}」" for n in ignored)
            problem(None, f"工作表 {names} 的表头不像任何一种台账表，已忽略", "warning")

    def _header_problem(self, label: str, name: str, sheet: Sheet, rows: list[list[Any]]) -> None:
        """A sheet named as a contract whose header is not there: say what is missing."""
        names = "、".join(f"「{c.header}」" for c in sheet.required if c.field in _needed(sheet))
        candidate = _missing_columns(rows, sheet, self.lookups[sheet.table])
        if candidate is None:
            self.issues.append(
                Issue(
                    label,
                    name,
                    None,
                    None,
                    None,
                    f"前 {HEADER_SCAN_ROWS} 行中找不到表头行：表头应包含必填列 {names}",
                )
            )
            return
        row, missing = candidate
        lacking = "、".join(f"「{c.header}」" for c in missing)
        self.issues.append(
            Issue(
                label,
                name,
                row + 1,
                None,
                None,
                f"表头缺少必填列 {lacking}（第 {row + 1} 行最像表头；必填列为 {names}）",
            )
        )

    # -- one sheet -----------------------------------------------------------------------------

    def _read_sheet(
        self,
        label: str,
        name: str,
        sheet: Sheet,
        header: _Header,
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
        size = len(uniques)
        messages = np.full(size, None, dtype=object)
        is_blank = texts == ""
        is_error = _excel_error_mask(texts)
        for i in np.flatnonzero(is_error):
            messages[i] = f"单元格是 Excel 错误值 {texts[i]}，请修正公式或填写实际数值"
        todo = ~is_blank & ~is_error
        if column.kind == Kind.TEXT:
            # A text value is its display text, which the caller already made once per distinct
            # value: only the length limit is left to check, without a Python call per value.
            values = np.where(todo, texts, None)
            lengths = np.fromiter(map(len, texts), np.int64, size)
            for i in np.flatnonzero(todo & (lengths > MAX_CELL_CHARS)):
                values[i], messages[i] = None, _too_long(texts[i])
        else:
            parse = self.parsers[column.kind]
            values = np.full(size, None, dtype=object)
            for i in np.flatnonzero(todo):
                values[i], messages[i] = parse(uniques[i])
        bad_unique = np.not_equal(messages, None)
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
        self._name_units()
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
        self._check_lifetimes(tables["branches"])
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

    def _name_units(self) -> None:
        """Fill in the unit of each sheet that has no 单位 column, and say which rule named it.

        Rules, first that applies: params `files: {<file>: {unit: …}}`; the workbook's 单位信息
        sheet when it lists exactly one unit; a unit named in the title rows (the text before
        党建/台账/活动, or a known unit the title contains); the file name. When 单位信息 and
        the title disagree, that is an error: either could be the mistake.
        """
        known = {
            str(u)
            for table in ("units", "activities")
            for frame in self.frames[table]
            for u in frame["unit"].dropna().unique()
        }
        said: set[tuple[str, str, str]] = set()
        for item in self.unnamed:
            path = Path(item.file)
            explicit = self.file_units.get(path.name) or self.file_units.get(item.file)
            listed = list(dict.fromkeys(self.listed.get(item.file, [])))
            from_list = listed[0] if len(listed) == 1 else None
            from_title = next(
                ((row, text, u) for row, text in item.titles if (u := _unit_in_text(text, known))),
                None,
            )
            if explicit:
                unit, rule = str(explicit), "参数 files 中为该文件指定的单位"
            elif from_list:
                unit, rule = from_list, "本工作簿「单位信息」表中的唯一单位"
                if from_title and normalize_name(from_title[2]) != normalize_name(from_list):
                    row, text, other = from_title
                    self.issues.append(
                        Issue(
                            item.file,
                            item.sheet,
                            row,
                            None,
                            _clip(text),
                            f"标题行中的单位「{other}」与本工作簿「单位信息」表中的单位"
                            f"「{from_list}」不一致：请改正其一，或在参数 files 中指定该文件的单位",
                        )
                    )
            elif from_title:
                unit, rule = from_title[2], f"第 {from_title[0]} 行标题「{_clip(from_title[1])}」"
            else:
                unit = _unit_in_text(path.stem, known) or normalize_value(path.stem)
                rule = "文件名"
            item.frame["unit"] = pd.Series([unit] * len(item.frame), dtype="str")
            if (item.file, unit, rule) not in said:
                said.add((item.file, unit, rule))
                self.issues.append(
                    Issue(
                        item.file,
                        item.sheet,
                        None,
                        None,
                        None,
                        f"没有「单位」列，按{rule}确定单位为「{unit}」",
                        "note",
                    )
                )

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

    def _check_lifetimes(self, frame: pd.DataFrame) -> None:
        """A branch cannot be dissolved on or before the day it was founded."""
        wrong = (frame["dissolved"] <= frame["founded"]).fillna(False).to_numpy(bool)
        for _, row in frame[wrong].iterrows():
            self.issues.append(
                Issue(
                    row["_file"],
                    row["_sheet"],
                    int(row["_row"]),
                    "撤销日期",
                    row["dissolved"].date().isoformat(),
                    f"撤销日期不晚于成立日期（{row['founded'].date().isoformat()}）",
                )
            )

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
        has = presenter.notna().to_numpy()
        if names and has.any():
            lengths = sorted({len(n) for n in names if len(n) >= 2}, reverse=True)

            def name_within(key: str) -> str | None:
                """The leftmost roster name in key, the longest one where several start there."""
                for start in range(len(key) - 1):
                    for length in lengths:
                        if key[start : start + length] in names:
                            return key[start : start + length]
                return None

            def redact(unit: Any, text: str) -> str:
                unit_key = normalize_name(unit) if isinstance(unit, str) else ""
                parts = _NAME_LIST_SEPARATORS.split(text)
                for i in range(0, len(parts), 2):  # odd indexes hold the separators
                    key = normalize_name(parts[i])
                    found = key if key in names else name_within(key)
                    if found is not None:
                        parts[i] = posts.get((unit_key, found), "党员")
                return "".join(parts)

            # Once per distinct (unit, presenter) pair: a log repeats the same few thousand.
            pairs = activities.loc[has, ["unit", "presenter"]]
            codes = pairs.groupby(["unit", "presenter"], dropna=False, sort=False).ngroup()
            distinct = pairs.drop_duplicates()  # in the order ngroup numbers them
            texts = zip(distinct["unit"], distinct["presenter"], strict=True)
            redacted = np.array([redact(u, p) for u, p in texts], dtype=object)
            activities.loc[has, "presenter"] = pd.Series(
                redacted[codes.to_numpy()], index=pairs.index, dtype="str"
            )
    for table, fields in PRIVATE_FIELDS.items():
        tables[table] = tables[table].drop(columns=list(fields))


_TITLE_UNIT = re.compile(r"^(.*?)(?:党建|台账|活动)")
_TITLE_YEARS = re.compile(
    r"(?:19|20)\d{2}\s*(?:年度?)?(?:\s*[-—–~～至到]\s*(?:19|20)\d{2}\s*(?:年度?)?)?"
)
_TITLE_TRIM = " \t:：·-—–_（）()【】[]《》"


def _unit_in_text(text: str, known: Collection[str]) -> str | None:
    """The unit a title or file name names: the longest known unit it contains, else the text
    before 党建/台账/活动 without years (XX税务局2019年党建活动台账 → XX税务局)."""
    key = normalize_name(text)
    hits = [u for u in known if normalize_name(u) and normalize_name(u) in key]
    if hits:
        return max(hits, key=len)
    match = _TITLE_UNIT.match(normalize_value(text))
    if match is None:
        return None
    return _TITLE_YEARS.sub("", match.group(1)).strip(_TITLE_TRIM) or None


def ingest_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """What reading needs from params, as keyword arguments of read_workbooks:
    `vocabulary.extra_types`, and each file's unit from `files: {<file>: {unit: …}}`."""
    extra = (params.get("vocabulary") or {}).get("extra_types") or {}
    files = params.get("files") or {}
    if not isinstance(files, Mapping):
        raise UsageError("参数 files 应为「文件名: {unit: 单位}」的映射")
    units: dict[str, str] = {}
    for name, spec in files.items():
        unit = spec.get("unit") if isinstance(spec, Mapping) else None
        if not isinstance(unit, str) or not unit.strip():
            raise UsageError(f"参数 files.{name} 应写成 {{unit: 单位名称}}")
        units[str(name)] = normalize_value(unit)
    return {"extra_types": extra, "file_units": units}


def read_workbooks(
    paths: Sequence[Path | str],
    extra_types: Mapping[str, Iterable[str]] | None = None,
    file_units: Mapping[str, str] | None = None,
    cache: ParseCache | None = None,
) -> IngestResult:
    """Read and validate workbooks; problems come back as Issues, never as exceptions.

    `file_units` names the unit of a workbook that has no 单位 column, by file name or path.
    With a cache, a workbook read before (as the cache tells by its content) is not read again,
    and a workbook read now without errors is kept there, unless a sheet of it names its unit
    only through the other workbooks (title or file name rules, see `_name_units`).
    """
    reader = _Reader(extra_types, file_units)
    try:
        for path in map(Path, paths):
            stored = cache.load(path) if cache is not None else None
            if stored is not None:
                reader.add(path, stored)
                continue
            parse = reader.read_file_parse(path)
            if cache is not None and not parse.has_errors and not parse.unnamed:
                cache.store(path, parse)
        return reader.finish()
    finally:
        reader.pool.shutdown(wait=True)
