"""A realistic, deterministic synthetic workbook for demos, tests and benchmarks.

The demo stands in for a municipal tax bureau's 党建工作台账: units, branches, a roster, rewards
and discipline, and an activity log shaped like a real one. Branches mostly follow the
组织生活 norms, with seasonal dips (Spring Festival, tax filing peaks), a few branches short of
the norms and one nearly idle branch, so that every section of a report has something to say.
The log also carries the mess real logs have and the contract accepts (a title row, an alias
header, dates typed as text, type aliases, a blank row), so a demo run exercises normalisation.

Everything derives from one `random.Random(seed)`; the file is written by a small streaming XLSX
writer with fixed timestamps, so the same arguments give a byte-identical workbook. openpyxl
took about 40 s for 200,000 rows here, this writer a few seconds.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import math
import random
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

from reportkit.data.schema import ACTIVITIES, DISCIPLINE, MEMBERS, UNITS
from reportkit.data.vocabulary import ACTIVITY_TYPES
from reportkit.data.workbook_template import check_writable, is_formula_like, write_atomically

PERIOD_START = dt.date(2017, 10, 18)
PERIOD_END = dt.date(2024, 12, 31)
PERIOD_LABEL = "党的十九大以来"
#: The 组织生活 norms are judged from the first whole month after 2018-10-28.
NORMS_SINCE = dt.date(2018, 10, 28)
FIXED_TIMESTAMP = dt.datetime(2024, 12, 31, 0, 0, 0)

DEMO_WORKBOOK = "demo.xlsx"
DEMO_PARAMS = "params.yaml"

# Priorities: lower survives truncation when `rows` is smaller than the plan.
_COVER, _NORM, _EARLY, _EXTRA = 0, 1, 2, 3

# --------------------------------------------------------------------------- names

_UNIT_POOL: tuple[tuple[str, str], ...] = (
    ("国家税务总局某市税务局机关", "机关"),
    ("国家税务总局某市城东区税务局", "区局"),
    ("国家税务总局某市第一稽查局", "稽查"),
    ("国家税务总局某市税务局办税服务中心", "服务"),
    ("国家税务总局某市高新技术产业开发区税务局", "区局"),
    ("国家税务总局某市北山县税务局", "县局"),
    ("国家税务总局某市城西区税务局", "区局"),
    ("国家税务总局某市第二稽查局", "稽查"),
    ("国家税务总局某市滨江区税务局", "区局"),
    ("国家税务总局某市南湖县税务局", "县局"),
    ("国家税务总局某市经济技术开发区税务局", "区局"),
    ("国家税务总局某市临港新区税务局", "区局"),
    ("国家税务总局某市第三稽查局", "稽查"),
    ("国家税务总局某市东山县税务局", "县局"),
    ("国家税务总局某市税务局直属税务分局", "区局"),
    ("国家税务总局某市西岭县税务局", "县局"),
)

_BRANCH_POOL: dict[str, tuple[str, ...]] = {
    "机关": (
        "办公室党支部",
        "政策法规党支部",
        "征管科技党支部",
        "纳税服务党支部",
        "财务管理党支部",
        "人事教育党支部",
        "督察内审党支部",
        "离退休干部党支部",
    ),
    "区局": (
        "机关第一党支部",
        "机关第二党支部",
        "纳税服务党支部",
        "第一税务所党支部",
        "第二税务所党支部",
        "税源管理党支部",
        "社会保险费和非税收入党支部",
        "离退休干部党支部",
    ),
    "稽查": (
        "第一党支部",
        "第二党支部",
        "检查一科党支部",
        "检查二科党支部",
        "审理科党支部",
        "执行科党支部",
        "综合党支部",
        "离退休干部党支部",
    ),
    "服务": (
        "第一党支部",
        "第二党支部",
        "办税服务厅党支部",
        "纳税咨询党支部",
        "12366纳税服务热线党支部",
        "综合党支部",
        "青年党支部",
        "离退休干部党支部",
    ),
    "县局": (
        "机关党支部",
        "第一税务分局党支部",
        "第二税务分局党支部",
        "办税服务厅党支部",
        "税源管理党支部",
        "征收管理党支部",
        "综合党支部",
        "离退休干部党支部",
    ),
}
_RETIREES = "离退休干部党支部"
_STAFF_RANGE = {
    "机关": (260, 460),
    "区局": (150, 380),
    "稽查": (90, 220),
    "服务": (80, 180),
    "县局": (90, 240),
}
_STEMS = "甲乙丙丁戊己庚辛壬癸"

# --------------------------------------------------------------------------- calendar

_SPRING_FESTIVAL = {
    2018: dt.date(2018, 2, 16),
    2019: dt.date(2019, 2, 5),
    2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
}
#: Relative activity by month: Spring Festival (Feb) and the 汇算清缴 peak (May) dip.
_SEASON = (0.8, 0.35, 0.85, 0.8, 0.5, 1.0, 1.15, 0.9, 1.0, 0.85, 1.1, 1.1)
#: How often a branch that is short of the norms skips a month, by month.
_SHORT_SKIP = (0.3, 0.65, 0.3, 0.3, 0.55, 0.25, 0.2, 0.3, 0.25, 0.35, 0.2, 0.25)


def _holidays() -> set[dt.date]:
    days: set[dt.date] = set()
    for year in range(PERIOD_START.year, PERIOD_END.year + 1):
        days.add(dt.date(year, 1, 1))
        days.update(dt.date(year, 5, d) for d in range(1, 4))
        days.update(dt.date(year, 10, d) for d in range(1, 8))
        days.update(dt.date(year, 4, d) for d in (4, 5))
        if year in _SPRING_FESTIVAL:
            eve = _SPRING_FESTIVAL[year] - dt.timedelta(days=1)
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
_WORKDAYS: dict[tuple[int, int], list[int]] = {
    (y, m): [
        d
        for d in range(1, calendar.monthrange(y, m)[1] + 1)
        if dt.date(y, m, d).weekday() < 5
        and dt.date(y, m, d) not in _HOLIDAYS
        and PERIOD_START <= dt.date(y, m, d) <= PERIOD_END
    ]
    for y, m in MONTHS
}


def _day(year: int, month: int, preferred: int) -> dt.date:
    """The working day of a month nearest to `preferred` (the period's first month included)."""
    days = _WORKDAYS[(year, month)]
    at = bisect.bisect_left(days, preferred)
    if at == len(days) or (at > 0 and preferred - days[at - 1] < days[at] - preferred):
        at -= 1
    return dt.date(year, month, days[at])


def _judged(day: dt.date, per: str) -> bool:
    """Whether the month/quarter/year holding `day` is judged against the norms."""
    if per == "month":
        return (day.year, day.month) > (NORMS_SINCE.year, NORMS_SINCE.month)
    if per == "quarter":
        return (day.year, (day.month - 1) // 3) > (NORMS_SINCE.year, (NORMS_SINCE.month - 1) // 3)
    return day.year > NORMS_SINCE.year


# --------------------------------------------------------------------------- topics

#: (from, to, focus): what the party was studying at the time.
_FOCUS: tuple[tuple[dt.date, dt.date, str], ...] = tuple(
    (dt.date.fromisoformat(a), dt.date.fromisoformat(b), text)
    for a, b, text in (
        ("2017-10-18", "2018-06-30", "学习贯彻党的十九大精神"),
        ("2018-01-19", "2018-05-31", "学习贯彻党的十九届二中、三中全会精神"),
        ("2018-03-11", "2018-06-30", "学习宪法修正案"),
        ("2018-06-15", "2018-12-31", "推进国税地税征管体制改革"),
        ("2018-11-01", "2019-06-30", "学习贯彻《中国共产党支部工作条例（试行）》"),
        ("2019-01-01", "2019-12-31", "落实更大规模减税降费"),
        ("2019-06-01", "2019-12-31", "“不忘初心、牢记使命”主题教育"),
        ("2019-11-01", "2020-08-31", "学习贯彻党的十九届四中全会精神"),
        ("2020-02-01", "2020-06-30", "统筹推进疫情防控和税收工作"),
        ("2020-06-01", "2020-12-31", "决战决胜脱贫攻坚"),
        ("2020-11-01", "2021-06-30", "学习贯彻党的十九届五中全会精神"),
        ("2021-02-20", "2021-12-31", "党史学习教育"),
        ("2021-03-24", "2021-12-31", "落实《关于进一步深化税收征管改革的意见》"),
        ("2021-07-01", "2021-10-31", "学习贯彻习近平总书记“七一”重要讲话精神"),
        ("2021-11-11", "2022-06-30", "学习贯彻党的十九届六中全会精神"),
        ("2022-04-01", "2022-10-15", "喜迎党的二十大"),
        ("2022-10-23", "2023-09-30", "学习贯彻党的二十大精神"),
        ("2023-04-01", "2024-01-31", "学习贯彻习近平新时代中国特色社会主义思想主题教育"),
        ("2024-04-01", "2024-07-31", "党纪学习教育"),
        ("2024-07-18", "2024-12-31", "学习贯彻党的二十届三中全会精神"),
    )
)
_GENERAL = (
    "学习习近平新时代中国特色社会主义思想",
    "学习习近平总书记关于税收工作的重要论述",
    "学习《中国共产党章程》",
    "学习《中国共产党纪律处分条例》",
    "优化税收营商环境",
    "党风廉政建设警示教育",
    "全面从严治党",
)
_STUDY_CAMPAIGNS = {  # 专题组织生活会 held at the close of each study campaign
    dt.date(2019, 12, 20): "“不忘初心、牢记使命”主题教育专题组织生活会",
    dt.date(2022, 1, 20): "党史学习教育专题组织生活会",
    dt.date(2024, 1, 18): "主题教育专题组织生活会",
}
_BRANDS = ("税徽闪耀", "红色税苑", "党建+纳税服务", "税心向党", "先锋税务")


@functools.cache
def _focus_on(day: dt.date) -> tuple[str, ...]:
    return tuple(text for a, b, text in _FOCUS if a <= day <= b)


def _focus(day: dt.date, rng: random.Random) -> str:
    current = _focus_on(day)
    if current and rng.random() < 0.75:
        return rng.choice(current)
    return rng.choice(_GENERAL)


def _topic(kind: str, day: dt.date, rng: random.Random, ctx: str = "") -> str:
    """A plausible topic for an activity of `kind` held on `day`."""
    focus = _focus(day, rng)
    y, m = day.year, day.month
    if kind == "中心组学习":
        return rng.choice((focus, f"{focus}（集体学习）", f"专题学习：{focus}"))
    if kind == "专题研讨":
        return f"围绕“{_strip_verb(focus)}”开展专题研讨"
    if kind == "大课堂":
        return f"“真学实做知行合一大课堂”：{_strip_verb(focus)}"
    if kind == "主题党日":
        if m == 4 and rng.random() < 0.5:
            return rng.choice(("清明祭英烈", "税收宣传月志愿服务"))
        if m in (6, 7) and rng.random() < 0.6:
            return f"庆祝中国共产党成立{y - 1921}周年"
        return rng.choice(
            (
                f"集中{focus}" if focus.startswith("学习") else focus,
                "重温入党誓词",
                "参观红色教育基地",
                "走进社区开展税收政策宣讲",
                "观看警示教育片",
                f"{focus}",
            )
        )
    if kind == "党课":
        return f"专题党课：{_strip_verb(focus)}"
    if kind == "支部党员大会":
        return rng.choice(
            (
                f"传达{focus}" if focus.startswith("学习") else f"部署{focus}",
                "讨论接收预备党员",
                "讨论预备党员转为正式党员",
                "通报支部工作",
                "评议推选优秀共产党员" if m in (5, 6) else "传达上级党委会议精神",
            )
        )
    if kind == "支委会":
        return rng.choice(
            (
                f"研究{m}月支部工作安排",
                "研究发展党员工作",
                "研究党费收缴工作",
                f"研究{focus}具体安排",
                f"研究{m}月主题党日安排",
            )
        )
    if kind == "党小组会":
        return rng.choice(
            (
                f"集中{focus}" if focus.startswith("学习") else focus,
                "交流学习心得体会",
                "讨论业务工作中的难点问题",
            )
        )
    if kind == "组织生活会":
        return ctx or f"{y - 1}年度组织生活会"
    if kind == "民主评议党员":
        return f"{y - 1}年度民主评议党员"
    if kind == "谈心谈话":
        return ctx or rng.choice(("开展谈心谈话", "组织生活会前谈心谈话", "节前谈心谈话"))
    if kind == "调研":
        subject = rng.choice(
            (
                "减税降费政策落实情况",
                "基层党建工作",
                "办税服务厅运行情况",
                "征管改革推进情况",
                "税收营商环境",
                "重点税源企业",
            )
            + (("个人所得税汇算工作", "“非接触式”办税推广") if y >= 2020 else ())
        )
        return f"赴基层单位调研{subject}"
    if kind == "监督检查":
        return rng.choice(
            (
                "“三会一课”制度落实情况检查",
                "党风廉政建设责任制落实情况监督检查",
                "中央八项规定精神落实情况检查",
                "党费收缴使用情况检查",
            )
        )
    if kind == "走访慰问":
        if m in (1, 2):
            return "春节前走访慰问困难党员和老党员"
        if m in (6, 7):
            return "“七一”前走访慰问生活困难党员"
        return rng.choice(("走访慰问生病住院党员", "走访慰问困难职工"))
    if kind == "突击队":
        options = ["组建减税降费党员突击队"]
        if y >= 2019:
            options.append("组建社会保险费征收职责划转党员突击队")
        if y == 2020 and m <= 6:
            options.append("组建疫情防控党员先锋队")
        if y >= 2020:
            options.append("组建个人所得税汇算党员突击队")
        return rng.choice(options)
    if kind == "示范岗":
        return rng.choice(("办税服务厅设立党员示范岗", "评选季度党员示范岗", "党员示范岗挂牌"))
    if kind == "品牌创建":
        return rng.choice(("“一支部一品牌”创建推进会", f"支部党建品牌“{rng.choice(_BRANDS)}”创建"))
    return rng.choice(
        (
            "参加党建知识竞赛",
            "党建工作信息平台操作培训",
            "组织党员参加无偿献血",
            "“青年文明号”创建活动",
        )
    )


@functools.cache
def _cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


def _pick(rng: random.Random, names: Sequence[str], weights: tuple[float, ...]) -> str:
    """rng.choices(names, weights)[0], without re-summing the weights on every call."""
    cum = _cumulative(weights)
    return names[bisect.bisect(cum, rng.random() * cum[-1], 0, len(cum) - 1)]


def _strip_verb(text: str) -> str:
    return re.sub(r"^(学习贯彻|学习|推进|落实)", "", text) or text


_PRESENTERS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "中心组学习": (("党委书记", "党委副书记"), (0.85, 0.15)),
    "专题研讨": (("党委书记", "党委副书记", "纪检组长", "支部书记"), (0.5, 0.2, 0.1, 0.2)),
    "大课堂": (("特邀专家", "党校教师", "党委书记", "机关党委书记", "业务骨干"), (3, 2, 2, 2, 1)),
    "主题党日": (("支部书记", "组织委员", "宣传委员"), (0.8, 0.12, 0.08)),
    "党课": (("支部书记", "党委书记", "党委委员", "特邀专家", "纪检组长"), (6, 1.5, 1.5, 0.5, 0.5)),
    "支部党员大会": (("支部书记",), (1,)),
    "支委会": (("支部书记", "支部副书记"), (0.9, 0.1)),
    "党小组会": (("党小组长",), (1,)),
    "组织生活会": (("支部书记",), (1,)),
    "民主评议党员": (("支部书记",), (1,)),
    "谈心谈话": (("支部书记",), (1,)),
    "调研": (("党委书记", "党委副书记", "党委委员"), (0.4, 0.3, 0.3)),
    "监督检查": (("纪检组长", "机关党委书记", "机关纪委书记"), (0.4, 0.3, 0.3)),
    "走访慰问": (("党委书记", "机关党委书记", "支部书记"), (0.4, 0.3, 0.3)),
}
_HOURS: dict[str, tuple[float, ...]] = {
    "中心组学习": (2, 2.5, 3, 3),
    "专题研讨": (2, 2.5, 3),
    "大课堂": (1.5, 2, 2),
    "主题党日": (2, 2, 2.5, 3, 4),
    "党课": (1.5, 1.5, 2),
    "支部党员大会": (1, 1.5, 2),
    "支委会": (1, 1, 1.5),
    "党小组会": (1, 1, 1.5),
    "组织生活会": (3, 3.5, 4),
    "民主评议党员": (1.5, 2),
    "专题研讨@branch": (1.5, 2),
}
_MEETINGS = {"主题党日", "党课", "支部党员大会", "组织生活会", "民主评议党员", "专题研讨"}


# --------------------------------------------------------------------------- model


@dataclass
class Branch:
    name: str
    members: int
    probationary: int
    groups: int  # number of party groups; 0 = none
    profile: str = "norm"  # "norm" | "short" (skips months) | "idle" (hardly any activity)
    meeting_day: int = 20  # preferred day of the month for 主题党日
    laxity: float = 1.0  # how much more often than usual a "short" branch skips

    @property
    def full_members(self) -> int:
        return self.members - self.probationary

    @property
    def has_committee(self) -> bool:
        """Branches with 7 or more full members elect a committee (支部工作条例 第九条)."""
        return self.full_members >= 7

    @property
    def committee_size(self) -> int:
        return 5 if self.full_members >= 25 else 3


@dataclass
class Unit:
    name: str
    kind: str
    org_name: str | None
    staff_total: int
    party_workers: int
    committee: int  # 党委委员 attending 中心组学习
    branches: list[Branch] = field(default_factory=list)

    @property
    def members(self) -> int:
        return sum(b.members for b in self.branches)


@dataclass
class Demo:
    """The synthetic data before it is written: units, and the rows of each sheet."""

    units: list[Unit]
    #: (date, unit, branch or None, type, topic, expected, present, hours, presenter, note)
    activities: list[tuple[Any, ...]]
    #: (name, unit, branch, category, post, full-time party worker)
    members: list[tuple[Any, ...]]
    #: (date, unit, branch, category, subject, reason)
    discipline: list[tuple[Any, ...]]


# --------------------------------------------------------------------------- building


def build_demo(units: int = 6, rows: int = 3000, seed: int = 20171018) -> Demo:
    """The demo data in memory; the same arguments always give the same data."""
    if units < 1 or rows < 1:
        raise ValueError("units and rows must be positive")
    rng = random.Random(seed)
    unit_list = _make_units(rng, units, rows)
    members = _make_members(rng, unit_list)
    planner = _Planner(rng, unit_list)
    activities = planner.plan(rows)
    discipline = _make_discipline(rng, unit_list, members)
    return Demo(unit_list, activities, members, discipline)


def _unit_name(index: int) -> tuple[str, str]:
    if index < len(_UNIT_POOL):
        return _UNIT_POOL[index]
    return f"国家税务总局某市第{_cn_number(index - len(_UNIT_POOL) + 1)}税务分局", "区局"


def _cn_number(n: int) -> str:
    """Chinese numerals for 1..9999 (一, 十二, 一百零五, 一千二百三十四)."""
    digits, units = "零一二三四五六七八九", ("", "十", "百", "千")
    if n < 1 or n > 9999:
        return str(n)
    text, zero = "", False
    for power in range(3, -1, -1):
        d = n // 10**power % 10
        if d == 0:
            zero = bool(text)
            continue
        if zero:
            text += "零"
            zero = False
        text += ("" if d == 1 and power == 1 and not text else digits[d]) + units[power]
    return text


def _branch_cost(b: Branch) -> int:
    """Judged norm rows a compliant branch needs (74 months, 24 quarters, 6 years)."""
    monthly = 1 + b.has_committee + (b.groups > 0)
    return 74 * monthly + 24 * 2 + 6 * 3


def _make_units(rng: random.Random, count: int, rows: int) -> list[Unit]:
    """Units with 2–8 branches; fewer when `rows` cannot hold the norms of that many."""
    units: list[Unit] = []
    for index in range(count):
        name, kind = _unit_name(index)
        lo, hi = _STAFF_RANGE[kind]
        staff = rng.randint(lo, hi)
        pool = _BRANCH_POOL[kind]
        n = rng.randint(5, 8) if kind == "机关" else rng.randint(2, 8)
        picked = sorted(rng.sample(range(len(pool)), n))
        branches = []
        for i in picked:
            retirees = pool[i] == _RETIREES
            members = rng.randint(12, 40) if retirees else int(rng.triangular(5, 45, 18))
            probationary = 0 if retirees else min(members - 1, rng.choice((0, 0, 0, 1, 1, 2)))
            groups = members // 10 if members >= 20 and not retirees and rng.random() < 0.6 else 0
            branches.append(
                Branch(pool[i], members, probationary, groups, meeting_day=rng.randint(16, 27))
            )
        org = None if rng.random() < 0.4 else f"中共{name}委员会"
        units.append(Unit(name, kind, org, staff, 0, rng.randint(7, 11), branches))

    # Fit: drop branches (from the unit with most, last first) until the norms fit in ~80%.
    budget = 0.8 * rows - 30 * count
    while sum(_branch_cost(b) for u in units for b in u.branches) > budget:
        unit = max(reversed(units), key=lambda u: len(u.branches))
        if len(unit.branches) <= 2:
            break
        # Keep a retirees' branch: it is the natural nearly idle one.
        others = [b for b in unit.branches if b.name != _RETIREES]
        unit.branches.remove(others[-1] if others else unit.branches[-1])

    everyone = [b for u in units for b in u.branches]
    if not any(b.groups for b in everyone):
        biggest = max(everyone, key=lambda b: b.members)
        biggest.members = max(biggest.members, 20)
        biggest.groups = 2
    # Profiles: one nearly idle branch (a retirees' branch if any), ~15% short of the norms.
    if len(everyone) >= 2:
        idle = next((b for b in everyone if b.name == _RETIREES), everyone[-1])
        idle.profile = "idle"
        rest = [b for b in everyone if b is not idle]
        for b in rng.sample(rest, min(len(rest), max(1, round(0.15 * len(everyone))))):
            b.profile, b.laxity = "short", rng.uniform(0.3, 1.3)
    elif everyone:
        everyone[0].profile = "short"

    # Staffing: full-time party workers at 0.6%..2.4% of staff, at least one unit on each side.
    ratios = [0.006, 0.015] + [
        rng.choice((0.007, 0.009, 0.011, 0.013, 0.016, 0.019, 0.024))
        for _ in range(max(0, count - 2))
    ]
    rng.shuffle(ratios)
    for unit, ratio in zip(units, ratios, strict=False):
        unit.staff_total = max(unit.staff_total, round(unit.members / 0.8))
        unit.party_workers = max(1, round(unit.staff_total * ratio))
        if ratio < 0.01:  # one person in a small unit would already be within the norm
            unit.staff_total = max(unit.staff_total, int(unit.party_workers / ratio))
    return units


def _member_name(unit_index: int, seq: int) -> str:
    """Clearly fake names: 党员甲0001 (unit 1), 党员乙0001 (unit 2) … 党员甲10001 (unit 11)."""
    stem = _STEMS[unit_index % 10] + (str(unit_index // 10) if unit_index >= 10 else "")
    return f"党员{stem}{seq:04d}"


def _make_members(rng: random.Random, units: list[Unit]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for ui, unit in enumerate(units):
        seq = 0
        first = len(rows)
        for branch in unit.branches:
            posts = ["支部书记"]
            if branch.has_committee:
                posts += ["组织委员", "宣传委员"] + (
                    ["支部副书记", "纪检委员"] if branch.committee_size == 5 else []
                )
            posts += ["党小组长"] * branch.groups
            posts += [""] * (branch.members - len(posts))
            cats = ["预备党员"] * branch.probationary
            cats += ["正式党员"] * (branch.members - branch.probationary)
            cats.reverse()  # probationary members last, after every post holder
            for i in range(branch.members):
                seq += 1
                rows.append(
                    (_member_name(ui, seq), unit.name, branch.name, cats[i], posts[i] or None, "否")
                )
        # Full-time party workers: as many as 单位信息 says, among members without a post.
        plain = [i for i in range(first, len(rows)) if rows[i][4] is None]
        for i in rng.sample(plain, min(len(plain), unit.party_workers)):
            rows[i] = (*rows[i][:5], "是")
    return rows


class _Planner:
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
        topic = topic or _topic(kind, day, rng)
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
        elif branch is not None and kind in _MEETINGS:
            expected = branch.members
        elif branch is not None and kind == "支委会":
            expected = branch.committee_size
        elif branch is not None and kind == "党小组会":
            expected = max(3, branch.members // max(1, branch.groups))
        if expected is not None:
            share = rng.uniform(0.0, 0.15 if kind == "大课堂" else 0.08) + (0.05 if peak else 0)
            present = max(1, expected - round(expected * share)) if expected else 0
        if kind in _HOURS and rng.random() < 0.9:
            hours = rng.choice(_HOURS["专题研讨@branch" if kind == "专题研讨" and branch else kind])
        presenter = None
        if kind in _PRESENTERS and (kind != "谈心谈话" or rng.random() < 0.5):
            names, weights = _PRESENTERS[kind]
            presenter = _pick(rng, names, weights)
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
            when = _day(day.year, day.month + offset // 6, 5 + 4 * (offset % 6))
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
                    _day(year, month, rng.randint(25, 31)),
                    ui,
                    -1,
                    "中心组学习",
                    "学习贯彻党的十九大精神",
                )
            elif month % 3 == 0:
                self.add(_NORM, _day(year, month, rng.randint(8, 26)), ui, -1, "中心组学习")
            if month == 1 and year in _SPRING_FESTIVAL:
                sf = _SPRING_FESTIVAL[year] - dt.timedelta(days=rng.randint(8, 16))
                self.add(_NORM, _day(sf.year, sf.month, sf.day), ui, -1, "走访慰问")

    def _branch_norms(self, ui: int, bi: int) -> None:
        """Monthly, quarterly and yearly 组织生活, with skips for short and idle branches."""
        rng = self.rng
        b = self.units[ui].branches[bi]

        def skipped(month: int, base: float = 1.0) -> bool:
            if b.profile == "idle":
                return rng.random() > 0.3 * base
            if b.profile == "short":
                return rng.random() < _SHORT_SKIP[month - 1] * b.laxity / base
            return False

        def pri(day: dt.date, per: str) -> int:
            return _NORM if _judged(day, per) else _EARLY

        for year, month in MONTHS:
            day = _day(year, month, b.meeting_day + rng.randint(-2, 2))
            forced = b.profile == "short" and (year, month) == (2020, 2)
            if not forced and not skipped(month):
                self.add(pri(day, "month"), day, ui, bi, "主题党日")
            if b.has_committee and b.profile != "idle" and not forced and not skipped(month, 1.3):
                before = _day(year, month, max(1, day.day - rng.randint(3, 8)))
                self.add(pri(before, "month"), before, ui, bi, "支委会")
            if b.groups and not skipped(month, 1.3):
                group_day = _day(year, month, rng.randint(5, 14))
                self.add(pri(group_day, "month"), group_day, ui, bi, "党小组会")
        quarters = sorted({(y, (m - 1) // 3) for y, m in MONTHS})
        for year, q in quarters:
            months = [m for m in (3 * q + 1, 3 * q + 2, 3 * q + 3) if (year, m) in _WORKDAYS]
            for kind in ("支部党员大会", "党课"):
                if b.profile == "idle" and (kind == "党课" or rng.random() > 0.3):
                    continue
                if b.profile == "short" and rng.random() < 0.3:
                    continue
                month = rng.choices(months, [_SEASON[m - 1] for m in months])[0]
                day = _day(year, month, rng.randint(3, 26))
                self.add(pri(day, "quarter"), day, ui, bi, kind)
        for year in range(PERIOD_START.year + 1, PERIOD_END.year + 1):
            # Before Spring Festival or after it, seldom during the holiday month.
            meeting = _day(year, rng.choices((1, 2, 3), (0.45, 0.15, 0.4))[0], rng.randint(10, 26))
            if b.profile == "idle" and rng.random() < 0.5:
                continue
            self.add(pri(meeting, "year"), meeting, ui, bi, "组织生活会")
            if b.profile == "idle":
                continue
            talk = _day(year, 1 if meeting.month == 1 else meeting.month - 1, rng.randint(5, 20))
            if talk >= meeting:
                talk = _day(year, meeting.month, max(1, meeting.day - 5))
            if not (b.profile == "short" and rng.random() < 0.3):
                self.add(pri(talk, "year"), talk, ui, bi, "谈心谈话")
            if not (b.profile == "short" and rng.random() < 0.3):
                review = _day(year, meeting.month, meeting.day + rng.randint(0, 3))
                self.add(pri(review, "year"), review, ui, bi, "民主评议党员")
        for when, topic in _STUDY_CAMPAIGNS.items():
            if b.profile == "norm":
                self.add(
                    _EARLY,
                    _day(when.year, when.month, when.day + rng.randint(-5, 5)),
                    ui,
                    bi,
                    "组织生活会",
                    topic,
                )

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
            share = len(_WORKDAYS[(year, month)]) / 21
            trend = 0.85 if year <= 2018 else 1.0
            pandemic = 0.5 if (year, month) in ((2020, 2), (2020, 3)) else 1.0
            month_weights.append(_SEASON[month - 1] * share * trend * pandemic)
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
                day = dt.date(year, month, rng.choice(_WORKDAYS[(year, month)]))
                added += self.add(_EXTRA, day, ui, bi, kind)

    def _extra_kind(self, ui: int, bi: int) -> str:
        rng = self.rng
        if bi < 0:
            return _pick(rng, _UNIT_EXTRA, _UNIT_EXTRA_W)
        b = self.units[ui].branches[bi]
        kind = _pick(rng, _BRANCH_EXTRA, _BRANCH_EXTRA_W)
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

_PRAISE = (
    ("表彰", "优秀共产党员", 0.9),
    ("表彰", "优秀党务工作者", 0.35),
    ("表彰", "先进基层党组织", 0.3),
)
_FORMS = (
    (
        "第一种形态",
        1.2,
        (
            "工作纪律检查中发现迟到早退问题，予以提醒谈话",
            "纳税服务投诉核查属实，予以批评教育",
            "执法检查发现履职不到位，予以诫勉",
            "对反映的问题予以函询",
        ),
    ),
    ("第二种形态", 0.12, ("违反工作纪律，给予党内警告处分", "违反群众纪律，给予党内严重警告处分")),
    ("第三种形态", 0.02, ("违反廉洁纪律，给予撤销党内职务处分",)),
    ("第四种形态", 0.004, ("严重违纪违法，给予开除党籍处分",)),
)


def _make_discipline(
    rng: random.Random, units: list[Unit], members: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Rewards each 七一 and year start; the 四种形态 mostly 第一种, the rest rare."""
    by_unit: dict[str, list[tuple[Any, ...]]] = {}
    for row in members:
        by_unit.setdefault(row[1], []).append(row)
    out: list[tuple[Any, ...]] = []
    for unit in units:
        roster = by_unit.get(unit.name) or []
        if not roster:
            continue
        serving = [m for m in roster if m[2] != _RETIREES] or roster  # appraised and disciplined
        for year in range(2018, PERIOD_END.year + 1):
            for category, what, chance in _PRAISE:
                times = 1 + rng.randint(0, 2) if what == "优秀共产党员" else 1
                for _ in range(times):
                    if rng.random() > chance:
                        continue
                    day = _day(year, 6, rng.randint(22, 30))
                    if what == "先进基层党组织":
                        branch = rng.choice(unit.branches).name
                        out.append(
                            (
                                day,
                                unit.name,
                                branch,
                                category,
                                branch,
                                f"庆祝建党{year - 1921}周年表彰先进基层党组织",
                            )
                        )
                    else:
                        person = rng.choice(roster)
                        out.append(
                            (
                                day,
                                unit.name,
                                person[2],
                                category,
                                person[0],
                                f"庆祝建党{year - 1921}周年表彰{what}",
                            )
                        )
            for _ in range(rng.randint(0, 2)):
                person = rng.choice(serving)
                day = _day(year, rng.choice((2, 3)), rng.randint(5, 25))
                out.append(
                    (
                        day,
                        unit.name,
                        person[2],
                        "奖励",
                        person[0],
                        f"{year - 1}年度考核优秀，给予嘉奖",
                    )
                )
            for category, rate, reasons in _FORMS:
                for _ in range(_poisson(rng, rate)):
                    person = rng.choice(serving)
                    month = rng.randint(1, 12)
                    out.append(
                        (
                            _day(year, month, rng.randint(3, 26)),
                            unit.name,
                            person[2],
                            category,
                            person[0],
                            rng.choice(reasons),
                        )
                    )
    out.sort(key=lambda r: (r[0], r[1], r[2] or "", r[3], r[4]))
    return out


def _poisson(rng: random.Random, rate: float) -> int:
    count, p, limit = 0, rng.random(), math.exp(-rate)
    while p > limit:
        count += 1
        p *= rng.random()
    return count


# --------------------------------------------------------------------------- mess


def _messy_log(demo: Demo, seed: int) -> tuple[list[list[Any]], int]:
    """The activity sheet as written: title row, alias header, text dates, aliases, blank rows.

    Returns the rows and the 1-based header row number.
    """
    rng = random.Random(seed ^ 0x5EED)
    header = [c.header for c in ACTIVITIES.columns]
    header[0] = "活动日期"  # an alias the contract accepts
    header[7] = "时长（小时）"
    rows: list[list[Any]] = [
        [
            f"国家税务总局某市税务局党建工作台账（{PERIOD_START.year}年{PERIOD_START.month}月—"
            f"{PERIOD_END.year}年{PERIOD_END.month}月）"
        ],
        [],
        header,
    ]
    n = len(demo.activities)
    body = [list(r) for r in demo.activities]
    if n >= 20:
        picks = rng.sample(range(n), min(n, max(8, n // 300)))
        forms: list[Callable[[dt.date], Any]] = [
            lambda d: f"{d.year}年{d.month}月{d.day}日",
            lambda d: f"{d.year}.{d.month}.{d.day}",
            lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
            lambda d: f"{d.year}-{d.month}-{d.day}",
            lambda d: _full_width(f"{d.year}年{d.month}月{d.day}日"),
            lambda d: (d - _EPOCH).days,  # an Excel serial number typed as a plain number
            lambda d: f"{d.isoformat()} 14:30",
        ]
        for i, at in enumerate(picks):
            body[at][0] = forms[i % len(forms)](body[at][0])
        for at in rng.sample(range(n), min(n, max(3, n // 250))):
            aliases = ACTIVITY_TYPES[body[at][3]]
            if aliases:
                body[at][3] = rng.choice(aliases)
        at = rng.randrange(n)
        body[at][1] = f"{body[at][1]}\u3000"  # a trailing ideographic space
    blanks = sorted(rng.sample(range(1, n), min(2, n - 1))) if n >= 100 else []
    for i, row in enumerate(body):
        if blanks and i == blanks[0]:
            blanks.pop(0)
            rows.append([])
        rows.append(row)
    return rows, 3


def _full_width(text: str) -> str:
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})


# --------------------------------------------------------------------------- writing


def write_demo(
    out_dir: Path,
    units: int = 6,
    rows: int = 10_000,
    seed: int = 20171018,
    force: bool = False,
) -> list[Path]:
    """Write `out_dir/demo.xlsx` and a matching `out_dir/params.yaml`; return both paths.

    Refuses to replace either file unless `force`; each is written atomically.
    """
    out_dir = Path(out_dir)
    book, params = out_dir / DEMO_WORKBOOK, out_dir / DEMO_PARAMS
    check_writable([book, params], force)
    demo = build_demo(units, rows, seed)
    write_atomically(book, lambda tmp: write_demo_workbook(demo, tmp, seed), force=force)
    text = _params_text(units, rows, seed)
    write_atomically(params, lambda tmp: tmp.write_text(text, encoding="utf-8"), force=force)
    return [book, params]


def write_demo_workbook(demo: Demo, path: Path, seed: int = 20171018) -> None:
    """Write the demo's four sheets to `path` (not atomic: `write_demo` wraps this)."""
    log, header_row = _messy_log(demo, seed)
    sheets = [
        _SheetSpec(
            ACTIVITIES.name, log, header_row, [12, 36, 24, 14, 48, 9, 9, 12, 12, 22], title_rows=1
        ),
        _SheetSpec(
            UNITS.name,
            [[c.header for c in UNITS.columns]]
            + [[u.name, u.org_name, u.staff_total, u.party_workers] for u in demo.units],
            1,
            [40, 46, 18, 20],
        ),
        _SheetSpec(
            MEMBERS.name,
            [[c.header for c in MEMBERS.columns]] + [list(r) for r in demo.members],
            1,
            [14, 40, 24, 11, 12, 14],
        ),
        _SheetSpec(
            DISCIPLINE.name,
            [[c.header for c in DISCIPLINE.columns]] + [list(r) for r in demo.discipline],
            1,
            [12, 40, 24, 12, 22, 44],
        ),
    ]
    write_xlsx(path, sheets, title="党建工作台账（演示数据）")


def _params_text(units: int, rows: int, seed: int) -> str:
    return (
        f"# reportkit demo parameters, written with the demo workbook (units={units}, "
        f"rows={rows}, seed={seed}).\n"
        "# Merged over params/default.yaml; only what the demo needs is set here.\n"
        "period:\n"
        f"  start: {PERIOD_START.isoformat()}\n"
        f"  end: {PERIOD_END.isoformat()}\n"
        f"  label: {PERIOD_LABEL}\n"
        f"report_date: {PERIOD_END.isoformat()}\n"
    )


# --------------------------------------------------------------------------- XLSX writer
#
# Why a writer of our own: openpyxl needs ~40 s for 200,000 rows on this machine, and stamps
# the save time into the file. This one streams rows as XML into a zip with fixed timestamps:
# a few seconds, byte-identical output for the same input. It supports only what the demo uses:
# text (shared strings, quotePrefix for formula-like text), numbers, dates, a bold header row, a
# title row, column widths and a frozen header.

_EPOCH = dt.date(1899, 12, 30)
_ZIP_TIME = FIXED_TIMESTAMP.timetuple()[:6]
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"
# cellXfs indices in _STYLES
_DATE, _HEADER, _QUOTED, _TITLE = 1, 2, 3, 4
_STYLE_ATTR = {0: "", **{i: f' s="{i}"' for i in (_DATE, _HEADER, _QUOTED, _TITLE)}}
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet {_NS}><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>\
<fonts count="3"><font><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font>\
<font><b/><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font>\
<font><b/><sz val="14"/><name val="宋体"/><family val="3"/><charset val="134"/></font></fonts>\
<fills count="3"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill>\
<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>\
</patternFill></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" \
applyAlignment="1"><alignment horizontal="center"/></xf>\
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>\
<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
</styleSheet>"""


@dataclass
class _SheetSpec:
    name: str
    rows: Sequence[Sequence[Any]]
    header_row: int  # 1-based; bold, and frozen below
    widths: Sequence[float]
    title_rows: int = 0  # rows above the header styled as a title


def _col_letter(index: int) -> str:
    return get_column_letter(index + 1)


class _SharedStrings:
    """The shared-string table, and each text's cell tail (style, type, index) made once."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.tails: dict[str, str] = {}
        self.count = 0

    def tail(self, text: str) -> str:
        """What follows `<c r="A1"` for a plain text cell; formula-like text gets quotePrefix."""
        self.count += 1
        tail = self.tails.get(text)
        if tail is None:
            at = self.index[text] = len(self.index)
            style = _STYLE_ATTR[_QUOTED] if is_formula_like(text) else ""
            tail = self.tails[text] = f'{style} t="s"><v>{at}</v></c>'
        return tail

    def get(self, text: str) -> int:
        self.tail(text)
        return self.index[text]

    def xml(self) -> Iterator[str]:
        yield (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst {_NS} count="{self.count}" uniqueCount="{len(self.index)}">'
        )
        for text in self.index:
            clean = escape(_ILLEGAL_XML.sub("", text))
            space = ' xml:space="preserve"' if clean != clean.strip() else ""
            yield f"<si><t{space}>{clean}</t></si>"
        yield "</sst>"


def _sheet_xml(spec: _SheetSpec, strings: _SharedStrings, selected: bool) -> Iterator[str]:
    width = max(len(spec.widths), max((len(r) for r in spec.rows), default=1))
    letters = [_col_letter(i) for i in range(width)]
    last = max(1, len(spec.rows))
    top = spec.header_row + 1
    tab = ' tabSelected="1"' if selected else ""
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet {_NS} {_NS_R}><dimension ref="A1:{letters[-1]}{last}"/>'
        f'<sheetViews><sheetView workbookViewId="0"{tab}>'
        f'<pane ySplit="{spec.header_row}" topLeftCell="A{top}" activePane="bottomLeft" '
        f'state="frozen"/><selection pane="bottomLeft" activeCell="A{top}" sqref="A{top}"/>'
        '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
    )
    if spec.widths:  # an empty <cols/> is invalid OOXML
        yield (
            "<cols>"
            + "".join(
                f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                for i, w in enumerate(spec.widths, start=1)
            )
            + "</cols>"
        )
    yield "<sheetData>"
    chunk: list[str] = []
    for r, row in enumerate(spec.rows, start=1):
        if not row:
            continue
        style = _TITLE if r <= spec.title_rows else _HEADER if r == spec.header_row else 0
        cells = [f'<row r="{r}">']
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            ref = f"{letters[c]}{r}"
            kind = type(value)
            if kind is str and not style:
                cells.append(f'<c r="{ref}"{strings.tail(value)}')
            elif kind is str:  # title and header text: ours, never formula-like
                at = strings.get(value)
                cells.append(f'<c r="{ref}"{_STYLE_ATTR[style]} t="s"><v>{at}</v></c>')
            elif kind is int or kind is float:
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            elif kind is dt.date:
                cells.append(f'<c r="{ref}" s="{_DATE}"><v>{(value - _EPOCH).days}</v></c>')
            elif isinstance(value, str):
                cells.append(f'<c r="{ref}"{strings.tail(str(value))}')
            elif isinstance(value, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            elif isinstance(value, dt.date):
                day = value.date() if isinstance(value, dt.datetime) else value
                cells.append(f'<c r="{ref}" s="{_DATE}"><v>{(day - _EPOCH).days}</v></c>')
            else:
                raise TypeError(f"cannot write {type(value).__name__} to a cell")
        cells.append("</row>")
        chunk.append("".join(cells))
        if len(chunk) >= 2000:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
    yield "</sheetData>"
    if spec.title_rows:
        yield '<mergeCells count="1">'
        yield f'<mergeCell ref="A1:{_col_letter(len(spec.widths) - 1)}1"/></mergeCells>'
    yield (
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/></worksheet>'
    )


def write_xlsx(path: Path, sheets: Sequence[_SheetSpec], title: str = "") -> None:
    """Write sheets to an .xlsx file; same input, same bytes."""
    strings = _SharedStrings()
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    n = len(sheets)
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            f'ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        + f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" '
        f'ContentType="{_CT}.spreadsheetml.sharedStrings+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/>'
        "</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_DOC_REL}/extended-properties" '
        'Target="docProps/app.xml"/></Relationships>'
    )
    core = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>reportkit</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )
    app = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Application>reportkit</Application></Properties>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook {_NS} {_NS_R}><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
        + "".join(
            f'<sheet name="{escape(s.name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, s in enumerate(sheets, start=1)
        )
        + "</sheets></workbook>"
    )
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_PKG_REL}">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_DOC_REL}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        + f'<Relationship Id="rId{n + 1}" Type="{_DOC_REL}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{_DOC_REL}/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, parts: Iterable[str]) -> None:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as handle:
                for part in parts:
                    handle.write(part.encode("utf-8"))

        put("[Content_Types].xml", [content_types])
        put("_rels/.rels", [root_rels])
        put("docProps/core.xml", [core])
        put("docProps/app.xml", [app])
        put("xl/workbook.xml", [workbook])
        put("xl/_rels/workbook.xml.rels", [workbook_rels])
        put("xl/styles.xml", [_STYLES])
        for i, spec in enumerate(sheets, start=1):
            put(f"xl/worksheets/sheet{i}.xml", _sheet_xml(spec, strings, i == 1))
        put("xl/sharedStrings.xml", strings.xml())
