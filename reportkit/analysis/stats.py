"""The figures a unit's report states, as one JSON-safe dict (written out as stats.json).

Pure functions over the unit's frames: the notebook shows what these return, the summary notebook
and index.html read the same numbers back from stats.json, so a figure is computed once.

Conventions:
- The period is inclusive at both ends; a row counts when its date (time of day ignored) lies in
  [period.start, period.end]. Rows without a date are never counted.
- Rows with an empty 党支部 are unit level (e.g. 中心组学习). They count in `counts` and
  `counts_by_year`; in by-branch tables they appear under the label UNIT_LEVEL (单位层面), and
  they are not a branch: `branches`, `imbalance` and branch compliance leave them out.
- The branches are those on the roster plus those in the period's log, sorted naturally
  (第二党支部 before 第十党支部) whatever order the inputs give.
- `counts_by_month` ("YYYY-MM" -> type -> count) lists only months and types with rows, so a
  long period stays small; by-quarter and by-month tables of short periods read it.
- Ratios are rounded to 6 decimals; a ratio with a zero or unknown denominator is None.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from reportkit.analysis.coverage import log_coverage, max_gap_months
from reportkit.analysis.norms import (
    SHORT,
    UNIT_LEVEL,
    Lifetime,
    branch_names,
    check_compliance,
    check_staffing,
    full_member_counts,
    in_period,
    iso_day,
    judged_from,
    life_window,
    period_keys_of,
)
from reportkit.data.vocabulary import (
    ACTIVITY_TYPES,
    DISCIPLINE_FORMS,
    RESEARCH_TYPE,
    REWARD_CATEGORIES,
    SESSION_TYPES,
)
from reportkit.jsonsafe import jsonable
from reportkit.params import PeriodLike

__all__ = [
    "SESSION_TYPES",
    "UNIT_LEVEL",
    "activity_types",
    "attendance",
    "branch_list",
    "branch_sort_key",
    "compliance_summary",
    "compute_stats",
    "discipline_stats",
    "display_name",
    "imbalance",
    "in_period",
    "lifetimes",
    "research",
    "sessions",
]

DISCIPLINE_ORDER: tuple[str, ...] = (*REWARD_CATEGORIES, *DISCIPLINE_FORMS)


class UnitDataLike(Protocol):
    """What compute_stats reads: reportkit.data.dataset.UnitData or anything shaped like it."""

    unit: str
    activities: pd.DataFrame
    units: pd.DataFrame
    members: pd.DataFrame
    discipline: pd.DataFrame
    branches: pd.DataFrame


# --------------------------------------------------------------------------- helpers


def activity_types(params: Mapping[str, Any] | None = None) -> list[str]:
    """Canonical activity types in display order, then params' vocabulary.extra_types."""
    extra = ((params or {}).get("vocabulary") or {}).get("extra_types") or {}
    return list(dict.fromkeys([*ACTIVITY_TYPES, *map(str, extra)]))


def display_name(type_: str, params: Mapping[str, Any] | None = None) -> str:
    """How a canonical type is named in report text (vocabulary.display_names), else itself."""
    names = ((params or {}).get("vocabulary") or {}).get("display_names") or {}
    return str(names.get(type_) or type_)


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100}
_NUMERAL_RUN = re.compile(r"(\d+|[零〇一二两三四五六七八九十百]+)")


def _cn_number(text: str) -> int:
    total = current = 0
    for char in text:
        if char in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[char]
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


def branch_sort_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Natural order for branch names: digits and Chinese numerals compare by value."""
    parts: list[tuple[int, int, str]] = []
    for i, part in enumerate(_NUMERAL_RUN.split(name)):
        if not part:
            continue
        if i % 2:
            parts.append((0, int(part) if part.isdigit() else _cn_number(part), ""))
        else:
            parts.append((1, 0, part))
    return tuple(parts)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _frame(data: Any, name: str, unit: str, columns: Sequence[str]) -> pd.DataFrame:
    """One of the unit's frames with at least `columns`, restricted to the unit when it says."""
    frame = getattr(data, name, None)
    if frame is None:
        return _empty(columns)
    frame = frame.copy()
    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series(None, index=frame.index, dtype=object)
    if unit and "unit" in frame.columns and len(frame):
        frame = frame[(frame["unit"] == unit).fillna(False).astype(bool)]
    return frame


def _years(period: PeriodLike) -> list[str]:
    return [str(y) for y in range(period.start.year, period.end.year + 1)]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 6)


