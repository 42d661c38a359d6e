"""`make bench`: reportkit against the naive papermill + nbconvert loop, on generated scenarios.

For each scenario it writes a demo workbook with `reportkit demo`, then measures:
  - reportkit full build (html,pdf, --jobs 2), a re-run with nothing changed, and a re-run
    after editing one unit's rows (which must re-execute exactly that unit);
  - for S, the dask executor on a LocalCluster of 2 worker processes against `local --jobs 2`
    (both with the dataset already cached): what going distributed costs on one machine;
  - the naive baseline: per unit, the `papermill` CLI on benchmarks/naive_unit.ipynb (reads the
    workbook with pandas + openpyxl and filters its unit), then `jupyter nbconvert` to HTML and
    to PDF. For large scenarios it runs a sample of units and extrapolates (said in the output).

It also times the PDF of the scenario's largest unit (the most 附件1 sessions): its executed
notebook typeset by Typst in this process, once with a fresh compiler (fonts loaded, as a
worker's first unit) and then warm (as every later unit of that worker); the median of the warm
runs is the PDF seconds per unit.

Scenario L-split is L written as one workbook per unit, so that a one-unit edit re-reads one
small workbook (the others come from the parse cache). Every scenario also times validation and
parsing (`read_workbooks`) against python-calamine's own `to_python()` of the same sheets.

Wall time, CPU time of all processes, the driver's peak RSS, seconds per unit and the ratio go
to benchmarks/results/<scenario>.json, and a table is printed.

  python benchmarks/run.py               # S and M
  python benchmarks/run.py L L-split     # the 100-unit scenarios
  python benchmarks/run.py S --sample 3  # baseline on 3 units only
  python benchmarks/run.py L --pdf-only  # only the largest unit's PDF seconds
  python benchmarks/run.py S --dask-only # only the dask row (local --jobs 2 against dask)
  python benchmarks/run.py L --saved-by openpyxl  # the edited workbook saved by openpyxl

The one-unit edit is saved by LibreOffice (headless) by default, which writes an .xlsx as Excel
and WPS do; `--saved-by openpyxl` keeps openpyxl's own, much larger, inline-string file.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WORK = HERE / "work"
RESULTS = HERE / "results"
SCENARIOS = {"S": (10, 20_000), "M": (30, 100_000), "L": (100, 200_000), "L-split": (100, 200_000)}
SPLIT = {"L-split"}  # one workbook per unit
NAIVE_SAMPLE = {"S": 5, "M": 4, "L": 4, "L-split": 4}  # naive-loop units before extrapolating
PARSE_REPEATS = 3
#: Times calamine's to_python() of every sheet, then read_workbooks, in a fresh process each.
PARSE_PROBE = """
import resource, sys, time
import python_calamine
from reportkit.data.ingest import read_workbooks
paths = sys.argv[2:]
started = time.perf_counter()
if sys.argv[1] == "calamine":
    for path in paths:
        book = python_calamine.CalamineWorkbook.from_path(path)
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python(skip_empty_area=False)
else:
    assert not read_workbooks(paths).errors
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
DASK_SCENARIOS = ("S",)  # where the dask executor's overhead is measured
DASK_TARGET = 1.15  # dask on a 2-worker LocalCluster: at most 15% slower than local --jobs 2


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Make this process the one that reaps its descendants' orphans (Linux): processes that end
    after the command's own (a LocalCluster's fork server, and the workers it forked) then count
    in RUSAGE_CHILDREN too, once reap_orphans has waited for them."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(timeout: float = 10) -> None:
    """Wait for the command's descendants that outlived it (see adopt_orphans)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            return
        if pid == 0:
            time.sleep(0.02)


def measure(command: list[str], cwd: Path) -> dict[str, float]:
    """Wall and CPU seconds of a command and all it starts (reaped, orphans included); peak RSS
    of its own process."""
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
    wall = time.perf_counter() - started
    reap_orphans()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(children_cpu() - cpu_before, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def statuses(out: Path) -> dict[str, int]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for unit in manifest["units"]:
        counts[unit["status"]] = counts.get(unit["status"], 0) + 1
    return counts


def edit_one_unit(workbook: Path, round_: int = 0, saved_by: str = "libreoffice") -> str:
    """Change one topic of the first unit's first activity row, as an analyst would (a new
    text each round, so that every round's edit is a change), and save the workbook the way
    `saved_by` does: openpyxl, or an office suite (see office_save)."""
    from openpyxl import load_workbook

    wb = load_workbook(workbook)
    ws = wb["活动台账"]
    header = next(r for r in range(1, 10) if any(c.value == "主题" for c in ws[r]))
    columns = {c.value: c.column for c in ws[header]}
    ws.cell(header + 1, columns["主题"], f"基准测试改过的主题{round_ + 1}")
    unit = ws.cell(header + 1, columns.get("单位") or columns["单位名称"]).value
    wb.save(workbook)
    if saved_by == "libreoffice":
        office_save(workbook)
    return str(unit)


def office_save(workbook: Path) -> None:
    """Save the workbook again as an office suite does: LibreOffice Calc, headless, which like
    Excel and WPS writes each text once in the shared-strings table, in UTF-8. openpyxl writes
    every cell's text inline, each Chinese character as a numeric reference (&#22269;): L's
    activity sheet becomes 145 MB of XML instead of 92 MB, and takes calamine 1.9 s to read
    instead of 1.05 s. Analysts edit their logs in Excel or WPS, not in openpyxl."""
    with tempfile.TemporaryDirectory(dir=workbook.parent) as tmp:
        profile = Path(tmp).resolve() / "profile"
        command = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                   "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", tmp,
                   str(workbook)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=600)
        os.replace(Path(tmp) / workbook.name, workbook)


def parse_cost(workbooks: list[Path]) -> dict[str, float]:
    """Median seconds of calamine's to_python() and of read_workbooks, their ratio, and the
    peak RSS of the process that reads (in a run, a child of the driver for large inputs)."""
    seconds: dict[str, list[float]] = {"calamine": [], "read_workbooks": []}
    peak = 0.0
    for _ in range(PARSE_REPEATS):
        for what, times in seconds.items():
            command = [sys.executable, "-c", PARSE_PROBE, what, *map(str, workbooks)]
            printed = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            elapsed, peak_mb = map(float, printed.split())
            times.append(elapsed)
            if what == "read_workbooks":
                peak = max(peak, peak_mb)
    calamine, ours = (statistics.median(seconds[k]) for k in ("calamine", "read_workbooks"))
    return {
        "calamine_to_python_s": round(calamine, 2),
        "read_workbooks_s": round(ours, 2),
        "ratio": round(ours / calamine, 2),
        "read_workbooks_peak_rss_mb": round(peak, 1),
    }


def split_by_unit(folder: Path, units: int, rows: int) -> list[Path]:
    """The demo's data written as one workbook per unit, each with all four sheets."""
    from reportkit.data.demo import Demo, build_demo, write_demo_workbook

    demo = build_demo(units, rows)
    paths = []
    for index, unit in enumerate(demo.units):
        mine = [[r for r in rs if r[1] == unit.name] for rs in (demo.activities, demo.members)]
        discipline = [r for r in demo.discipline if r[1] == unit.name]
        path = folder / f"unit{index:03d}.xlsx"
        write_demo_workbook(Demo([unit], mine[0], mine[1], discipline), path)
        paths.append(path)
    return paths


