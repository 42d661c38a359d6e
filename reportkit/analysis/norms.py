"""Norm checks: calendar windows, branch compliance with the 组织生活 rules, and staffing.

The rules say "一般", so a shortfall is reported as 未达到一般要求 and never as a violation. A rule
is judged only over whole calendar months, quarters or years that lie inside the report period,
the rule's time in force and the branch's declared life (支部信息 成立日期/撤销日期): a partial
month at either end says nothing about whether a branch met a monthly rule, so it is not judged.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from reportkit.errors import UsageError
from reportkit.jsonsafe import is_missing
from reportkit.params import PeriodLike, as_date

MET = "达到一般要求"
SHORT = "未达到一般要求"
NOT_APPLICABLE = "不适用"

#: Label for unit-level rows (empty 党支部, e.g. 中心组学习) wherever a branch name is shown.
UNIT_LEVEL = "单位层面"

PERS = ("month", "quarter", "year")
_PER_EVERY = {"month": "每月", "quarter": "每季度", "year": "每年"}
_PER_COUNT = {"month": "个月", "quarter": "个季度", "year": "年"}
_PER_WHOLE = {"month": "完整月份", "quarter": "完整季度", "year": "完整年度"}

#: 党内职务 that shows a branch has party groups: 党小组长 or 党小组组长.
_GROUP_LEADER = re.compile(r"党小组(组)?长")


# --------------------------------------------------------------------------- calendar


def optional_date(value: Any, key: str) -> dt.date | None:
    """A rule's since/until: empty means open-ended."""
    return None if value is None or value == "" else as_date(value, key)


def _check_per(per: str) -> str:
    if per not in PERS:
        raise UsageError(f"参数 norms 中的 per 应为 month、quarter 或 year，而不是 {per!r}")
    return per


