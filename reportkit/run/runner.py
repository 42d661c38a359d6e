"""`reportkit run`: ingest once, then one fresh papermill kernel per unit on an executor.

The runner decides what to run and keeps OUT: it hands units to an executor
(reportkit.run.executors; `local` by default), writes the files each worker returns, atomically,
and rewrites the manifest (reportkit.run.manifest) after every unit. Workers never
write OUT themselves.

A unit is skipped ("cached") when its fingerprint (notebook, reportkit code, its parameters, its
rows, the formats) matches the last manifest and all its outputs are still on disk.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportkit import __version__
from reportkit.data.dataset_cache import Builder, default_cache_dir, open_dataset
from reportkit.errors import OutputError, UsageError
from reportkit.layout import (
    assign_dirs,
    os_reason,
    remove_unit_folder,
    write_files_atomic,
    write_text_atomic,
)
from reportkit.params import load_params, period_of, unit_params
from reportkit.resources import DEMO_WORKBOOK, SUMMARY_NOTEBOOK, UNIT_NOTEBOOK
from reportkit.run.execution import JobOutput, UnitJob
from reportkit.run.executors import (
    Executor,
    ExecutorSettings,
    WorkerLost,
    executor_factory,
)
from reportkit.run.fingerprints import canonical, code_fingerprint, sha256_parts
from reportkit.run.lock import out_lock, terminate_as_interrupt
from reportkit.run.manifest import GOOD, PreviousRun, RunManifest, UnitResult
from reportkit.run.progress import ProgressBar

log = logging.getLogger("reportkit.run")


@dataclass
class RunOptions:
    data: Sequence[Path] = ()
    params_path: Path | None = None
    out: Path = Path("reports")
    units: Sequence[str] | None = None
    formats: Sequence[str] = ("html",)
    jobs: int = 0  # 0: default_jobs()
    overrides: Sequence[tuple[str, str]] = ()
    force: bool = False
    cache_dir: Path = field(default_factory=default_cache_dir)
    timeout: float = 600.0  # seconds per notebook cell
    notebook: Path = UNIT_NOTEBOOK
    summary_notebook: Path = SUMMARY_NOTEBOOK
    progress: bool = True
    executor: str = "local"
    scheduler: str | None = None  # a cluster executor's scheduler address
    scheduler_timeout: float = 10.0  # seconds to wait for that scheduler
    prune: bool = False  # delete the folders of units that are no longer in the data


@dataclass
class RunResult:
    out: Path
    units: list[UnitResult]
    summary: UnitResult | None
    removed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[UnitResult]:
        return [u for u in self.units if u.status == "failed"]


# -- the driver -----------------------------------------------------------------------------


def default_jobs() -> int:
    """One unit per CPU. Each worker's next kernel starts while it renders the current unit
    (a spare kernel), so a core no longer waits on kernel start-up, and one unit more than
    CPUs no longer pays: on 2 cores, L took 36–38 s with 2 jobs and with 3 alike."""
    return os.cpu_count() or 1


def _setup_log(out: Path) -> logging.Handler:
    # Truncate, then append: worker processes append to the same file (O_APPEND), and a
    # handler in "w" mode would write over their lines at its own offset.
    (out / "run.log").write_text("", encoding="utf-8")
    handler = logging.FileHandler(out / "run.log", mode="a", encoding="utf-8")
    logging.raiseExceptions = False  # a full disk must not print logging tracebacks
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def run(options: RunOptions) -> RunResult:
    data = list(options.data) or [DEMO_WORKBOOK]
    # First of all: when the workbooks will have to be read, the child process that reads them
    # starts now, and its start-up overlaps the driver's (parameters, fonts, the executor).
    with Builder.for_inputs(data, options.cache_dir) as builder:
        return _run(options, data, builder)


def _run(options: RunOptions, data: list[Path], builder: Builder) -> RunResult:
    from reportkit.data.dataset_meta import ingest_params, list_units
    from reportkit.render.fonts import resolve_fonts
    from reportkit.render.formats import format_names

    formats = tuple(dict.fromkeys(options.formats))
    unknown = [f for f in formats if f not in format_names()]
    if unknown:
        raise UsageError(
            f"不支持的输出格式：{'、'.join(unknown)}（可选：{', '.join(format_names())}）"
        )
    executor = executor_factory(options.executor)
    out = options.out
    settings = ExecutorSettings(
        workers=options.jobs or default_jobs(),
        log_path=out / "run.log",
        scheduler=options.scheduler,
        scheduler_timeout=options.scheduler_timeout,
    )
    # The executor starts (or reaches its cluster) first, before OUT is touched: a scheduler
    # that cannot be reached leaves nothing written, and a cluster that starts in the
    # background does so while the driver reads the parameters and the data. When the
    # workbooks must be read, a worker gets ready meanwhile (`warm_up`); its output reaches
    # run.log only once it is sent a unit, after validation.
    started = executor(settings)
    try:
        params = load_params(options.params_path, options.overrides)
        period = period_of(params)
        if "pdf" in formats or "docx" in formats:
            fonts = {role: f.to_json() for role, f in resolve_fonts(params.get("fonts")).items()}
        else:
            fonts = {}
        # Validation comes first: a run with bad data writes nothing into OUT. The dataset is
        # held (no clean-up removes it) until the run's last kernel is done.
        dataset = open_dataset(
            data,
            options.cache_dir,
            building=started.warm_up,
            builder=builder,
            **ingest_params(params),
        )
        started.ready()
    except BaseException:
        started.cancel()  # a worker started early is stopped, not waited for
        started.close()
        raise
    with dataset, closing(started):
        dataset_dir, issues = dataset.dir, dataset.issues
        all_units = list_units(dataset_dir)
        selected = _selected_units(options, params, all_units)
        with out_lock(out), terminate_as_interrupt():
            handler = _setup_log(out)
            try:
                for issue in issues:
                    log.warning("%s", issue)
                plan = _Plan(
                    options, params, period, formats, fonts, dataset_dir, out.resolve(), started
                )
                return _run_locked(plan, selected, assign_dirs(all_units))
            finally:
                log.removeHandler(handler)
                handler.close()


def _selected_units(options: RunOptions, params: Any, all_units: list[str]) -> list[str]:
    """The units this run reports on (--units, else all); a UsageError before OUT is touched."""
    from reportkit.params_schema import check_unit_names  # jsonschema: after the child starts

    check_unit_names(params, all_units, params.origin)
    if not options.units:
        selected = all_units
    else:
        missing = [u for u in options.units if u not in all_units]
        if missing:
            raise UsageError(
                f"数据中没有这些单位：{'、'.join(missing)}。可选单位：{'、'.join(all_units)}"
            )
        selected = [u for u in all_units if u in set(options.units)]
    if not selected:
        raise UsageError("数据中没有任何单位的记录。")
    return selected


@dataclass
class _Plan:
    """What every step of one run shares, settled before any notebook starts."""

    options: RunOptions
    params: dict[str, Any]
    period: Any
    formats: tuple[str, ...]
    fonts: dict[str, Any]
    dataset_dir: Path
    out: Path
    executor: Executor
    previous: PreviousRun = field(default_factory=PreviousRun)
    code: str = ""

    @property
    def render(self) -> dict[str, Any]:
        """How notebooks draw: the resolved fonts, and PNG charts only when DOCX wants them."""
        return {"fonts": self.fonts, "png": "docx" in self.formats}


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary files of a run that was killed; final paths are never temporary."""
    for folder in (out, *(p for p in out.iterdir() if p.is_dir())):
        for stale in folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)


