"""A realistic, deterministic synthetic workbook for demos, tests and benchmarks.

The demo stands in for a municipal tax bureau's 党建工作台账: units, branches, a roster, rewards
and discipline, and an activity log shaped like a real one. Branches mostly follow the
组织生活 norms, with seasonal dips (Spring Festival, tax filing peaks), a few branches short of
the norms and one nearly idle branch, so that every section of a report has something to say.
The log also carries the mess real logs have and the contract accepts (a title row, an alias
header, dates typed as text, type aliases, a blank row), so a demo run exercises normalisation.

Everything derives from one `random.Random(seed)`, and the workbook is written with fixed
timestamps (reportkit.data.demo.xlsx), so the same arguments give a byte-identical workbook.
Modules: dates (period and calendar), units (units, branches, roster), topics, planner (the
activity log), discipline, mess, build (all of it in memory) and workbook (the files).
"""

from reportkit.data.demo.build import build_demo
from reportkit.data.demo.dates import PERIOD_END, PERIOD_LABEL, PERIOD_START
from reportkit.data.demo.units import Demo
from reportkit.data.demo.workbook import (
    DEMO_PARAMS,
    DEMO_WORKBOOK,
    write_demo,
    write_demo_workbook,
)

__all__ = [
    "DEMO_PARAMS",
    "DEMO_WORKBOOK",
    "PERIOD_END",
    "PERIOD_LABEL",
    "PERIOD_START",
    "Demo",
    "build_demo",
    "write_demo",
    "write_demo_workbook",
]
