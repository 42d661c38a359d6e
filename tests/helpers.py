"""Helpers the tests share (fixtures live in conftest.py): real workbooks written with openpyxl,
the console script run as a user runs it, and activity frames typed as the dataset types them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook

from reportkit.data.schema import ACTIVITIES

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]

Rows = Sequence[Sequence[Any] | None]


def reportkit(
    *args: str | Path,
    cwd: Path,
    check: bool = False,
    timeout: float = 600,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real console script, as a user runs it, with `env` over this environment; `check`
    fails the test on a non-zero exit."""
    proc = subprocess.run(
        [str(BIN / "reportkit"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"reportkit {args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def write_workbook(
    path: Path,
    sheets: Mapping[str, Rows],
    merge: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """A real .xlsx written by openpyxl: rows[0] is Excel row 1, None (or []) a blank row.

    Cells hold dates, datetimes, numbers and formulas such as "=1/0" as Excel stores them;
    `merge` maps a sheet to ranges such as ["A5:A6"].
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row or (), start=1):
                if value is not None:
                    sheet.cell(row=r, column=c, value=value)
        for cells in (merge or {}).get(name, ()):
            sheet.merge_cells(cells)
    book.save(path)
    return path


HEADER = [column.header for column in ACTIVITIES.columns]
COLUMN = {name: i for i, name in enumerate(HEADER)}
UNIT_HEADER = ["单位", "党组织名称", "机关工作人员总数", "专职党务工作人员数"]
MEMBER_HEADER = ["姓名", "单位", "党支部", "党员类别", "党内职务", "是否专职党务"]
DISCIPLINE_HEADER = ["日期", "单位", "党支部", "类别", "对象", "事由"]
TITLE = ["2019年度党建工作台账"]


def act(**changes: Any) -> list[Any]:
    """One good activity row in HEADER order; keyword arguments replace columns by header."""
    row: list[Any] = [dt.date(2019, 3, 5), "甲局", "一支部", "主题党日", "学习党章", 10, 9, 1.5]
    row += [None, None]
    for name, value in changes.items():
        row[COLUMN[name]] = value
    return row


xlsx = write_workbook


@dataclass
class Unit:
    """Stands in for reportkit.data.dataset.UnitData."""

    unit: str
    activities: pd.DataFrame
    units: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    discipline: pd.DataFrame = field(default_factory=pd.DataFrame)


def activities(rows: list[dict]) -> pd.DataFrame:
    """Activities typed as the dataset types them (Int64/Float64, str, datetime64)."""
    frame = pd.DataFrame(rows)
    defaults = {"unit": "甲局", "branch": None, "topic": None, "presenter": None, "note": None}
    for column, value in defaults.items():
        if column not in frame:
            frame[column] = value
    frame["unit"] = frame["unit"].fillna("甲局")
    for column in ("expected", "present"):
        frame[column] = pd.array(frame.get(column, [None] * len(frame)), dtype="Int64")
    frame["hours"] = pd.array([None] * len(frame), dtype="Float64")
    frame["date"] = pd.to_datetime(frame["date"], format="ISO8601")
    for column in ("unit", "branch", "type", "topic", "presenter", "note"):
        frame[column] = frame[column].astype("str")
    return frame
