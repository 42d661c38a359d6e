"""Log coverage: which part of the report period a unit's activity log covers.

A log that starts late, ends early or has a long run of empty months is `partial`: validation
warns about it (coverage_issues), and the report says which span its figures rest on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from reportkit.analysis.norms import in_period, iso_day, period_keys_of
from reportkit.errors import Issue
from reportkit.params import PeriodLike


def _months(start: dt.date, end: dt.date) -> list[str]:
    """Calendar months from the one holding `start` to the one holding `end`, as 2019-03."""
    first, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return [f"{m // 12}-{m % 12 + 1:02d}" for m in range(first, last + 1)]


def log_coverage(
    activities: pd.DataFrame, period: PeriodLike, max_gap_months: int = 3
) -> dict[str, Any]:
    """Which part of the period the log covers: its first and last dated row in the period, and
    every run of more than `max_gap_months` calendar months with no row at all.

    A long run at the start is a late start, at the end an early end, anywhere else a gap. Such
    a log is `partial`: the report says which span its figures rest on, and shows them all.
    """
    inside = activities[in_period(activities, period)] if len(activities) else activities
    days = pd.to_datetime(inside["date"]).dropna() if len(inside) else pd.Series(dtype=object)
    months = _months(period.start, period.end)
    active = set(period_keys_of(days, "month"))
    runs: list[list[str]] = []  # consecutive months without a row
    for i, month in enumerate(months):
        if month in active:
            continue
        if i and months[i - 1] not in active:
            runs[-1].append(month)
        else:
            runs.append([month])
    long = [r for r in runs if len(r) > max_gap_months]
    late = bool(long) and long[0][0] == months[0]
    early = bool(long) and long[-1][-1] == months[-1] and bool(active)
    gaps = [
        {"first": r[0], "last": r[-1], "months": len(r)}
        for r in long
        if not (late and r is long[0]) and not (early and r is long[-1])
    ]
    return {
        "first_date": iso_day(days.min()) if len(days) else None,
        "last_date": iso_day(days.max()) if len(days) else None,
        "max_gap_months": max_gap_months,
        "late_start": late,
        "early_end": early,
        "gaps": gaps,
        "partial": bool(long),
    }


def max_gap_months(params: Mapping[str, Any]) -> int:
    """params `coverage.max_gap_months`: the longest run of empty months a full log may have."""
    return int(((params.get("coverage") or {}).get("max_gap_months")) or 3)


def coverage_issues(
    activities: pd.DataFrame, period: PeriodLike, params: Mapping[str, Any]
) -> list[Issue]:
    """One warning per unit whose log covers only part of the period (see log_coverage)."""
    issues: list[Issue] = []
    if len(activities) == 0:
        return issues
    dated = activities[activities["date"].notna() & activities["unit"].notna()]
    for unit, rows in dated.groupby("unit", sort=False):
        found = log_coverage(rows, period, max_gap_months(params))
        if not found["partial"]:
            continue
        parts = []
        if found["first_date"] is None:
            parts.append("报告期内没有活动记录")
        else:
            parts.append(f"记录从 {found['first_date']} 到 {found['last_date']}")
            if found["late_start"]:
                parts.append(f"晚于报告期开始日 {period.start.isoformat()}")
            if found["early_end"]:
                parts.append(f"早于报告期结束日 {period.end.isoformat()}")
            parts += [
                f"{g['first']} 至 {g['last']} 共 {g['months']} 个月无记录" for g in found["gaps"]
            ]
        first = rows.iloc[0]
        issues.append(
            Issue(
                str(first["_file"]),
                str(first["_sheet"]),
                None,
                None,
                None,
                f"单位「{unit}」的台账只覆盖报告期的一部分：{'，'.join(parts)}。"
                "统计照常进行，报告中会说明台账覆盖的时间段",
                "warning",
            )
        )
    return issues
