"""The activity log: what each unit and branch holds when. Branches mostly follow the norms,
with seasonal dips, a few short branches and one nearly idle one."""

from __future__ import annotations

import datetime as dt
import random
from itertools import accumulate
from typing import Any

from reportkit.data.demo.dates import (
    MONTHS,
    PERIOD_END,
    PERIOD_START,
    SEASON,
    SHORT_SKIP,
    SPRING_FESTIVAL,
    WORKDAYS,
    is_judged,
    workday,
)
from reportkit.data.demo.topics import (
    HOURS,
    MEETINGS,
    PRESENTERS,
    STUDY_CAMPAIGNS,
    topic_for,
    weighted_pick,
)
from reportkit.data.demo.units import Branch, Unit
from reportkit.data.vocabulary import ACTIVITY_TYPES

# Priorities: lower survives truncation when `rows` is smaller than the plan.
_COVER, _NORM, _EARLY, _EXTRA = 0, 1, 2, 3


def _priority(day: dt.date, per: str) -> int:
    """A norm row the report judges, or an earlier one (before the norms were in force)."""
    return _NORM if is_judged(day, per) else _EARLY


class Planner:
    """Plans the activity log: norm rows first, then extra activities up to `rows`."""

    def __init__(self, rng: random.Random, units: list[Unit]) -> None:
        self.rng = rng
        self.units = units
        self.events: list[tuple[Any, ...]] = []
        self.keys: set[tuple[Any, ...]] = set()

    # -- one row --------------------------------------------------------------------------

    def add(
        self,
        priority: int,
        day: dt.date,
        ui: int,
        bi: int,
        kind: str,
        topic: str = "",
        note: str | None = None,
    ) -> bool:
        """Add an activity unless one with the same date, place, type and topic exists."""
        unit = self.units[ui]
        branch = unit.branches[bi] if bi >= 0 else None
        rng = self.rng
        topic = topic or topic_for(kind, day, rng)
        key = (day, ui, bi, kind, topic)
        if key in self.keys:
            return False
        self.keys.add(key)
        expected = present = hours = None
        peak = day.month in (2, 5)
        if branch is None and kind in ("中心组学习", "专题研讨"):
            expected = unit.committee
        elif branch is None and kind == "大课堂":
            expected = unit.members
        elif branch is not None and kind in MEETINGS:
            expected = branch.members
        elif branch is not None and kind == "支委会":
            expected = branch.committee_size
        elif branch is not None and kind == "党小组会":
            expected = max(3, branch.members // max(1, branch.groups))
        if expected is not None:
            share = rng.uniform(0.0, 0.15 if kind == "大课堂" else 0.08) + (0.05 if peak else 0)
            present = max(1, expected - round(expected * share)) if expected else 0
        if kind in HOURS and rng.random() < 0.9:
            hours = rng.choice(HOURS["专题研讨@branch" if kind == "专题研讨" and branch else kind])
        presenter = None
        if kind in PRESENTERS and (kind != "谈心谈话" or rng.random() < 0.5):
            names, weights = PRESENTERS[kind]
            presenter = weighted_pick(rng, names, weights)
            if branch is None and presenter in ("支部书记",):
                presenter = "党委书记"
            if kind == "党课" and presenter == "党委书记":
                note = note or "党委书记到联系点支部讲党课"
        if note is None and day.year == 2020 and day.month in (2, 3) and expected:
            note = "线上开展"
        if note is None and kind == "组织生活会" and rng.random() < 0.4:
            note = "党委委员到会指导"
        self.events.append(
            (
                priority,
                rng.random(),
                day,
                ui,
                bi,
                kind,
                topic,
                expected,
                present,
                hours,
                presenter,
                note,
            )
        )
        return True

    # -- the plan -------------------------------------------------------------------------

    def plan(self, rows: int) -> list[tuple[Any, ...]]:
        self._coverage()
        for ui, unit in enumerate(self.units):
            self._unit_core(ui)
            for bi in range(len(unit.branches)):
                self._branch_norms(ui, bi)
        # Truncation order: coverage, judged norms, then a share of extras (so a small demo
        # still shows 专题研讨, 大课堂, 调研 …) before norm rows from before the norms applied.
        planned = sorted(self.events, key=lambda e: (e[0], e[1]))
        judged = [e for e in planned if e[0] <= _NORM]
        early = [e for e in planned if e[0] > _NORM]
        if len(judged) >= rows:
            chosen = judged[:rows]
        else:
            room = rows - len(judged)
            extras = min(room, max(room - len(early), round(_EXTRA_SHARE * rows)))
            chosen = judged + early[: room - extras]
            self.events = []
            self._extras(extras)
            chosen += self.events
        chosen.sort(key=lambda e: (e[2], e[3], e[4], _TYPE_ORDER[e[5]], e[6]))
        out = []
        for _, _, day, ui, bi, kind, topic, expected, present, hours, presenter, note in chosen:
            unit = self.units[ui]
            branch = unit.branches[bi].name if bi >= 0 else None
            out.append(
                (day, unit.name, branch, kind, topic, expected, present, hours, presenter, note)
            )
        return out

    def _coverage(self) -> None:
        """One activity of every type in the first unit, kept even when `rows` is tiny."""
        unit = self.units[0]
        home = next((i for i, b in enumerate(unit.branches) if b.profile == "norm"), 0)
        grouped = next(
            (
                (ui, bi)
                for ui, u in enumerate(self.units)
                for bi, b in enumerate(u.branches)
                if b.groups
            ),
            (0, home),
        )
        unit_level = {"中心组学习", "大课堂", "调研", "监督检查"}
        day = dt.date(2023, 6, 1)
        for offset, kind in enumerate(ACTIVITY_TYPES):
            when = workday(day.year, day.month + offset // 6, 5 + 4 * (offset % 6))
            if kind == "党小组会":
                self.add(_COVER, when, grouped[0], grouped[1], kind)
            else:
                self.add(_COVER, when, 0, -1 if kind in unit_level else home, kind)

    def _unit_core(self, ui: int) -> None:
        """A quarterly 中心组学习 and a yearly 走访慰问 before Spring Festival."""
        rng = self.rng
        for year, month in MONTHS:
            if (year, month) == (PERIOD_START.year, PERIOD_START.month):
                # The first study of the 十九大 report, after the congress closed on 10-24.
                self.add(
                    _NORM,
                    workday(year, month, rng.randint(25, 31)),
                    ui,
                    -1,
                    "中心组学习",
                    "学习贯彻党的十九大精神",
                )
            elif month % 3 == 0:
                self.add(_NORM, workday(year, month, rng.randint(8, 26)), ui, -1, "中心组学习")
            if month == 1 and year in SPRING_FESTIVAL:
                sf = SPRING_FESTIVAL[year] - dt.timedelta(days=rng.randint(8, 16))
                self.add(_NORM, workday(sf.year, sf.month, sf.day), ui, -1, "走访慰问")

    def _branch_norms(self, ui: int, bi: int) -> None:
        """Monthly, quarterly and yearly 组织生活, with skips for short and idle branches."""
        self._branch_monthly(ui, bi)
        self._branch_quarterly(ui, bi)
        self._branch_yearly(ui, bi)
        b = self.units[ui].branches[bi]
        for when, topic in STUDY_CAMPAIGNS.items():
            if b.profile == "norm":
                day = workday(when.year, when.month, when.day + self.rng.randint(-5, 5))
                self.add(_EARLY, day, ui, bi, "组织生活会", topic)

    def _skipped(self, b: Branch, month: int, base: float = 1.0) -> bool:
        """Whether a short or idle branch skips a monthly activity (`base` > 1: skips less)."""
        if b.profile == "idle":
            return self.rng.random() > 0.3 * base
        if b.profile == "short":
            return self.rng.random() < SHORT_SKIP[month - 1] * b.laxity / base
        return False

    def _branch_monthly(self, ui: int, bi: int) -> None:
        """主题党日, 支委会 and 党小组会, each month."""
        rng = self.rng
        b = self.units[ui].branches[bi]
        for year, month in MONTHS:
            day = workday(year, month, b.meeting_day + rng.randint(-2, 2))
            forced = b.profile == "short" and (year, month) == (2020, 2)
            if not forced and not self._skipped(b, month):
                self.add(_priority(day, "month"), day, ui, bi, "主题党日")
            committee = b.has_committee and b.profile != "idle" and not forced
            if committee and not self._skipped(b, month, 1.3):
                before = workday(year, month, max(1, day.day - rng.randint(3, 8)))
                self.add(_priority(before, "month"), before, ui, bi, "支委会")
            if b.groups and not self._skipped(b, month, 1.3):
                group_day = workday(year, month, rng.randint(5, 14))
                self.add(_priority(group_day, "month"), group_day, ui, bi, "党小组会")

    def _branch_quarterly(self, ui: int, bi: int) -> None:
        """支部党员大会 and 党课, each quarter, in a month chosen by season."""
        rng = self.rng
        b = self.units[ui].branches[bi]
        quarters = sorted({(y, (m - 1) // 3) for y, m in MONTHS})
        for year, q in quarters:
            months = [m for m in (3 * q + 1, 3 * q + 2, 3 * q + 3) if (year, m) in WORKDAYS]
            for kind in ("支部党员大会", "党课"):
                if b.profile == "idle" and (kind == "党课" or rng.random() > 0.3):
                    continue
                if b.profile == "short" and rng.random() < 0.3:
                    continue
                month = rng.choices(months, [SEASON[m - 1] for m in months])[0]
                day = workday(year, month, rng.randint(3, 26))
                self.add(_priority(day, "quarter"), day, ui, bi, kind)

    def _branch_yearly(self, ui: int, bi: int) -> None:
        """组织生活会, with 谈心谈话 before it and 民主评议党员 after it, each year."""
        rng = self.rng
        b = self.units[ui].branches[bi]
        for year in range(PERIOD_START.year + 1, PERIOD_END.year + 1):
            # Before Spring Festival or after it, seldom during the holiday month.
            meeting = workday(
                year, rng.choices((1, 2, 3), (0.45, 0.15, 0.4))[0], rng.randint(10, 26)
            )
            if b.profile == "idle" and rng.random() < 0.5:
                continue
            self.add(_priority(meeting, "year"), meeting, ui, bi, "组织生活会")
            if b.profile == "idle":
                continue
            talk = workday(year, 1 if meeting.month == 1 else meeting.month - 1, rng.randint(5, 20))
            if talk >= meeting:
                talk = workday(year, meeting.month, max(1, meeting.day - 5))
            if not (b.profile == "short" and rng.random() < 0.3):
                self.add(_priority(talk, "year"), talk, ui, bi, "谈心谈话")
            if not (b.profile == "short" and rng.random() < 0.3):
                review = workday(year, meeting.month, meeting.day + rng.randint(0, 3))
                self.add(_priority(review, "year"), review, ui, bi, "民主评议党员")

    def _extras(self, count: int) -> None:
        """`count` more activities, by unit/branch weight, type weight and season."""
        rng = self.rng
        targets: list[tuple[int, int]] = []
        weights: list[float] = []
        branch_total = 0.0
        for ui, unit in enumerate(self.units):
            for bi, b in enumerate(unit.branches):
                w = {"norm": 0.6 + b.members / 40, "short": 0.35, "idle": 0.0}[b.profile]
                targets.append((ui, bi))
                weights.append(w)
                branch_total += w
        per_unit = max(branch_total, 1.0) * 0.45 / len(self.units)  # ~30% at unit level
        for ui in range(len(self.units)):
            targets.append((ui, -1))
            weights.append(per_unit)
        month_weights = []
        for year, month in MONTHS:
            share = len(WORKDAYS[(year, month)]) / 21
            trend = 0.85 if year <= 2018 else 1.0
            pandemic = 0.5 if (year, month) in ((2020, 2), (2020, 3)) else 1.0
            month_weights.append(SEASON[month - 1] * share * trend * pandemic)
        target_cum = list(accumulate(weights))
        month_cum = list(accumulate(month_weights))
        added = attempts = 0
        while added < count and attempts < 20 * count + 100:
            batch = count - added
            attempts += batch
            for (ui, bi), (year, month) in zip(
                rng.choices(targets, cum_weights=target_cum, k=batch),
                rng.choices(MONTHS, cum_weights=month_cum, k=batch),
                strict=True,
            ):
                kind = self._extra_kind(ui, bi)
                day = dt.date(year, month, rng.choice(WORKDAYS[(year, month)]))
                added += self.add(_EXTRA, day, ui, bi, kind)

    def _extra_kind(self, ui: int, bi: int) -> str:
        rng = self.rng
        if bi < 0:
            return weighted_pick(rng, _UNIT_EXTRA, _UNIT_EXTRA_W)
        b = self.units[ui].branches[bi]
        kind = weighted_pick(rng, _BRANCH_EXTRA, _BRANCH_EXTRA_W)
        if kind == "党小组会" and not b.groups:
            kind = "党课"
        if kind == "支委会" and not b.has_committee:
            kind = "主题党日"
        return kind


_TYPE_ORDER = {name: i for i, name in enumerate(ACTIVITY_TYPES)}
#: Share of rows kept for extra activities when `rows` is too small for every norm row.
_EXTRA_SHARE = 0.15
_UNIT_EXTRA = ("中心组学习", "专题研讨", "大课堂", "调研", "监督检查", "走访慰问", "其他")
_UNIT_EXTRA_W = (3.0, 2.0, 1.5, 1.2, 0.8, 0.5, 0.3)
_BRANCH_EXTRA = (
    "党课",
    "主题党日",
    "专题研讨",
    "谈心谈话",
    "支部党员大会",
    "支委会",
    "党小组会",
    "走访慰问",
    "突击队",
    "示范岗",
    "品牌创建",
    "其他",
)
_BRANCH_EXTRA_W = (1.0, 0.6, 0.6, 0.8, 0.4, 0.5, 1.2, 0.3, 0.2, 0.25, 0.25, 0.3)
