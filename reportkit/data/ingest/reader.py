"""Reading workbooks: every file, every sheet whose header fits a contract, then the checks
across files; the entry point `read_workbooks`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from reportkit.data.ingest.cells import display, parsers
from reportkit.data.ingest.files import FileProblem, WorkbookCells, read_cells
from reportkit.data.ingest.header import (
    Header,
    Range,
    classify,
    header_lookup,
    missing_header_issue,
)
from reportkit.data.ingest.privacy import protect_privacy
from reportkit.data.ingest.rules import check_tables
from reportkit.data.ingest.sheet import read_sheet
from reportkit.data.ingest.tables import empty_table
from reportkit.data.ingest.units import Unnamed, name_units, units_in_order
from reportkit.data.schema import SHEETS, Sheet, sheet_for
from reportkit.errors import Issue


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


class Reader:
    """Reads files one by one and gathers tables and issues; `finish` cross-checks them."""

    def __init__(
        self,
        extra_types: Mapping[str, Iterable[str]] | None,
        file_units: Mapping[str, str] | None = None,
        read: Callable[[Path], WorkbookCells] = read_cells,
    ) -> None:
        self.parsers = parsers(extra_types)
        self.lookups = {s.table: header_lookup(s) for s in SHEETS}
        self.frames: dict[str, list[pd.DataFrame]] = {s.table: [] for s in SHEETS}
        self.issues: list[Issue] = []
        self.files: list[str] = []
        self.units_sheet_seen = False
        self.file_units = dict(file_units or {})
        self.listed: dict[str, list[str]] = {}  # file -> units its 单位信息 sheets list
        self.unnamed: list[Unnamed] = []
        self.read = read

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
            cells = self.read(path)
        except FileProblem as problem:
            self.issues.append(Issue(label, None, None, None, None, str(problem)))
            return
        self._read_book(label, cells)

    def _read_book(self, label: str, book: WorkbookCells) -> None:
        """Read every sheet whose header matches a contract, whatever the sheet is called."""

        def problem(sheet: str | None, message: str, severity: str = "error") -> None:
            self.issues.append(Issue(label, sheet, None, None, None, message, severity))

        for name in book.unreadable:
            problem(name, "无法读取该工作表：文件可能已损坏")
        recognised = 0
        ignored: list[str] = []
        for name, rows, merged in book.grids:
            named = sheet_for(name)
            cells = book.error_cells.get(name, [])
            if not cells and not any(display(cell) for row in rows for cell in row):
                if named is not None:
                    recognised += 1
                    problem(name, "工作表是空的，已跳过", "warning")
                continue
            found = classify(rows, merged, self.lookups, named)
            if found is None and named is None:
                ignored.append(name)
                continue
            recognised += 1
            if found is None:
                self.issues.append(
                    missing_header_issue(label, name, named, rows, self.lookups[named.table])
                )
            elif found[0] is None:
                both = "、".join(f"「{s.name}」" for s in found[1])
                problem(
                    name,
                    f"表头同时符合{both}，无法判断是哪种表：请按模板修改列名，"
                    "或把工作表命名为其中之一",
                )
            else:
                self._add_sheet(label, name, *found, rows, cells, merged)
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

    def _add_sheet(
        self,
        label: str,
        name: str,
        sheet: Sheet,
        header: Header,
        rows: list[list[Any]],
        cells: list[tuple[int, int, str]],
        merged: list[Range],
    ) -> None:
        """Read one recognised sheet and keep its rows, issues and what naming units needs."""
        outcome = read_sheet(label, name, sheet, header, rows, cells, merged, self.parsers)
        self.issues.extend(i for _, _, i in sorted(outcome.issues, key=lambda t: t[:2]))
        if outcome.frame is None:
            return
        self.frames[sheet.table].append(outcome.frame)
        if sheet.table == "units":
            self.units_sheet_seen = True
            self.listed.setdefault(label, []).extend(outcome.frame["unit"].dropna())
        elif "unit" not in header.found():
            titles = [
                (r + 1, " ".join(display(c) for c in rows[r] if display(c)))
                for r in range(header.top)
            ]
            self.unnamed.append(Unnamed(outcome.frame, label, name, [t for t in titles if t[1]]))

    def finish(self) -> IngestResult:
        """The tables of all files read, checked across files, with personal names removed."""
        known = {
            str(u)
            for table in ("units", "activities")
            for frame in self.frames[table]
            for u in frame["unit"].dropna().unique()
        }
        self.issues += name_units(self.unnamed, known, self.listed, self.file_units)
        tables: dict[str, pd.DataFrame] = {}
        for sheet in SHEETS:
            parts = [f for f in self.frames[sheet.table] if len(f)]
            empty = empty_table(sheet, keep_private=True)
            if not parts:
                tables[sheet.table] = empty
                continue
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            dtypes = {c: empty[c].dtype for c in empty.columns}
            extra = {c: "str" for c in frame.columns if c not in dtypes}  # unknown columns
            tables[sheet.table] = frame.astype({**dtypes, **extra})
        self.issues += check_tables(tables, self.issues, self.units_sheet_seen)
        units = units_in_order(tables)
        protect_privacy(tables)
        return IngestResult(tables, self.issues, self.files, units)


def read_workbooks(
    paths: Sequence[Path | str],
    extra_types: Mapping[str, Iterable[str]] | None = None,
    file_units: Mapping[str, str] | None = None,
    cache: ParseCache | None = None,
    read: Callable[[Path], WorkbookCells] = read_cells,
) -> IngestResult:
    """Read and validate workbooks; problems come back as Issues, never as exceptions.

    `file_units` names the unit of a workbook that has no 单位 column, by file name or path.
    With a cache, a workbook read before (as the cache tells by its content) is not read again,
    and a workbook read now without errors is kept there, unless a sheet of it names its unit
    only through the other workbooks (title or file name rules, see reportkit.data.ingest.units).
    `read` gives a workbook's cells: e.g. ones read ahead while the process was starting.
    """
    reader = Reader(extra_types, file_units, read)
    for path in map(Path, paths):
        stored = cache.load(path) if cache is not None else None
        if stored is not None:
            reader.add(path, stored)
            continue
        parse = reader.read_file_parse(path)
        if cache is not None and not parse.has_errors and not parse.unnamed:
            cache.store(path, parse)
    return reader.finish()