def dataset_of(out: Path) -> Path:
    """The cached dataset a run's notebooks read (papermill records the parameter)."""
    entry = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["units"][0]
    notebook = json.loads((out / entry["dir"] / "report.ipynb").read_text(encoding="utf-8"))
    return Path(notebook["metadata"]["papermill"]["parameters"]["dataset"])


def reportkit_runs(
    folder: Path, workbooks: list[Path], repeat: int, saved_by: str
) -> dict[str, object]:
    """`repeat` rounds of: a full build from an empty OUT and cache, a re-run with nothing
    changed, and a re-run after one unit's row was edited; each stage's median round is kept."""
    base = [
        str(BIN / "reportkit"),
        "run",
        *map(str, workbooks),
        "--out",
        "out",
        "--formats",
        "html,pdf",
        "--jobs",
        "2",
        "--cache-dir",
        "cache",
    ]
    rounds: dict[str, list[dict]] = {"full": [], "unchanged": [], "one_unit_edited": []}
    for index in range(repeat):
        shutil.rmtree(folder / "out", ignore_errors=True)
        shutil.rmtree(folder / "cache", ignore_errors=True)
        for stage in rounds:
            edited = (
                edit_one_unit(workbooks[0], index, saved_by) if stage == "one_unit_edited" else None
            )
            result = measure(base, folder)
            result["statuses"] = statuses(folder / "out")
            if edited:
                result["edited_unit"] = edited
            rounds[stage].append(result)
    medians: dict[str, object] = {
        stage: sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        for stage, runs in rounds.items()
    }
    medians["rounds"] = rounds
    medians["edit_saved_by"] = saved_by
    return medians


def largest_unit(workbook: Path) -> str:
    """The unit with the longest report: the most 附件1 sessions (each a row of its listing)."""
    from reportkit.data.ingest import read_workbooks
    from reportkit.data.vocabulary import SESSION_TYPES

    activities = read_workbooks([workbook]).tables["activities"]
    sessions = activities[activities["type"].isin(SESSION_TYPES)]
    return str(sessions["unit"].value_counts().idxmax())


