"""Rewards and discipline: a few commendations and sanctions a year, spread over units."""

from __future__ import annotations

import math
import random
from typing import Any

from reportkit.data.demo.dates import PERIOD_END, workday
from reportkit.data.demo.units import RETIREES, Unit

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


def make_discipline(
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
        serving = [m for m in roster if m[2] != RETIREES] or roster  # appraised and disciplined
        for year in range(2018, PERIOD_END.year + 1):
            for category, what, chance in _PRAISE:
                times = 1 + rng.randint(0, 2) if what == "优秀共产党员" else 1
                for _ in range(times):
                    if rng.random() > chance:
                        continue
                    day = workday(year, 6, rng.randint(22, 30))
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
                day = workday(year, rng.choice((2, 3)), rng.randint(5, 25))
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
                            workday(year, month, rng.randint(3, 26)),
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
