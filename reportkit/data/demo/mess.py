"""The mess real logs have and the contract accepts: a title row, an alias header, dates
typed as text, type aliases and a blank row, so that a demo run exercises normalisation."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from reportkit.data.demo.dates import PERIOD_END, PERIOD_START
from reportkit.data.demo.units import Demo
from reportkit.data.demo.xlsx import EXCEL_EPOCH
from reportkit.data.schema import ACTIVITIES
from reportkit.data.vocabulary import ACTIVITY_TYPES


def messy_log(demo: Demo, seed: int) -> tuple[list[list[Any]], int]:
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
            lambda d: (d - EXCEL_EPOCH).days,  # an Excel serial number typed as a plain number
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