def _removed_units(plan: _Plan, dirs: dict[str, str]) -> list[dict[str, Any]]:
    """Units gone from the data: kept and listed, or deleted with --prune."""
    removed = plan.previous.removed_units(dirs, plan.out)
    for entry in removed:
        if plan.options.prune:
            remove_unit_folder(plan.out, entry["dir"])
            log.info("%s: no longer in the data, folder %s pruned", entry["unit"], entry["dir"])
        else:
            log.warning("%s: no longer in the data, folder %s kept", entry["unit"], entry["dir"])
    return [] if plan.options.prune else removed


def _run_locked(plan: _Plan, selected: list[str], dirs: dict[str, str]) -> RunResult:
    from reportkit.data.dataset_meta import unit_fingerprints

    options, period, formats, out = plan.options, plan.period, plan.formats, plan.out
    rows_fingerprints = unit_fingerprints(plan.dataset_dir)
    _remove_stale_temporaries(out)
    plan.previous = previous = PreviousRun.read(out)
    plan.code = code_fingerprint()
    notebook_hash = sha256_parts(options.notebook.read_bytes())
    log.info(
        "reportkit %s: %d units, formats %s, period %s, executor %s",
        __version__,
        len(selected),
        ",".join(formats),
        period.to_json(),
        options.executor,
    )
    removed = _removed_units(plan, dirs)
    manifest = RunManifest(out, period, formats, selected, dirs, previous, removed)
    jobs: list[UnitJob] = []
    for unit in selected:
        unit_dir = out / dirs[unit]
        p = unit_params(plan.params, unit)
        p["_render"] = plan.render
        fingerprint = sha256_parts(
            plan.code.encode(),
            notebook_hash.encode(),
            canonical(p),
            canonical(period.to_json()),
            rows_fingerprints[unit].encode(),
            ",".join(formats).encode(),
        )
        entry = None
        if not options.force:
            entry = previous.reusable(dirs[unit], fingerprint, unit_dir, ("stats.json",))
        if entry:
            manifest.results[unit] = UnitResult(
                unit, dirs[unit], "cached", fingerprint, entry["outputs"], 0.0
            )
            continue
        jobs.append(
            UnitJob(
                name=unit,
                dir=dirs[unit],
                notebook=options.notebook,
                stem="report",
                parameters={
                    "unit": unit,
                    "dataset": str(plan.dataset_dir.resolve()),
                    "period_start": period.start.isoformat(),
                    "period_end": period.end.isoformat(),
                    "period_label": period.label,
                    "params": p,
                },
                formats=formats,
                fingerprint=fingerprint,
                timeout=options.timeout,
                fonts=plan.fonts,
            )
        )
    log.info("%d cached, %d to run", len(manifest.results), len(jobs))
    executor = plan.executor
    bar = ProgressBar(len(selected), len(manifest.results), options.progress)
    try:
        for result in _execute(jobs, executor, plan):
            manifest.record(result)
            bar.add(result)
        bar.close()
        ordered = [manifest.results[u] for u in selected]
        summary = _run_summary(plan, ordered, executor)
    except KeyboardInterrupt:
        log.warning("interrupted")
        executor.cancel()
        for job in jobs:
            if job.name not in manifest.results:
                stale = previous.last_good_outputs(job.dir, out / job.dir)
                manifest.results[job.name] = UnitResult(
                    job.name, job.dir, "failed", "", {}, 0.0, "已中断", stale
                )
        manifest.write("interrupted")
        raise
    finally:
        bar.close()
    _write_index(out, period, ordered, summary, removed)
    manifest.write("complete", summary)
    for r in ordered:
        log.info("%s: %s %.2fs%s", r.unit, r.status, r.seconds, f" — {r.error}" if r.error else "")
    return RunResult(out, ordered, summary, removed)