def _tally_by(groups: Sequence[Hashable], values: pd.Series) -> dict[Hashable, dict[Any, int]]:
    """Per group, `values.value_counts()` over the group's rows, in one pass over all rows
    instead of a pandas call per group. As value_counts does, NA is left out (a group with
    only NA gets {}) and the most frequent value comes first, ties in the order they first
    appear."""
    groups = np.asarray(groups, dtype=object)
    known = values.notna().to_numpy(dtype=bool)
    pairs = Counter(zip(groups[known], values.to_numpy(dtype=object)[known], strict=True))
    tallies: dict[Hashable, dict[Any, int]] = {g: {} for g in dict.fromkeys(groups)}
    for (group, value), n in pairs.items():  # pairs in order of first appearance
        tallies[group][value] = n
    return {g: dict(sorted(t.items(), key=lambda item: -item[1])) for g, t in tallies.items()}


def _type_counts(found: Mapping[Any, int], names: Sequence[str]) -> dict[str, int]:
    """Counts for every name in order (zeros kept), plus any unexpected type found."""
    found = dict(found)
    counts = {name: int(found.pop(name, 0)) for name in names}
    counts |= {str(k): int(v) for k, v in found.items() if isinstance(k, str) and k}
    return counts


# --------------------------------------------------------------------------- sections


def sessions(
    activities: pd.DataFrame,
    period: PeriodLike,
    types: Iterable[str] = SESSION_TYPES,
) -> list[dict[str, str]]:
    """The appendix list of 中心组学习/专题研讨/党课 sessions in the period, by date.

    Missing text fields are "" so the appendix table never shows None. Same-day rows keep the
    order of `types`, then the log's order.
    """
    types = list(types)
    if len(activities) == 0:
        return []
    frame = activities[in_period(activities, period) & activities["type"].isin(types)].copy()
    frame["_day"] = pd.to_datetime(frame["date"]).dt.normalize()
    frame["_type_order"] = frame["type"].map({t: i for i, t in enumerate(types)})
    frame["_seq"] = range(len(frame))
    frame = frame.sort_values(["_day", "_type_order", "_seq"])
    branch = branch_names(frame)

    def text(column: str) -> list[str]:
        if column not in frame.columns:
            return [""] * len(frame)
        return [str(v) for v in frame[column].astype(object).fillna("").tolist()]

    return [
        {"date": day, "type": t, "topic": tp, "presenter": pr, "branch": br}
        for day, t, tp, pr, br in zip(
            frame["_day"].dt.strftime("%Y-%m-%d").tolist(),
            frame["type"].tolist(),
            text("topic"),
            text("presenter"),
            branch.tolist(),
            strict=True,
        )
    ]


def attendance(
    activities: pd.DataFrame, branches: Sequence[str], types: Sequence[str] = ()
) -> dict[str, Any]:
    """Attendance over rows where both 应到 and 实到 are recorded.

    `by_type` lists the types with any row in `activities`, in `types` order then any other;
    `by_branch` lists every branch given plus UNIT_LEVEL when unit-level rows exist. `rows` is
    how many rows the figures rest on.
    """
    known = (activities["expected"].notna() & activities["present"].notna()).astype(bool)
    table = pd.DataFrame(
        {
            "rows": known.astype("int64"),
            "expected": pd.to_numeric(activities["expected"]).where(known, 0).astype("int64"),
            "present": pd.to_numeric(activities["present"]).where(known, 0).astype("int64"),
            "branch": branch_names(activities),
            "type": activities["type"].astype("str").fillna(""),
        },
        index=activities.index,
    )
    sums = ["rows", "expected", "present"]

    def block(row: Mapping[str, Any] | None) -> dict[str, Any]:
        rows, expected, present = (int(row[c]) if row is not None else 0 for c in sums)
        return {
            "rows": rows,
            "expected": expected,
            "present": present,
            "rate": _ratio(present, expected),
        }

    by_branch_sums = table.groupby("branch")[sums].sum().to_dict("index")
    by_type_sums = table.groupby("type")[sums].sum().to_dict("index")
    by_branch = {}
    if "" in by_branch_sums:
        by_branch[UNIT_LEVEL] = block(by_branch_sums[""])
    for name in branches:
        by_branch[name] = block(by_branch_sums.get(name))
    order = [*types, *sorted(t for t in by_type_sums if t not in types)]
    by_type = {str(t): block(by_type_sums[t]) for t in order if t and t in by_type_sums}
    return block(table[sums].sum()) | {"by_type": by_type, "by_branch": by_branch}


