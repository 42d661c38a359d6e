"""`make bench`: reportkit against the naive papermill + nbconvert loop, on generated scenarios.

For each scenario it writes a demo workbook with `reportkit demo`, then measures:
  - reportkit full build (html,pdf, --jobs 2), a re-run with nothing changed, and a re-run
    after editing one unit's rows (which must re-execute exactly that unit);
  - for S, the dask executor on a LocalCluster of 2 worker processes against `local --jobs 2`
    (both with the dataset already cached): what going distributed costs on one machine;
  - the naive baseline: per unit, the `papermill` CLI on benchmarks/naive_unit.ipynb (reads the
    workbook with pandas + openpyxl and filters its unit), then `jupyter nbconvert` to HTML and
    to PDF. For large scenarios it runs a sample of units and extrapolates (said in the output).

Wall time, CPU time of all processes, the driver's peak RSS, seconds per unit and the ratio go
to benchmarks/results/<scenario>.json, and a table is printed.

  python benchmarks/run.py               # S and M
  python benchmarks/run.py L             # L only
  python benchmarks/run.py S --sample 3  # baseline on 3 units only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WORK = HERE / "work"
RESULTS = HERE / "results"
SCENARIOS = {"S": (10, 20_000), "M": (30, 100_000), "L": (100, 200_000)}
NAIVE_SAMPLE = {"S": 5, "M": 4, "L": 4}  # units the naive loop runs before extrapolating
DASK_SCENARIOS = ("S",)  # where the dask executor's overhead is measured
DASK_TARGET = 1.15  # dask on a 2-worker LocalCluster: at most 15% slower than local --jobs 2


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: list[str], cwd: Path) -> dict[str, float]:
    """Wall and CPU seconds of a command and all it starts; peak RSS of its own process."""
    cpu_before, started = children_cpu(), time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.05)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(children_cpu() - cpu_before, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def statuses(out: Path) -> dict[str, int]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for unit in manifest["units"]:
        counts[unit["status"]] = counts.get(unit["status"], 0) + 1
    return counts


def edit_one_unit(workbook: Path) -> str:
    """Change one topic of the first unit's first activity row, as an analyst would."""
    from openpyxl import load_workbook

    wb = load_workbook(workbook)
    ws = wb["活动台账"]
    header = next(r for r in range(1, 10) if any(c.value == "主题" for c in ws[r]))
    columns = {c.value: c.column for c in ws[header]}
    ws.cell(header + 1, columns["主题"], "基准测试改过的主题")
    unit = ws.cell(header + 1, columns.get("单位") or columns["单位名称"]).value
    wb.save(workbook)
    return str(unit)


def reportkit_runs(folder: Path, workbook: Path) -> dict[str, object]:
    base = [
        str(BIN / "reportkit"),
        "run",
        str(workbook),
        "--out",
        "out",
        "--formats",
        "html,pdf",
        "--jobs",
        "2",
    ]
    shutil.rmtree(folder / "out", ignore_errors=True)
    shutil.rmtree(folder / "build", ignore_errors=True)
    full = measure(base, folder)
    full["statuses"] = statuses(folder / "out")
    unchanged = measure(base, folder)
    unchanged["statuses"] = statuses(folder / "out")
    edited_unit = edit_one_unit(workbook)
    one_edit = measure(base, folder)
    one_edit["statuses"] = statuses(folder / "out")
    one_edit["edited_unit"] = edited_unit
    return {"full": full, "unchanged": unchanged, "one_unit_edited": one_edit}


def dask_overhead(folder: Path, workbook: Path) -> dict[str, object]:
    """The same full build on `local --jobs 2` and on a LocalCluster of 2 dask workers."""
    runs = {}
    for executor in ("local", "dask"):
        out = folder / f"out-{executor}"
        shutil.rmtree(out, ignore_errors=True)
        command = [str(BIN / "reportkit"), "run", str(workbook), "--out", str(out)]
        command += ["--formats", "html,pdf", "--jobs", "2", "--executor", executor]
        runs[executor] = measure(command, folder)
        runs[executor]["statuses"] = statuses(out)
    ratio = runs["dask"]["wall_s"] / runs["local"]["wall_s"]
    return {**runs, "ratio": round(ratio, 2), "within_target": ratio <= DASK_TARGET}


