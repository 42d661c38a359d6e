"""Claims a report sentence may make, each one a small named predicate over plain figures.

A sentence such as "以中心组学习为主", "最多的……" or "A是B的2倍" is true for some data and false
for other data. The wording template states such a claim only when the predicate here says it
holds, and states the figures the predicate returns; the template does no arithmetic itself.
Every function is pure over numbers read from stats.json, so the same rules serve the unit report
and the summary, and tests can re-derive each claim independently.

Number style follows GB/T 15835: Arabic numerals, whole percentages in prose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: "A是B的N倍" only from this ratio up; below it the difference is stated ("多N次").
TIMES_MIN = 1.5
#: A whole year is "low" when below this share of the yearly average over whole years.
LOW_YEAR_SHARE = 0.75


def number(value: float) -> str:
    """12.0 -> 12, 12.34 -> 12.3: figures as a report writes them."""
    return f"{value:.1f}".removesuffix(".0")


def whole_percent(share: float) -> int:
    """A share as a whole percent, half rounded up (0.125 -> 13), as prose states shares."""
    return int(share * 100 + 0.5)


def nonzero(counts: Mapping[str, int], keys: Iterable[str]) -> list[tuple[str, int]]:
    """(key, count) for the keys with a count, in order: an achievement list leaves zeros out."""
    return [(k, int(counts.get(k, 0))) for k in keys if counts.get(k, 0)]


def main_share(counts: Mapping[str, int], keys: Sequence[str]) -> dict[str, Any] | None:
    """The key with the unique largest count among `keys`, with its whole-percent share.

    None when nothing was counted or the largest count is shared: "以X为主" is then untrue.
    `only` says the other keys are all zero (X is the sole form, not just the main one).
    """
    values = {k: int(counts.get(k, 0)) for k in keys}
    total = sum(values.values())
    top = max(values.values(), default=0)
    leaders = [k for k, v in values.items() if v == top]
    if not total or len(leaders) != 1:
        return None
    return {
        "key": leaders[0],
        "count": top,
        "percent": whole_percent(top / total),
        "only": top == total,
    }


def extremes(values: Mapping[str, int]) -> dict[str, Any] | None:
    """Most and least among at least two comparands, ties kept as lists of names.

    None with fewer than two comparands (a superlative over one is meaningless). `equal` says
    every comparand has the same value, so there is neither a most nor a least.
    """
    if len(values) < 2:
        return None
    top, low = max(values.values()), min(values.values())
    return {
        "max": [k for k, v in values.items() if v == top],
        "max_value": top,
        "min": [k for k, v in values.items() if v == low],
        "min_value": low,
        "equal": top == low,
    }


def peak(values: Mapping[str, int]) -> dict[str, Any] | None:
    """The most among at least two comparands, when it stands out (the extremes otherwise).

    None when all are equal, when more than half share the top (that is the usual, not a
    peak), or when there is less than one a comparand on average (a peak among mostly empty
    years says nothing).
    """
    found = extremes(values)
    if not found or found["equal"] or len(found["max"]) > len(values) // 2:
        return None
    return found if sum(values.values()) >= len(values) else None


def compare(larger: float, smaller: float) -> dict[str, Any] | None:
    """How `larger` exceeds `smaller`: {"times": "2.3"} from TIMES_MIN up, else {"more": n}.

    None when it does not exceed it. With `smaller` zero there is no ratio, only a difference.
    """
    if larger <= smaller:
        return None
    if smaller > 0 and larger / smaller >= TIMES_MIN:
        return {"times": number(larger / smaller), "more": None}
    return {"times": None, "more": number(larger - smaller)}


def notable_spread(values: Mapping[str, int]) -> bool:
    """Whether the most active is at least TIMES_MIN times the least (or the least has none).

    Below that, counts are close enough that calling them unbalanced would overstate it.
    """
    found = extremes(values)
    if not found or found["equal"]:
        return False
    return found["min_value"] == 0 or found["max_value"] / found["min_value"] >= TIMES_MIN


def whole_years(start: str, end: str) -> list[str]:
    """The calendar years lying wholly inside [start, end] (ISO dates, both inclusive)."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    lo = first.year if (first.month, first.day) == (1, 1) else first.year + 1
    hi = last.year if (last.month, last.day) == (12, 31) else last.year - 1
    return [str(y) for y in range(lo, hi + 1)]


def yearly_average(by_year: Mapping[str, int], years: Sequence[str]) -> float | None:
    """The average over whole years, only when there are two or more of them."""
    if len(years) < 2:
        return None
    return sum(by_year.get(y, 0) for y in years) / len(years)


def stated_average(by_year: Mapping[str, int], years: Sequence[str]) -> float | None:
    """The yearly average as a report states it: over two or more whole years, and at least 1.

    Below one a year, "年均0.1次" reads as a fraction of an activity; the count says it better.
    """
    mean = yearly_average(by_year, years)
    return mean if mean is not None and mean >= 1 else None


def low_years(by_year: Mapping[str, int], years: Sequence[str]) -> list[str]:
    """Whole years below LOW_YEAR_SHARE of the yearly average (none when no average applies)."""
    mean = yearly_average(by_year, years)
    if not mean:
        return []
    return [y for y in years if by_year.get(y, 0) < LOW_YEAR_SHARE * mean]


def table_granularity(start: str, end: str) -> str | None:
    """The calendar unit a by-time table uses: year, quarter or month, or None for no table.

    By year when the period runs longer than a year across two or more calendar years; else
    the coarsest of quarter and month that gives at least two rows; a single month gets none.
    """
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    quarters = (last.year - first.year) * 4 + (last.month - 1) // 3 - (first.month - 1) // 3 + 1
    if last.year > first.year and (last - first).days >= 366:
        return "year"
    if quarters >= 2:
        return "quarter"
    if months >= 2:
        return "month"
    return None


def period_key(month_key: str, per: str) -> str:
    """The year, quarter (2023Q2) or month (2023-05) a "YYYY-MM" month key falls in."""
    year, month = month_key.split("-")
    if per == "year":
        return year
    if per == "quarter":
        return f"{year}Q{(int(month) - 1) // 3 + 1}"
    return month_key


def compliance(judged: Mapping[str, bool]) -> dict[str, Any] | None:
    """Branches judged on the norms and how many met every rule judged for them.

    kind is "all" (均达到), "none" (均存在未达到) or "some" (N个中有M个, M ≥ 1); `short` counts
    those that did not. None when no branch could be judged, so nothing is claimed.
    """
    if not judged:
        return None
    met = sum(1 for ok in judged.values() if ok)
    kind = "all" if met == len(judged) else "none" if met == 0 else "some"
    return {"kind": kind, "judged": len(judged), "met": met, "short": len(judged) - met}


def period_keys(start: str, end: str, per: str) -> list[str]:
    """Every quarter (2023Q2) or month (2023-05) the period [start, end] touches, in order."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    keys: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        key = period_key(f"{year}-{month:02d}", per)
        if key not in keys:
            keys.append(key)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys
