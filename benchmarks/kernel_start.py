"""Per-unit kernel start and notebook cells, warm forked kernels against ordinary ones.

`python benchmarks/kernel_start.py [--units 10] [--rows 20000] [--repeat 2]` generates a demo
workbook, then runs `reportkit run --formats html --jobs 2 --force` with REPORTKIT_NO_FORK=1
(every kernel a new interpreter) and without it (kernels forked from each worker's warm parent),
alternating. Per unit, from the papermill timestamps in each report.ipynb:
kernel start (papermill's start until the first cell starts: launch, ready, kernel_info), the
cell that imports reportkit and builds the report, and the remaining cells.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
MODES = {"ordinary": {"REPORTKIT_NO_FORK": "1"}, "warm fork": {}}


def breakdown(notebook: Path) -> dict[str, float]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]

    def at(meta: dict, key: str) -> dt.datetime:
        return dt.datetime.fromisoformat(meta["papermill"][key])

    first = min(at(c["metadata"], "start_time") for c in cells)
    build = sum(
        c["metadata"]["papermill"]["duration"] for c in cells if "build(" in "".join(c["source"])
    )
    total = (at(nb["metadata"], "end_time") - first).total_seconds()
    return {
        "kernel start": (first - at(nb["metadata"], "start_time")).total_seconds(),
        "imports + build cell": build,
        "other cells": total - build,
    }


def run(workbook: Path, out: Path, env: dict[str, str]) -> dict[str, object]:
    before = os.times()
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "reportkit"),
            "run",
            str(workbook),
            "--out",
            str(out),
            "--formats",
            "html",
            "--jobs",
            "2",
            "--force",
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    after = os.times()
    cpu = after.children_user + after.children_system
    cpu -= before.children_user + before.children_system
    units = [breakdown(p) for p in sorted(out.glob("*/report.ipynb"))]
    return {"wall": time.perf_counter() - started, "cpu": cpu, "units": units}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subprocess.run(
            [
                str(BIN / "reportkit"),
                "demo",
                "--out",
                str(folder),
                "--units",
                str(args.units),
                "--rows",
                str(args.rows),
            ],
            check=True,
            capture_output=True,
        )
        runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
        for _ in range(args.repeat):
            for mode, env in MODES.items():
                runs[mode].append(run(folder / "demo.xlsx", folder / "out", env))
    print("| kernels | run wall | run CPU | per unit: kernel start | imports + build cell |"
          " other cells |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for mode, results in runs.items():
        units = [u for r in results for u in r["units"]]
        cols = [
            f"{statistics.median(u[k] for u in units):.2f} s"
            f" (mean {statistics.mean(u[k] for u in units):.2f})"
            for k in ("kernel start", "imports + build cell", "other cells")
        ]
        wall = statistics.median(r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        print(f"| {mode} | {wall:.1f} s | {cpu:.1f} s | " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