def naive_loop(folder: Path, workbook: Path, units: list[str], sample: int) -> dict[str, object]:
    """The hand-written loop, on `sample` units; per-unit times scale it to all units."""
    naive = folder / "naive"
    shutil.rmtree(naive, ignore_errors=True)
    naive.mkdir()
    dataset = folder / "build" / "dataset"
    per_unit = []
    cpu_total = 0.0
    for index, unit in enumerate(units[:sample]):
        out = naive / f"unit{index}.ipynb"
        steps = [
            [
                str(BIN / "papermill"),
                str(HERE / "naive_unit.ipynb"),
                str(out),
                "-p",
                "workbook",
                str(workbook),
                "-p",
                "unit",
                unit,
                "-p",
                "dataset",
                str(dataset),
                "--no-progress-bar",
            ],
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(out)],
            [str(BIN / "jupyter"), "nbconvert", "--to", "reportkit_pdf", str(out)],
        ]
        seconds = 0.0
        for step in steps:
            result = measure(step, naive)
            seconds += result["wall_s"]
            cpu_total += result["cpu_s"]
        per_unit.append(seconds)
    mean = statistics.mean(per_unit)
    return {
        "units_run": len(per_unit),
        "estimated": len(per_unit) < len(units),
        "seconds_per_unit": round(mean, 2),
        "seconds_per_unit_median": round(statistics.median(per_unit), 2),
        "wall_s": round(mean * len(units), 1),
        "cpu_s": round(cpu_total / len(per_unit) * len(units), 1),
    }


def scenario(name: str, sample: int | None) -> dict[str, object]:
    units, rows = SCENARIOS[name]
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run(
        [
            str(BIN / "reportkit"),
            "demo",
            "--out",
            str(folder),
            "--units",
            str(units),
            "--rows",
            str(rows),
            "--force",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    workbook = folder / "demo.xlsx"
    from reportkit.ingest import read_workbooks

    names = read_workbooks([workbook]).units
    fast = reportkit_runs(folder, workbook)
    dask = dask_overhead(folder, workbook) if name in DASK_SCENARIOS else None
    shutil.copy(workbook, folder / "naive.xlsx")
    baseline = naive_loop(folder, folder / "naive.xlsx", names, sample or NAIVE_SAMPLE[name])
    return {
        "scenario": name,
        "units": units,
        "rows": rows,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": "reportkit run demo.xlsx --out out --formats html,pdf --jobs 2",
        "reportkit": fast,
        "reportkit_seconds_per_unit": round(fast["full"]["wall_s"] / units, 2),
        "naive": baseline,
        "speedup": round(baseline["wall_s"] / fast["full"]["wall_s"], 1),
        "dask": dask,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| scenario | units / rows | reportkit full | re-run unchanged | re-run one unit edited "
        "| driver peak RSS | naive loop | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        fast, naive = r["reportkit"], r["naive"]
        est = " (estimated from {} units)".format(naive["units_run"]) if naive["estimated"] else ""
        lines.append(
            f"| {r['scenario']} | {r['units']} / {r['rows']:,} "
            f"| {fast['full']['wall_s']} s wall, {fast['full']['cpu_s']} s CPU "
            f"| {fast['unchanged']['wall_s']} s {fast['unchanged']['statuses']} "
            f"| {fast['one_unit_edited']['wall_s']} s {fast['one_unit_edited']['statuses']} "
            f"| {fast['full']['peak_rss_mb']} MB "
            f"| {naive['wall_s']} s{est} | {r['speedup']}× |"
        )
    return "\n".join(lines)


def dask_table(results: list[dict]) -> str:
    lines = [
        "| scenario | local --jobs 2 | dask, LocalCluster of 2 workers | dask / local |",
        "|---|---|---|---|",
    ]
    for r in results:
        if d := r.get("dask"):
            verdict = "within" if d["within_target"] else "over"
            lines.append(
                f"| {r['scenario']} | {d['local']['wall_s']} s | {d['dask']['wall_s']} s "
                f"| {d['ratio']} ({verdict} the {DASK_TARGET} target) |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", default=["S", "M"], choices=list(SCENARIOS))
    parser.add_argument("--sample", type=int, default=None, help="naive-loop units to run")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    results = []
    for name in args.scenarios:
        print(
            f"scenario {name}: {SCENARIOS[name][0]} units, {SCENARIOS[name][1]:,} rows", flush=True
        )
        result = scenario(name, args.sample)
        (RESULTS / f"{name}.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        results.append(result)
        print(table([result]), flush=True)
    print()
    print(table(results))
    if any(r.get("dask") for r in results):
        print()
        print(dask_table(results))


if __name__ == "__main__":
    main()