def branch_list(
    activities: pd.DataFrame,
    members: pd.DataFrame,
    period: PeriodLike,
    lives: Mapping[str, Lifetime] | None = None,
) -> list[dict[str, Any]]:
    """Every branch on the roster, in the period's log or declared in 支部信息 as existing in
    the period, with roster and activity counts and its declared life.

    A branch seen only outside the period (dissolved or renamed) is left out, so it is not judged
    short on every norm. `members`/`full_members` are None when the roster has no row for the
    branch (unknown, not 0); `full_members` is None too when its 党员类别 is blank throughout.
    `lifetime` is None unless 支部信息 declares a 成立日期 or 撤销日期.
    """
    lives = lives or {}
    act_branch = branch_names(activities)[in_period(activities, period)]
    roster_branch = branch_names(members)
    declared = {
        b
        for b, life in lives.items()
        if (life_window(life)[0] or period.start) <= period.end
        and (life_window(life)[1] or period.end) >= period.start
    }
    names = sorted(
        {b for b in act_branch.unique() if b} | {b for b in roster_branch.unique() if b} | declared,
        key=branch_sort_key,
    )
    roster_sizes = roster_branch.value_counts().to_dict()
    full = full_member_counts(members)
    active = act_branch.value_counts().to_dict()
    return [
        {
            "name": name,
            "members": int(roster_sizes[name]) if name in roster_sizes else None,
            "full_members": full.get(name),
            "activities": int(active.get(name, 0)),
            "lifetime": {
                "founded": lives[name][0],
                "dissolved": lives[name][1],
                "judged_from": judged_from(lives[name], period),
            }
            if name in lives
            else None,
        }
        for name in names
    ]


def lifetimes(branches: pd.DataFrame) -> dict[str, Lifetime]:
    """Branch -> (成立日期, 撤销日期) from 支部信息; branches declaring neither are left out."""
    lives: dict[str, Lifetime] = {}
    if len(branches) == 0:
        return lives
    names = branch_names(branches)
    for name, rows in branches.groupby(names, sort=False):
        founded = pd.to_datetime(rows["founded"]).dropna()
        dissolved = pd.to_datetime(rows["dissolved"]).dropna()
        life = (
            founded.iloc[0].date() if len(founded) else None,
            dissolved.iloc[0].date() if len(dissolved) else None,
        )
        if name and any(life):
            lives[str(name)] = life
    return lives


def imbalance(per_branch: Mapping[str, int], bottom_ratio: float = 0.5) -> dict[str, Any]:
    """How unevenly activity spreads over branches (unit-level rows excluded).

    cv is the population standard deviation over the mean; `bottom` lists branches below
    `bottom_ratio` × mean. `max`/`min` are activity counts; `max_branch`/`min_branch` name the
    first such branch in branch order, `max_branches`/`min_branches` name every tie.
    """
    counts = dict(per_branch)
    values = list(counts.values())
    result: dict[str, Any] = {
        "by_branch": counts,
        "branches": len(values),
        "total": sum(values),
        "bottom_ratio": bottom_ratio,
    }
    if not values:
        return result | {
            "max": None,
            "min": None,
            "max_branch": None,
            "min_branch": None,
            "max_branches": [],
            "min_branches": [],
            "mean": None,
            "std": None,
            "cv": None,
            "max_min_ratio": None,
            "threshold": None,
            "bottom": [],
        }
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    top, low = max(values), min(values)
    threshold = bottom_ratio * mean
    tops = [b for b, v in counts.items() if v == top]
    lows = [b for b, v in counts.items() if v == low]
    return result | {
        "max": top,
        "min": low,
        "max_branch": tops[0],
        "min_branch": lows[0],
        "max_branches": tops,
        "min_branches": lows,
        "mean": round(mean, 6),
        "std": round(std, 6),
        "cv": _ratio(std, mean),
        "max_min_ratio": _ratio(top, low),
        "threshold": round(threshold, 6),
        "bottom": [b for b, v in counts.items() if v < threshold],
    }


def discipline_stats(discipline: pd.DataFrame, period: PeriodLike) -> dict[str, Any]:
    """Rewards (表彰/奖励) against the 四种形态, for 奖惩机制不够健全 (罚多奖少).

    `forms_share` is each form's share of all forms; `reward_to_discipline_ratio` is rewards
    per form applied (None when no form was applied). `has_data` tells an empty sheet from none.
    """
    inside = discipline[in_period(discipline, period)]
    counts = _type_counts(inside["category"].value_counts().to_dict(), DISCIPLINE_ORDER)
    per_year = _tally_by(period_keys_of(inside["date"], "year"), inside["category"])
    by_year = {y: _type_counts(per_year.get(y, {}), DISCIPLINE_ORDER) for y in _years(period)}
    rewards = sum(counts[c] for c in REWARD_CATEGORIES)
    forms = sum(counts[c] for c in DISCIPLINE_FORMS)
    return {
        "has_data": bool(len(discipline)),
        "counts": counts,
        "counts_by_year": by_year,
        "rewards": rewards,
        "forms": forms,
        "forms_share": {f: _ratio(counts[f], forms) for f in DISCIPLINE_FORMS},
        "reward_to_discipline_ratio": _ratio(rewards, forms),
    }