def _execute(jobs: list[UnitJob], executor: Executor, plan: _Plan) -> Iterator[UnitResult]:
    """Run jobs on the executor and store each one's files as its result arrives.

    One unit's failure, even a worker that is lost, only fails that unit.
    """
    futures = {executor.submit(job): job for job in jobs}
    for future in executor.as_completed(futures):
        job = futures[future]
        try:
            output = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a worker process that died
            error = str(exc) if isinstance(exc, WorkerLost) else f"{type(exc).__name__}: {exc}"
            output = JobOutput(job.name, "failed", {}, 0.0, f"工作进程异常退出：{error}")
        log.info("%s: %s", job.name, output.status)
        yield _store(plan, job, output)


def _store(plan: _Plan, job: UnitJob, output: JobOutput) -> UnitResult:
    """Write a worker's files into OUT. A good unit's files take their places all at once; a
    failed unit writes only its failed notebook, and keeps its last good files, marked stale."""
    folder = plan.out / job.dir
    error = output.error
    if output.status == "ok":
        try:
            write_files_atomic(folder, output.files)
        except OutputError as exc:
            error = str(exc)
        else:
            (folder / f"{job.stem}.failed.ipynb").unlink(missing_ok=True)
            outputs = {"ipynb": f"{job.stem}.ipynb"}
            outputs.update((fmt, f"{job.stem}.{fmt}") for fmt in job.formats)
            return UnitResult(job.name, job.dir, "ok", job.fingerprint, outputs, output.seconds)
    outputs = {}
    failed_notebook = f"{job.stem}.failed.ipynb"
    if failed_notebook in output.files:
        try:
            write_files_atomic(folder, {failed_notebook: output.files[failed_notebook]})
            outputs = {"ipynb": failed_notebook}
        except OutputError as exc:
            log.warning("%s: %s", job.name, exc)
    stale = plan.previous.last_good_outputs(job.dir, folder)
    return UnitResult(
        job.name, job.dir, "failed", job.fingerprint, outputs, output.seconds, error, stale
    )


