"""Workbook files: checks before opening, opening by content, every sheet's cells, and what
calamine cannot see.

A file that cannot be read at all (missing, a folder, encrypted, a CSV, a renamed web page) is
one FileProblem whose message says what to do. An .xlsx is also scanned for cells calamine reads
as blank: Excel error values and formulas that were never calculated. Nothing here needs pandas,
so a process can start reading a workbook while it still imports the rest.
"""

from __future__ import annotations

import html
import io
import re
import stat
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import python_calamine as calamine

from reportkit.data.ingest.cells import column_index
from reportkit.data.ingest.header import Range
from reportkit.data.sources import WORKBOOK_SUFFIXES

_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")


class FileProblem(Exception):
    """A whole file cannot be read; the message is shown to the user as is."""


def _check_file(path: Path) -> tuple[bytes, int]:
    """The first bytes and size of a readable workbook file, or a FileProblem saying why not."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileProblem("文件不存在，请检查路径和文件名") from None
    except NotADirectoryError:
        raise FileProblem("文件不存在：路径中的某一级不是文件夹，请检查路径") from None
    except PermissionError:
        raise FileProblem("没有访问该文件的权限（所在文件夹不允许读取）") from None
    except OSError as exc:
        raise FileProblem(f"无法访问文件：{exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise FileProblem("这是一个文件夹，不是工作簿文件；请给出其中的 .xlsx 文件")
    if not stat.S_ISREG(mode):  # a FIFO or a device: opening it could block for ever
        raise FileProblem("这不是普通文件（可能是管道或设备），请给出 .xlsx 工作簿文件")
    suffix = path.suffix.lower()
    text_suffix = suffix in (".csv", ".tsv", ".txt")
    if suffix not in WORKBOOK_SUFFIXES and not text_suffix:
        raise FileProblem(
            f"不支持的文件类型「{suffix or '无扩展名'}」：请提供 .xlsx、.xlsm、.xls 或 .ods 工作簿"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
        size = path.stat().st_size
    except PermissionError:
        raise FileProblem("没有读取该文件的权限") from None
    except OSError as exc:
        raise FileProblem(f"无法读取文件：{exc.strerror or exc}") from None
    if text_suffix:
        if head.startswith((_ZIP_MAGIC, _CFB_MAGIC)):
            raise FileProblem(
                f"扩展名是 {suffix}，但内容是 Excel 工作簿（可能被改了扩展名）："
                "请把扩展名改回 .xlsx（旧版 Excel 文件为 .xls）再试"
            )
        raise FileProblem(
            f"不支持 {suffix} 文本文件：请在 Excel 中打开后「另存为」Excel 工作簿（.xlsx）再试"
        )
    if size == 0:
        raise FileProblem("文件是空的（0 字节），请重新保存或换用正确的文件")
    return head, size


def open_workbook(path: Path) -> tuple[calamine.CalamineWorkbook, bool]:
    """Open a workbook by its content; return it and whether it is a zip-based .xlsx/.xlsm."""
    head, _ = _check_file(path)
    suffix = path.suffix.lower()
    is_zip = head.startswith(_ZIP_MAGIC)
    is_cfb = head.startswith(_CFB_MAGIC)
    if is_cfb and suffix != ".xls":
        if _ENCRYPTION_INFO in path.read_bytes():
            raise FileProblem(
                "文件已加密（设置了打开密码）：请在 Excel 中取消密码后另存为 .xlsx 再试"
            )
    elif not is_zip and not is_cfb:
        if head.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
            raise FileProblem(
                "文件内容不是 Excel 工作簿（像是网页导出后改了扩展名）："
                "请在 Excel 中打开后另存为 .xlsx 再试"
            )
        raise FileProblem("文件内容不是有效的工作簿（可能已损坏，或是其他文件改了扩展名）")
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
        raise FileProblem("文件已加密（设置了打开密码）：请取消密码后另存为 .xlsx 再试") from None
    except PermissionError:
        raise FileProblem("没有读取该文件的权限") from None
    except BaseException as exc:  # calamine raises several types, and pyo3 panics
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise FileProblem(
            f"无法打开工作簿：文件已加密或已损坏（{type(exc).__name__}）。"
            "请在 Excel 中打开确认，并另存为 .xlsx 再试"
        ) from None
    is_ooxml = is_zip and suffix in (".xlsx", ".xlsm")
    return book, is_ooxml


ErrorCells = dict[str, list[tuple[int, int, str]]]


@dataclass
class WorkbookCells:
    """Every sheet of one workbook as calamine reads it, before any check: the costly part of
    reading, which needs no parameters."""

    sheet_names: list[str]
    #: (sheet, rows of raw cells, merged ranges) of each sheet that could be read, in order
    grids: list[tuple[str, list[list[Any]], list[Range]]] = field(default_factory=list)
    #: sheets calamine could not read (a corrupt part)
    unreadable: list[str] = field(default_factory=list)
    error_cells: ErrorCells = field(default_factory=dict)


def read_cells(path: Path) -> WorkbookCells:
    """Open a workbook and read all its sheets; FileProblem when the file cannot be read.

    An .xlsx is scanned for error cells in a thread beside calamine: calamine and zlib both
    release the GIL, so on two cores the scan costs no wall time."""
    book, is_ooxml = open_workbook(path)
    try:
        cells = WorkbookCells(list(book.sheet_names))
        with ThreadPoolExecutor(max_workers=1) as pool:
            errors = pool.submit(xlsx_error_cells, path, cells.sheet_names) if is_ooxml else None
            for name in cells.sheet_names:
                grid = _grid(book, name)
                if grid is None:
                    cells.unreadable.append(name)
                else:
                    cells.grids.append((name, *grid))
            cells.error_cells = errors.result() if errors is not None else {}
    finally:
        book.close()
    return cells


def _grid(book: calamine.CalamineWorkbook, name: str) -> tuple[list[list[Any]], list[Range]] | None:
    """A sheet's cells and merged ranges, or None when it cannot be read."""
    try:
        data = book.get_sheet_by_name(name)
        rows = data.to_python(skip_empty_area=False)
        merged = list(getattr(data, "merged_cell_ranges", None) or [])
    except BaseException as exc:  # calamine errors and pyo3 panics on a corrupt part
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None
    return rows, merged


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
#: A quick test that a sheet may hold an error cell: one pass, half the time of two `in` tests.
_MAY_HAVE_ERROR = re.compile(rb"t=[\"']e[\"']")
#: The message for such a cell; the same for every cell, so the terminal groups them per column.
UNCACHED_FORMULA = (
    "单元格是公式，但文件中没有它的计算结果：文件可能是程序生成的，从未在 Excel/WPS 中保存过。"
    "请用 Excel 或 WPS 打开该文件，保存后再试"
)
_CELL_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def xlsx_error_cells(path: Path, sheet_names: Sequence[str]) -> ErrorCells:
    """Cells holding an Excel error value (#REF! …), per sheet: (row index, column index, code).

    A formula with no cached result is included with its formula ("=DATE(2019,3,5)") as code.
    calamine reports both as blank, so an .xlsx is scanned separately.
    """
    found: ErrorCells = {}
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
                            row, col = int(ref.group(2)) - 1, column_index(ref.group(1).decode())
                            cells.append((row, col, f"={html.unescape(formula)}"))
                if not _MAY_HAVE_ERROR.search(data):
                    continue
                for match in _CELL_WITH_ERROR.finditer(data):
                    ref = _CELL_REF.search(match.group(1))
                    value = _CELL_VALUE.search(match.group(2) or b"")
                    if ref:
                        code = value.group(1).decode("utf-8", "replace") if value else "#错误"
                        row, col = int(ref.group(2)) - 1, column_index(ref.group(1).decode())
                        cells.append((row, col, code))
    except Exception:  # noqa: BLE001 - best effort: calamine reports an unreadable file itself
        return found
    return found


# --------------------------------------------------------------------------------------------
# Sheets