def _next_start(day: dt.date, per: str) -> dt.date:
    """First day of the calendar unit after the one holding `day`."""
    if per == "year":
        return dt.date(day.year + 1, 1, 1)
    step = 1 if per == "month" else 3
    first_month = day.month if per == "month" else 3 * ((day.month - 1) // 3) + 1
    month = first_month + step
    return dt.date(day.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _start_of(day: dt.date, per: str) -> dt.date:
    if per == "month":
        return day.replace(day=1)
    if per == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def in_period(frame: pd.DataFrame, period: PeriodLike, column: str = "date") -> pd.Series:
    """Boolean mask: the row's date (time of day ignored) lies in the period, both ends in."""
    if len(frame) == 0:
        return pd.Series(False, index=frame.index, dtype=bool)
    days = pd.to_datetime(frame[column]).dt.normalize()
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    return ((days >= start) & (days <= end)).fillna(False).astype(bool)


def iso_day(value: Any) -> str | None:
    """A date-like value as 2019-03-05; None when missing."""
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def period_key(day: dt.date, per: str) -> str:
    """The label of the calendar unit holding a day: 2019-03, 2019Q2 or 2020."""
    _check_per(per)
    if per == "month":
        return f"{day.year}-{day.month:02d}"
    if per == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def period_label_zh(key: str) -> str:
    """A period_key in Chinese for report text: 2019年3月, 2019年第2季度, 2020年."""
    if "Q" in key:
        year, quarter = key.split("Q")
        return f"{year}年第{quarter}季度"
    if "-" in key:
        year, month = key.split("-")
        return f"{year}年{int(month)}月"
    return f"{key}年"


def whole_periods(start: dt.date, end: dt.date, per: str) -> list[str]:
    """Labels of the whole calendar months/quarters/years inside [start, end], both inclusive."""
    _check_per(per)
    first = start if _start_of(start, per) == start else _next_start(start, per)
    keys: list[str] = []
    while True:
        following = _next_start(first, per)
        if following - dt.timedelta(days=1) > end:
            return keys
        keys.append(period_key(first, per))
        first = following


def judged_periods(
    start: dt.date,
    end: dt.date,
    per: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[str]:
    """Whole calendar units inside both the report period and the rule's time in force."""
    lo = max(start, since) if since else start
    hi = min(end, until) if until else end
    if hi < lo:
        return []
    return whole_periods(lo, hi, per)


# --------------------------------------------------------------------------- compliance


def branch_names(frame: pd.DataFrame) -> pd.Series:
    """Branch names with NA/blank as "" (unit level)."""
    if "branch" not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    return frame["branch"].astype("str").fillna("").str.strip()


def period_keys_of(dates: pd.Series, per: str) -> list[str | None]:
    """period_key of every date in a column (None where it is missing), formatted once per
    distinct month rather than once per row."""
    months = pd.to_datetime(dates).to_numpy(dtype="datetime64[M]")
    distinct, position = np.unique(months, return_inverse=True)
    labels = [None if np.isnat(m) else period_key(m.astype(dt.date), per) for m in distinct]
    return np.array(labels, dtype=object)[position].tolist()


def _rule_types(name: str, rule: Mapping[str, Any]) -> list[str]:
    """The activity types a rule counts: `type` (a name or list) in params, else the rule name."""
    types = rule.get("type") or name
    return [types] if isinstance(types, str) else [str(t) for t in types]


def _numeric_min(rule: Mapping[str, Any]) -> int | float | None:
    value = rule.get("min")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def full_member_counts(members: pd.DataFrame | None) -> dict[str, int | None]:
    """正式党员 per branch from the roster; None where the branch's categories are all blank.

    A branch missing from the result has no roster rows: the roster says nothing about it.
    """
    if members is None or len(members) == 0:
        return {}
    branch = branch_names(members)
    if "category" in members.columns:
        category = members["category"].astype(object)
    else:
        category = pd.Series(None, index=members.index, dtype=object)
    table = pd.DataFrame({"known": category.notna(), "full": category == "正式党员"})
    sums = table.groupby(branch, sort=False).sum()
    return {
        str(name): int(full) if known else None
        for name, known, full in zip(sums.index, sums["known"], sums["full"], strict=True)
        if name
    }


def branches_with_groups(activities: pd.DataFrame, members: pd.DataFrame | None) -> set[str]:
    """Branches that have party groups.

    Either signal is enough: a roster 党内职务 naming a 党小组长 (or 党小组组长), or any
    党小组会 recorded for the branch at any date. A branch that holds 党小组会 evidently has
    groups; a roster that names a group leader shows groups even where no meeting was logged.
    """
    found: set[str] = set()
    if members is not None and len(members) and "party_post" in members.columns:
        posts = members["party_post"].astype(object).where(members["party_post"].notna(), "")
        has = posts.map(lambda p: bool(_GROUP_LEADER.search(str(p))))
        found |= {b for b in branch_names(members)[has].unique() if b}
    if len(activities) and "type" in activities.columns:
        mask = (activities["type"] == "党小组会").fillna(False).astype(bool)
        found |= {b for b in branch_names(activities)[mask].unique() if b}
    return found


Lifetime = tuple[dt.date | None, dt.date | None]  # (成立日期, 撤销日期); None = not declared


def life_window(lifetime: Lifetime | None) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day a branch existed: it exists from its founding day and no longer
    on the day it is dissolved."""
    founded, dissolved = lifetime or (None, None)
    return founded, (dissolved - dt.timedelta(days=1)) if dissolved else None


def judged_from(lifetime: Lifetime, period: PeriodLike) -> dict[str, str | None]:
    """The first month, quarter and year judged for a branch with a declared life."""
    lo, hi = life_window(lifetime)
    return {
        per: next(iter(judged_periods(period.start, period.end, per, lo, hi)), None) for per in PERS
    }


def _later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return max(a, b) if a and b else a or b


def _earlier(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return min(a, b) if a and b else a or b


def check_compliance(
    activities: pd.DataFrame,
    branches: Iterable[str],
    period: PeriodLike,
    norms_params: Mapping[str, Mapping[str, Any]],
    members: pd.DataFrame | None = None,
    lifetimes: Mapping[str, Lifetime] | None = None,
) -> list[dict[str, Any]]:
    """One entry per (branch, rule) for rules with a numeric `min`, branch-major order.

    Branch-scope rules are judged for every branch given, so a branch with no activity at all
    shows up short on every rule that applies to it, over the branch's declared life only.
    Unit-scope rules count the unit's rows of the type whatever their branch, and appear once
    with branch UNIT_LEVEL.
    """
    branches = [b for b in dict.fromkeys(str(b) for b in branches) if b]
    rules = [
        (str(name), rule)
        for name, rule in (norms_params or {}).items()
        if isinstance(rule, Mapping) and _numeric_min(rule) is not None
    ]
    full = full_member_counts(members)
    needs_groups = any(rule.get("only_with_groups") for _, rule in rules)
    grouped = branches_with_groups(activities, members) if needs_groups else set()

    dated = activities[activities["date"].notna()] if len(activities) else activities
    rows = _DatedRows(dated)

    entries: list[dict[str, Any]] = []
    unit_entries: list[dict[str, Any]] = []
    for name, rule in rules:
        per = _check_per(str(rule.get("per") or "month"))
        minimum = _numeric_min(rule)
        since = optional_date(rule.get("since"), f"norms.{name}.since")
        until = optional_date(rule.get("until"), f"norms.{name}.until")
        keys = judged_periods(period.start, period.end, per, since, until)
        counts = rows.counts(_rule_types(name, rule), per)
        base = {"rule": name, "per": per, "min": minimum}
        no_window = _no_window_reason(period, per, since, until) if not keys else None

        if rule.get("scope", "branch") == "unit":
            tally: Counter[str] = Counter()
            for (_, key), n in counts.items():
                tally[key] += n
            unit_entries.append(
                {"branch": UNIT_LEVEL, "scope": "unit", **base}
                | _judge(keys, tally, minimum, per, no_window)
            )
            continue

        tallies: dict[str, dict[str, int]] = {}
        for (branch, key), n in counts.items():
            tallies.setdefault(branch, {})[key] = n
        min_full = rule.get("min_full_members")
        for branch in branches:
            entry: dict[str, Any] = {"branch": branch, "scope": "branch", **base}
            skip = None
            if min_full is not None and full.get(branch) is not None and full[branch] < min_full:
                skip = f"支部正式党员不足{min_full}人，不设{name}"
            elif rule.get("only_with_groups") and branch not in grouped:
                skip = "未设党小组（名册无党小组长，台账无党小组会记录）"
            if skip:
                entry |= _judge([], {}, minimum, per, skip)
            elif (lifetimes or {}).get(branch):
                lo, hi = life_window(lifetimes[branch])
                lived = judged_periods(
                    period.start, period.end, per, _later(since, lo), _earlier(until, hi)
                )
                reason = no_window or f"支部存续期内无{_PER_WHOLE[per]}"
                entry |= _judge(lived, tallies.get(branch, {}), minimum, per, reason)
            else:
                entry |= _judge(keys, tallies.get(branch, {}), minimum, per, no_window)
            entries.append(entry)

    order = {name: i for i, (name, _) in enumerate(rules)}
    position = {b: i for i, b in enumerate(branches)}
    entries.sort(key=lambda e: (position[e["branch"]], order[e["rule"]]))
    return entries + unit_entries


class _DatedRows:
    """A unit's dated activity rows as plain arrays, so that each rule's counts per branch and
    calendar unit take one pass over them rather than a pandas groupby per rule."""

    def __init__(self, dated: pd.DataFrame) -> None:
        self._dated = dated
        self._branch = branch_names(dated).to_numpy(dtype=object)
        self._keys: dict[str, np.ndarray] = {}  # per -> each row's period key, made on first use

    def counts(self, types: Sequence[str], per: str) -> Counter[tuple[str, str]]:
        """(branch, period key) -> rows of the given types."""
        if len(self._dated) == 0:
            return Counter()
        if per not in self._keys:
            self._keys[per] = np.array(period_keys_of(self._dated["date"], per), dtype=object)
        of_type = self._dated["type"].isin(types).to_numpy(dtype=bool, na_value=False)
        return Counter(zip(self._branch[of_type], self._keys[per][of_type], strict=True))


def _no_window_reason(
    period: PeriodLike, per: str, since: dt.date | None, until: dt.date | None
) -> str:
    whole = _PER_WHOLE[per]
    if (since and since > period.end) or (until and until < period.start):
        return "报告期内该要求未施行"
    if since and since > period.start:
        return f"报告期内自该要求施行之日（{_zh_date(since)}）起无{whole}"
    return f"报告期内无{whole}"


def _zh_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _judge(
    keys: Sequence[str],
    tally: Mapping[str, int],
    minimum: int | float,
    per: str,
    reason_if_none: str | None,
) -> dict[str, Any]:
    """Status fields for one branch and rule over the judged calendar units."""
    short = [k for k in keys if tally.get(k, 0) < minimum]
    result: dict[str, Any] = {
        "periods_judged": len(keys),
        "periods_met": len(keys) - len(short),
        "shortfall_periods": short,
        "activities": int(sum(tally.get(k, 0) for k in keys)),
        "first_period": keys[0] if keys else None,
        "last_period": keys[-1] if keys else None,
    }
    if not keys:
        return result | {"status": NOT_APPLICABLE, "reason": reason_if_none or ""}
    need = f"应{_PER_EVERY[per]}至少{_fmt_number(minimum)}次"
    span = f"判定{len(keys)}{_PER_COUNT[per]}"
    if short:
        detail = f"其中{len(short)}{_PER_COUNT[per]}未达到"
        return result | {"status": SHORT, "reason": f"{need}；{span}，{detail}"}
    return result | {"status": MET, "reason": f"{need}；{span}，均达到"}


def _fmt_number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --------------------------------------------------------------------------- staffing


def _row_value(row: Any, key: str) -> Any:
    """A field from a Mapping, a Series or a 0/1-row DataFrame; None when absent or NA."""
    if row is None:
        return None
    if isinstance(row, pd.DataFrame):
        if len(row) == 0 or key not in row.columns:
            return None
        value = row[key].iloc[0]
    elif isinstance(row, Mapping | pd.Series):
        value = row.get(key)
    else:
        value = getattr(row, key, None)
    return None if is_missing(value) else value


def _as_int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def check_staffing(
    units_row: Any,
    params: Mapping[str, Any],
    members: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """专职党务工作人员 against 1%–2% of 机关工作人员总数 and at least `min_people`.

    `units_row` is the 单位信息 row (Mapping, Series or a 0/1-row DataFrame). When it gives no
    专职党务工作人员数, the roster's 是否专职党务 = 是 count is used if the roster fills that
    column in. Bounds are computed exactly (Fraction), so 1% of 700 is 7, not 7.000000000000001
    rounded up to 8. The upper bound is never below the lower one: in a unit of 30 staff the one
    required worker is 3.3%, which the at-least-one rule makes acceptable.
    """
    cfg = params.get("staffing") or {}
    min_ratio = Fraction(str(cfg.get("min_ratio", 0.01)))
    max_ratio = Fraction(str(cfg.get("max_ratio", 0.02)))
    min_people = int(cfg.get("min_people", 1) or 0)

    total = _as_int(_row_value(units_row, "staff_total"))
    workers = _as_int(_row_value(units_row, "party_workers"))
    source = "单位信息" if workers is not None else None
    if workers is None and members is not None and "full_time_party_worker" in members.columns:
        flags = members["full_time_party_worker"].astype(object)
        if flags.notna().any():
            workers, source = int((flags == "是").sum()), "党员名册"

    required_min = required_max = None
    if total is not None:
        required_min = max(math.ceil(total * min_ratio), min_people)
        required_max = max(math.floor(total * max_ratio), required_min)
    ratio = workers / total if workers is not None and total else None

    within: bool | None = None
    level: str | None = None
    if workers is not None and required_min is not None and required_max is not None:
        level = "below" if workers < required_min else "above" if workers > required_max else "ok"
        within = level == "ok"

    band = f"{_pct(float(min_ratio))}–{_pct(float(max_ratio))}"
    if total is None and workers is None:
        status = "未提供机关工作人员总数和专职党务工作人员数，无法判断"
    elif total is None:
        status = f"专职党务工作人员{workers}人；未提供机关工作人员总数，无法判断是否达到{band}"
    elif workers is None:
        status = (
            f"机关工作人员{total}人，按{band}应配备专职党务工作人员"
            f"{required_min}至{required_max}人；未提供专职党务工作人员数"
        )
    else:
        share = f"占机关工作人员总数{total}人的{_pct(ratio)}" if ratio is not None else ""
        head = f"专职党务工作人员{workers}人，{share}"
        if level == "below":
            status = (
                f"{head}，按{band}且不少于{min_people}人的要求应不少于{required_min}人，"
                f"不足{required_min - workers}人"
            )
        elif level == "above":
            status = f"{head}，高于{_pct(float(max_ratio))}（{required_max}人）"
        else:
            status = f"{head}，符合{band}的要求"

    return {
        "total": total,
        "party_workers": workers,
        "party_workers_source": source,
        "ratio": round(ratio, 6) if ratio is not None else None,
        "min_ratio": float(min_ratio),
        "max_ratio": float(max_ratio),
        "min_people": min_people,
        "required_min": required_min,
        "required_max": required_max,
        "within_norm": within,
        "level": level,
        "shortfall": (required_min - workers) if level == "below" else 0 if level else None,
        "status": status,
    }


def _pct(value: float | None) -> str:
    """1.5%, 2%: percentages without trailing zeros."""
    if value is None:
        return ""
    return f"{round(value * 100, 2):g}%"