def _run_summary(plan: _Plan, units: list[UnitResult], executor: Executor) -> UnitResult | None:
    """The summary over the good units, rebuilt only when a unit's figures (its stats.json) or
    the summary's own inputs change: an edit that changes no figure leaves it as it is."""
    options, formats, out = plan.options, plan.formats, plan.out
    good = [u for u in units if u.status in GOOD]
    if not good:
        return None
    shared = {k: v for k, v in plan.params.items() if k != "units"}
    shared["failed_units"] = [u.unit for u in units if u.status == "failed"]
    shared["_render"] = plan.render
    stats = {
        f"{i:04d}.stats.json": _read_output(out / u.dir / "stats.json") for i, u in enumerate(good)
    }
    fingerprint = sha256_parts(
        plan.code.encode(),
        sha256_parts(options.summary_notebook.read_bytes()).encode(),
        canonical(shared),
        ",".join(formats).encode(),
        *stats.values(),
    )
    entry = None if options.force else plan.previous.reusable("", fingerprint, out)
    if entry:
        return UnitResult("汇总", "", "cached", fingerprint, entry["outputs"], 0.0)
    job = UnitJob(
        name="汇总",
        dir="",
        notebook=options.summary_notebook,
        stem="summary",
        parameters={"title": "各单位党建工作情况汇总", "params": shared},
        formats=formats,
        fingerprint=fingerprint,
        timeout=options.timeout,
        fonts=plan.fonts,
        inputs=stats,
    )
    return next(_execute([job], executor, plan))


def _read_output(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OutputError(f"无法读取 {path}：{os_reason(exc)}") from exc


def _write_index(
    out: Path,
    period: Any,
    units: list[UnitResult],
    summary: UnitResult | None,
    removed: list[dict[str, Any]],
) -> None:
    from reportkit.render.index import render_index

    stats = {}
    for u in units:
        try:
            stats[u.unit] = json.loads((out / u.dir / "stats.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stats[u.unit] = None
    write_text_atomic(out / "index.html", render_index(period, units, summary, stats, removed))
