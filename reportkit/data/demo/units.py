"""The demo's units, branches and roster: names, sizes and members."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

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
RETIREES = "离退休干部党支部"
_STAFF_RANGE = {
    "机关": (260, 460),
    "区局": (150, 380),
    "稽查": (90, 220),
    "服务": (80, 180),
    "县局": (90, 240),
}
_STEMS = "甲乙丙丁戊己庚辛壬癸"


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


def make_units(rng: random.Random, count: int, rows: int) -> list[Unit]:
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
            retirees = pool[i] == RETIREES
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
        others = [b for b in unit.branches if b.name != RETIREES]
        unit.branches.remove(others[-1] if others else unit.branches[-1])

    everyone = [b for u in units for b in u.branches]
    if not any(b.groups for b in everyone):
        biggest = max(everyone, key=lambda b: b.members)
        biggest.members = max(biggest.members, 20)
        biggest.groups = 2
    # Profiles: one nearly idle branch (a retirees' branch if any), ~15% short of the norms.
    if len(everyone) >= 2:
        idle = next((b for b in everyone if b.name == RETIREES), everyone[-1])
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


def make_members(rng: random.Random, units: list[Unit]) -> list[tuple[Any, ...]]:
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
