"""Writing the demo: the workbook's four sheets and a matching params.yaml, atomically."""

from __future__ import annotations

from pathlib import Path

from reportkit.data.demo.build import build_demo
from reportkit.data.demo.dates import PERIOD_END, PERIOD_LABEL, PERIOD_START
from reportkit.data.demo.mess import messy_log
from reportkit.data.demo.units import Demo
from reportkit.data.demo.xlsx import SheetSpec, write_xlsx
from reportkit.data.schema import ACTIVITIES, DISCIPLINE, MEMBERS, UNITS
from reportkit.data.workbook_template import check_writable, write_new_file

DEMO_WORKBOOK = "demo.xlsx"
DEMO_PARAMS = "params.yaml"


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
    write_new_file(book, lambda tmp: write_demo_workbook(demo, tmp, seed), force=force)
    text = _params_text(units, rows, seed)
    write_new_file(params, lambda tmp: tmp.write_text(text, encoding="utf-8"), force=force)
    return [book, params]


def write_demo_workbook(demo: Demo, path: Path, seed: int = 20171018) -> None:
    """Write the demo's four sheets to `path` (not atomic: `write_demo` wraps this)."""
    log, header_row = messy_log(demo, seed)
    sheets = [
        SheetSpec(
            ACTIVITIES.name, log, header_row, [12, 36, 24, 14, 48, 9, 9, 12, 12, 22], title_rows=1
        ),
        SheetSpec(
            UNITS.name,
            [[c.header for c in UNITS.columns]]
            + [[u.name, u.org_name, u.staff_total, u.party_workers] for u in demo.units],
            1,
            [40, 46, 18, 20],
        ),
        SheetSpec(
            MEMBERS.name,
            [[c.header for c in MEMBERS.columns]] + [list(r) for r in demo.members],
            1,
            [14, 40, 24, 11, 12, 14],
        ),
        SheetSpec(
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
        "# Merged over reportkit/defaults/params.yaml; only what the demo needs is set here.\n"
        "period:\n"
        f"  start: {PERIOD_START.isoformat()}\n"
        f"  end: {PERIOD_END.isoformat()}\n"
        f"  label: {PERIOD_LABEL}\n"
        f"report_date: {PERIOD_END.isoformat()}\n"
    )