def pdf_seconds(folder: Path, workbook: Path, repeats: int = 5) -> dict[str, object]:
    """Typst seconds for the largest unit's PDF: cold (first, compiler and fonts loaded) and
    the median of `repeats` warm runs. Uses the full build's executed notebook when there is
    one, else runs that one unit (HTML only) to get it."""
    import nbformat
    from pypdf import PdfReader

    from reportkit.render.formats import render_formats

    unit = largest_unit(workbook)
    out = folder / "out"
    if not (out / "manifest.json").is_file():
        out = folder / "pdf-unit"
        command = [str(BIN / "reportkit"), "run", str(workbook), "--units", unit,
                   "--formats", "html", "--out", str(out)]  # fmt: skip
        subprocess.run(command, cwd=folder, check=True, stdout=subprocess.DEVNULL)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    unit_dir = out / next(u["dir"] for u in manifest["units"] if u["unit"] == unit)
    nb = nbformat.read(unit_dir / "report.ipynb", as_version=4)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        pdf = render_formats(nb, ["pdf"])["pdf"]
        times.append(time.perf_counter() - started)
    return {
        "unit": unit,
        "pages": len(PdfReader(io.BytesIO(pdf)).pages),
        "cold_s": round(times[0], 2),
        "warm_median_s": round(statistics.median(times[1:]), 2),
        "warm_runs_s": [round(t, 2) for t in times[1:]],
    }


def spread_sample(units: list[str], sample: int) -> list[str]:
    """`sample` units evenly spread from the smallest to the largest (units are given largest
    first, as the demo lists them), so the estimate spans small and large reports."""
    if sample >= len(units):
        return units
    step = (len(units) - 1) / max(sample - 1, 1)
    return [units[round(i * step)] for i in range(sample)]