def research(activities: pd.DataFrame, period: PeriodLike) -> dict[str, Any]:
    """调研 in the period, per year and per branch, with a yearly average over the period."""
    rows = activities[(activities["type"] == RESEARCH_TYPE).fillna(False).astype(bool)]
    per_year = Counter(period_keys_of(rows["date"], "year"))
    by_year = {y: per_year[y] for y in _years(period)}
    branch = branch_names(rows).replace("", UNIT_LEVEL)
    span_years = ((period.end - period.start).days + 1) / 365.25
    return {
        "count": len(rows),
        "by_year": by_year,
        "by_branch": {str(k): int(v) for k, v in branch.value_counts().items()},
        "period_years": round(span_years, 2),
        "per_year": _ratio(len(rows), span_years),
    }


def compliance_summary(entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per rule: branches judged (达到 or 未达到) and branches that met it."""
    summary: dict[str, dict[str, int]] = {}
    for entry in entries:
        row = summary.setdefault(
            entry["rule"], {"branches_judged": 0, "branches_met": 0, "not_applicable": 0}
        )
        if entry["periods_judged"]:
            row["branches_judged"] += 1
            row["branches_met"] += entry["status"] != SHORT
        else:
            row["not_applicable"] += 1
    return summary


# --------------------------------------------------------------------------- entry point


def compute_stats(
    data: UnitDataLike, period: PeriodLike, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything stats.json holds for one unit (see the module docstring for conventions)."""
    unit = str(getattr(data, "unit", "") or "")
    activities = _frame(data, "activities", unit, ("date", "branch", "type", "expected", "present"))
    units = _frame(data, "units", unit, ("org_name", "staff_total", "party_workers"))
    members = _frame(data, "members", unit, ("branch", "category", "party_post"))
    discipline = _frame(data, "discipline", unit, ("date", "branch", "category"))
    lives = lifetimes(_frame(data, "branches", unit, ("branch", "founded", "dissolved")))
    activities = activities[activities["date"].notna()]

    types = activity_types(params)
    inside = activities[in_period(activities, period)]
    branch = branch_names(inside)

    org_name = None
    if len(units) and pd.notna(units["org_name"].iloc[0]):
        org_name = str(units["org_name"].iloc[0]).strip() or None

    branches = branch_list(activities, members, period, lives)
    names = [b["name"] for b in branches]

    per_year = _tally_by(period_keys_of(inside["date"], "year"), inside["type"])
    counts_by_year = {y: _type_counts(per_year.get(y, {}), types) for y in _years(period)}
    per_month = _tally_by(period_keys_of(inside["date"], "month"), inside["type"])
    counts_by_month = {m: {str(t): n for t, n in per_month[m].items()} for m in sorted(per_month)}
    per_branch = _tally_by(branch.tolist(), inside["type"])
    counts_by_branch = {}
    if (branch == "").any():
        counts_by_branch[UNIT_LEVEL] = _type_counts(per_branch.get("", {}), types)
    for name in names:
        counts_by_branch[name] = _type_counts(per_branch.get(name, {}), types)

    entries = check_compliance(activities, names, period, params.get("norms") or {}, members, lives)
    short = {e["branch"] for e in entries if e["status"] == SHORT and e["scope"] == "branch"}
    bottom_ratio = float(((params.get("imbalance") or {}).get("bottom_ratio")) or 0.5)

    stats = {
        "unit": unit,
        "org_name": org_name or f"中共{unit}委员会",
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "label": period.label,
        },
        "types": types,
        "display_names": {t: display_name(t, params) for t in types},
        "log": {
            "rows_total": len(activities),
            "rows_in_period": len(inside),
            "first_date": iso_day(activities["date"].min()) if len(activities) else None,
            "last_date": iso_day(activities["date"].max()) if len(activities) else None,
        },
        "coverage": log_coverage(activities, period, max_gap_months(params)),
        "total_activities": len(inside),
        "counts": _type_counts(inside["type"].value_counts().to_dict(), types),
        "counts_by_year": counts_by_year,
        "counts_by_month": counts_by_month,
        "counts_by_branch": counts_by_branch,
        "attendance": attendance(inside, names, types),
        "branches": branches,
        "compliance": entries,
        "compliance_summary": compliance_summary(entries),
        "branches_short": [n for n in names if n in short],
        "staffing": check_staffing(units, params, members),
        "discipline": discipline_stats(discipline, period),
        "imbalance": imbalance({b["name"]: b["activities"] for b in branches}, bottom_ratio),
        "research": research(inside, period),
    }
    return jsonable(stats)
