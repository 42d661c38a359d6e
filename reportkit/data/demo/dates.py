"""The demo's calendar: its period, holidays, workdays and the months the norms are judged in."""

from __future__ import annotations

import bisect
import calendar
import datetime as dt

PERIOD_START = dt.date(2017, 10, 18)
PERIOD_END = dt.date(2024, 12, 31)
PERIOD_LABEL = "党的十九大以来"
#: The 组织生活 norms are judged from the first whole month after 2018-10-28.
NORMS_SINCE = dt.date(2018, 10, 28)


SPRING_FESTIVAL = {
    2018: dt.date(2018, 2, 16),
    2019: dt.date(2019, 2, 5),
    2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
}
#: Relative activity by month: Spring Festival (Feb) and the 汇算清缴 peak (May) dip.
SEASON = (0.8, 0.35, 0.85, 0.8, 0.5, 1.0, 1.15, 0.9, 1.0, 0.85, 1.1, 1.1)
#: How often a branch that is short of the norms skips a month, by month.
SHORT_SKIP = (0.3, 0.65, 0.3, 0.3, 0.55, 0.25, 0.2, 0.3, 0.25, 0.35, 0.2, 0.25)


def _holidays() -> set[dt.date]:
    days: set[dt.date] = set()
    for year in range(PERIOD_START.year, PERIOD_END.year + 1):
        days.add(dt.date(year, 1, 1))
        days.update(dt.date(year, 5, d) for d in range(1, 4))
        days.update(dt.date(year, 10, d) for d in range(1, 8))
        days.update(dt.date(year, 4, d) for d in (4, 5))
        if year in SPRING_FESTIVAL:
            eve = SPRING_FESTIVAL[year] - dt.timedelta(days=1)
            days.update(eve + dt.timedelta(days=i) for i in range(8))
    return days


def _months() -> list[tuple[int, int]]:
    out, (year, month) = [], (PERIOD_START.year, PERIOD_START.month)
    while (year, month) <= (PERIOD_END.year, PERIOD_END.month):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


MONTHS: list[tuple[int, int]] = _months()
_HOLIDAYS = _holidays()
#: Working days per month inside the period, for fast day picking.
WORKDAYS: dict[tuple[int, int], list[int]] = {
    (y, m): [
        d
        for d in range(1, calendar.monthrange(y, m)[1] + 1)
        if dt.date(y, m, d).weekday() < 5
        and dt.date(y, m, d) not in _HOLIDAYS
        and PERIOD_START <= dt.date(y, m, d) <= PERIOD_END
    ]
    for y, m in MONTHS
}


def workday(year: int, month: int, preferred: int) -> dt.date:
    """The working day of a month nearest to `preferred` (the period's first month included)."""
    days = WORKDAYS[(year, month)]
    at = bisect.bisect_left(days, preferred)
    if at == len(days) or (at > 0 and preferred - days[at - 1] < days[at] - preferred):
        at -= 1
    return dt.date(year, month, days[at])


def is_judged(day: dt.date, per: str) -> bool:
    """Whether the month/quarter/year holding `day` is judged against the norms."""
    if per == "month":
        return (day.year, day.month) > (NORMS_SINCE.year, NORMS_SINCE.month)
    if per == "quarter":
        return (day.year, (day.month - 1) // 3) > (NORMS_SINCE.year, (NORMS_SINCE.month - 1) // 3)
    return day.year > NORMS_SINCE.year