def dask_overhead(folder: Path, workbook: Path, repeat: int) -> dict[str, object]:
    """The same full build on `local --jobs 2` and on a LocalCluster of 2 dask workers,
    alternating, `repeat` rounds; each executor's median round is kept."""
    rounds: dict[str, list[dict]] = {"local": [], "dask": []}
    for _ in range(repeat):
        for executor in ("local", "dask"):
            out = folder / f"out-{executor}"
            shutil.rmtree(out, ignore_errors=True)
            command = [str(BIN / "reportkit"), "run", str(workbook), "--out", str(out)]
            command += ["--formats", "html,pdf", "--jobs", "2", "--executor", executor]
            command += ["--cache-dir", "cache"]  # the dataset both runs read, built before
            result = measure(command, folder)
            result["statuses"] = statuses(out)
            rounds[executor].append(result)
    runs: dict[str, object] = {
        executor: {
            **sorted(results, key=lambda r: r["wall_s"])[len(results) // 2],
            "rounds_wall_s": [r["wall_s"] for r in results],
        }
        for executor, results in rounds.items()
    }
    ratio = runs["dask"]["wall_s"] / runs["local"]["wall_s"]
    return {**runs, "ratio": round(ratio, 2), "within_target": ratio <= DASK_TARGET}


def dask_only(names: list[str], repeat: int) -> None:
    """The dask row alone, for a scenario's fresh demo (its dataset cached by an untimed run)."""
    results = []
    for name in names:
        folder, workbook, _ = make_demo(name)
        warm_up = [str(BIN / "reportkit"), "run", str(workbook), "--out", "out", "--jobs", "2"]
        measure([*warm_up, "--formats", "html", "--cache-dir", "cache"], folder)
        result = {"scenario": name, "date": dt.date.today().isoformat(), "load": os.getloadavg()}
        results.append({**result, "dask": dask_overhead(folder, workbook, repeat)})
        (RESULTS / f"{name}-dask.json").write_text(
            json.dumps(results[-1], ensure_ascii=False, indent=2), encoding="utf-8"
        )
    print(dask_table(results))


def naive_loop(folder: Path, workbook: Path, units: list[str], sample: int) -> dict[str, object]:
    """The hand-written loop, on `sample` units; per-unit times scale it to all units."""
    naive = folder / "naive"
    shutil.rmtree(naive, ignore_errors=True)
    naive.mkdir()
    dataset = dataset_of(folder / "out")
    per_unit = []
    cpu_total = 0.0
    for index, unit in enumerate(spread_sample(units, sample)):
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


def make_demo(name: str) -> tuple[Path, Path, list[Path]]:
    """A fresh folder with the scenario's demo workbook, and the workbooks the run reads (the
    demo itself, or one workbook per unit for the split scenarios)."""
    units, rows = SCENARIOS[name]
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    workbooks = split_by_unit(folder, units, rows) if name in SPLIT else []
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
    return folder, workbook, workbooks or [workbook]


def scenario(
    name: str, sample: int | None, repeat: int, naive: bool, saved_by: str
) -> dict[str, object]:
    units, rows = SCENARIOS[name]
    folder, workbook, workbooks = make_demo(name)
    from reportkit.data.ingest import read_workbooks

    names = read_workbooks([workbook]).units
    parse = parse_cost(workbooks)
    fast = reportkit_runs(folder, workbooks, repeat, saved_by)
    pdf = pdf_seconds(folder, workbook)
    dask = dask_overhead(folder, workbook, repeat) if name in DASK_SCENARIOS else None
    baseline = None
    if naive:
        shutil.copy(workbook, folder / "naive.xlsx")
        baseline = naive_loop(folder, folder / "naive.xlsx", names, sample or NAIVE_SAMPLE[name])
    return {
        "scenario": name,
        "units": units,
        "rows": rows,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": f"reportkit run {'unit*.xlsx' if name in SPLIT else 'demo.xlsx'} "
        "--out out --formats html,pdf --jobs 2",
        "workbooks": len(workbooks),
        "parse": parse,
        "reportkit": fast,
        "reportkit_seconds_per_unit": round(fast["full"]["wall_s"] / units, 2),
        "pdf_largest_unit": pdf,
        "repeat": repeat,
        "naive": baseline,
        "speedup": round(baseline["wall_s"] / fast["full"]["wall_s"], 1) if baseline else None,
        "dask": dask,
    }


def pdf_cell(pdf: dict) -> str:
    return f"{pdf['warm_median_s']} s warm, {pdf['cold_s']} s cold ({pdf['pages']} pages)"


def table(results: list[dict]) -> str:
    lines = [
        "| scenario | units / rows | reportkit full | re-run unchanged | re-run one unit edited "
        "| driver peak RSS | PDF, largest unit | naive loop | speed-up | parse: calamine / ours |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        fast, naive, parse = r["reportkit"], r["naive"], r["parse"]
        est = (
            " (estimated from {} units)".format(naive["units_run"])
            if naive and naive["estimated"]
            else ""
        )
        naive_cell = f"{naive['wall_s']} s{est}" if naive else "not run"
        lines.append(
            f"| {r['scenario']} | {r['units']} / {r['rows']:,} "
            f"| {fast['full']['wall_s']} s wall, {fast['full']['cpu_s']} s CPU "
            f"| {fast['unchanged']['wall_s']} s {fast['unchanged']['statuses']} "
            f"| {fast['one_unit_edited']['wall_s']} s {fast['one_unit_edited']['statuses']} "
            f"| {fast['full']['peak_rss_mb']} MB | {pdf_cell(r['pdf_largest_unit'])} "
            f"| {naive_cell} | {r['speedup'] or '—'}× "
            f"| {parse['calamine_to_python_s']} s / {parse['read_workbooks_s']} s "
            f"({parse['ratio']}×) |"
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
    adopt_orphans()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", default=["S", "M"], choices=list(SCENARIOS))
    parser.add_argument("--sample", type=int, default=None, help="naive-loop units to run")
    parser.add_argument(
        "--pdf-only", action="store_true", help="only the largest unit's PDF seconds"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of reportkit runs; medians are kept"
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive papermill loop")
    parser.add_argument(
        "--dask-only", action="store_true", help="only the dask row: local --jobs 2 against dask"
    )
    parser.add_argument(
        "--saved-by",
        choices=("libreoffice", "openpyxl"),
        default="libreoffice",
        help="what saves the edited workbook: an office suite, as analysts' Excel or WPS "
        "(default), or openpyxl",
    )
    args = parser.parse_args()
    edits = not (args.dask_only or args.pdf_only)
    if edits and args.saved_by == "libreoffice" and shutil.which("soffice") is None:
        parser.error("--saved-by libreoffice needs LibreOffice (soffice); or use openpyxl")
    RESULTS.mkdir(exist_ok=True)
    if args.dask_only:
        dask_only(args.scenarios, args.repeat)
        return
    if args.pdf_only:
        for name in args.scenarios:
            folder, workbook, _ = make_demo(name)
            pdf = {
                "scenario": name,
                "date": dt.date.today().isoformat(),
                **pdf_seconds(folder, workbook),
            }
            (RESULTS / f"{name}-pdf.json").write_text(
                json.dumps(pdf, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            print(f"{name}: largest unit {pdf['unit']}: {pdf_cell(pdf)}", flush=True)
        return
    results = []
    for name in args.scenarios:
        print(
            f"scenario {name}: {SCENARIOS[name][0]} units, {SCENARIOS[name][1]:,} rows", flush=True
        )
        result = scenario(name, args.sample, args.repeat, not args.no_naive, args.saved_by)
        saver = "" if args.saved_by == "libreoffice" else f"-{args.saved_by}"
        (RESULTS / f"{name}{saver}.json").write_text(
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
