"""What the rows mean: checks beyond a cell's form, per table and across workbooks.

The sheet reader only knows column kinds. A rule that knows what a table's columns mean lives
here: ROW_RULES run on each sheet's parsed rows (their issues point at a cell), and the checks
below run once over the tables of all workbooks (duplicate units, branch lifetimes, rows logged
twice, units missing from 单位信息).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reportkit.data.ingest.cells import clip
from reportkit.data.schema import ACTIVITIES
from reportkit.errors import Issue

#: A rule over one sheet's parsed rows: (row position, field, value, message) per bad row.
RowRule = Callable[[pd.DataFrame], Iterable[tuple[int, str, str, str]]]


def present_within_expected(frame: pd.DataFrame) -> Iterator[tuple[int, str, str, str]]:
    """实到 cannot exceed 应到."""
    over = (frame["present"] > frame["expected"]).fillna(False).to_numpy(bool)
    for at in np.flatnonzero(over):
        present, expected = frame["present"].iat[at], frame["expected"].iat[at]
        yield int(at), "present", str(present), f"实到人数大于应到人数（{expected}）"


#: The row rules of each table, by table name.
ROW_RULES: dict[str, tuple[RowRule, ...]] = {"activities": (present_within_expected,)}


def check_tables(
    tables: dict[str, pd.DataFrame], issues: Sequence[Issue], units_sheet_seen: bool
) -> list[Issue]:
    """The checks across workbooks, in order; `issues` are those found so far (rows with errors
    are not reported as duplicates). Duplicate 单位信息 rows are dropped from `tables`."""
    found = _check_units(tables)
    found += _check_lifetimes(tables["branches"])
    found += _check_duplicate_activities(tables["activities"], [*issues, *found])
    if units_sheet_seen:
        found += _unlisted_units(tables)
    return found


def _check_units(tables: dict[str, pd.DataFrame]) -> list[Issue]:
    """A unit listed twice in 单位信息: a warning when the rows agree, else an error. The
    organisation's name defaults to 中共<unit>委员会."""
    frame = tables["units"]
    if frame.empty:
        return []
    found: list[Issue] = []
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
            found.append(
                Issue(row["_file"], row["_sheet"], int(row["_row"]), None, unit, message, severity)
            )
    frame = frame.drop_duplicates(subset=["unit"], keep="first")
    tables["units"] = frame.reset_index(drop=True)
    return found


def _check_lifetimes(frame: pd.DataFrame) -> list[Issue]:
    """A branch cannot be dissolved on or before the day it was founded."""
    wrong = (frame["dissolved"] <= frame["founded"]).fillna(False).to_numpy(bool)
    return [
        Issue(
            row["_file"],
            row["_sheet"],
            int(row["_row"]),
            "撤销日期",
            row["dissolved"].date().isoformat(),
            f"撤销日期不晚于成立日期（{row['founded'].date().isoformat()}）",
        )
        for _, row in frame[wrong].iterrows()
    ]


def _check_duplicate_activities(frame: pd.DataFrame, issues: Sequence[Issue]) -> list[Issue]:
    """Warn about rows that repeat another row exactly; rows with errors are left out."""
    if len(frame) < 2:
        return []
    bad = {(i.file, i.sheet, i.row) for i in issues if i.severity == "error"}
    if bad:
        where = zip(frame["_file"], frame["_sheet"], frame["_row"], strict=True)
        frame = frame[[w not in bad for w in where]]
    subset = [c.field for c in ACTIVITIES.columns]
    later = frame.duplicated(subset=subset, keep="first").to_numpy()
    if not later.any():
        return []
    groups = frame.groupby(subset, dropna=False, sort=False).ngroup().to_numpy()
    first_at = pd.Series(np.arange(len(frame))).groupby(groups).transform("first").to_numpy()
    found: list[Issue] = []
    for at in np.flatnonzero(later):
        first = frame.iloc[int(first_at[at])]
        row = frame.iloc[at]
        found.append(
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
    return found


def _unlisted_units(tables: dict[str, pd.DataFrame]) -> list[Issue]:
    """A unit in the activity log that 单位信息 does not list (once, at its first row)."""
    listed = set(tables["units"]["unit"].dropna())
    logged = tables["activities"].dropna(subset=["unit"]).drop_duplicates(subset=["unit"])
    found: list[Issue] = []
    for _, first in logged[~logged["unit"].isin(listed)].iterrows():
        unit = first["unit"]
        found.append(
            Issue(
                first["_file"],
                first["_sheet"],
                int(first["_row"]),
                None,
                clip(unit),
                f"单位「{clip(unit)}」出现在活动台账中，但单位信息表中没有它",
                "warning",
            )
        )
    return found


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
