"""The demo data in memory: units, roster, activity log and discipline from one seed."""

from __future__ import annotations

import random

from reportkit.data.demo.discipline import make_discipline
from reportkit.data.demo.planner import Planner
from reportkit.data.demo.units import Demo, make_members, make_units


def build_demo(units: int = 6, rows: int = 3000, seed: int = 20171018) -> Demo:
    """The demo data in memory; the same arguments always give the same data."""
    if units < 1 or rows < 1:
        raise ValueError("units and rows must be positive")
    rng = random.Random(seed)
    unit_list = make_units(rng, units, rows)
    members = make_members(rng, unit_list)
    planner = Planner(rng, unit_list)
    activities = planner.plan(rows)
    discipline = make_discipline(rng, unit_list, members)
    return Demo(unit_list, activities, members, discipline)
