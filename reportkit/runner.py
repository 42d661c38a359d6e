"""`reportkit run`: ingest once, then one fresh papermill kernel per unit in a process pool.

Why processes, not threads: papermill changes the process-wide working directory and nbclient
runs its own event loop, so units would trip over each other in threads. Each worker process
imports papermill, nbconvert and WeasyPrint once and then serves many units; every unit still
gets its own fresh kernel, so no state leaks from one unit's namespace into another's.

A unit is skipped ("cached") when its fingerprint (notebook, reportkit code, its parameters, its
rows, the formats) matches the last manifest and all its outputs are still on disk.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportkit import __version__
from reportkit.errors import OutputError, UsageError
from reportkit.layout import (
    assign_dirs,
    os_reason,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from reportkit.params import load_params, period_of, unit_params

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
UNIT_NOTEBOOK = PROJECT_DIR / "notebooks" / "unit_report.ipynb"
SUMMARY_NOTEBOOK = PROJECT_DIR / "notebooks" / "summary.ipynb"
DEMO_WORKBOOK = PROJECT_DIR / "data" / "demo.xlsx"
FORMATS = ("html", "pdf", "docx")
LOCK_NAME = ".reportkit.lock"

log = logging.getLogger("reportkit.run")


@dataclass
class RunOptions:
    data: Sequence[Path] = ()
    params_path: Path | None = None
    out: Path = Path("reports")
    units: Sequence[str] | None = None
    formats: Sequence[str] = ("html",)
    jobs: int = 0  # 0: the CPU count
    overrides: Sequence[tuple[str, str]] = ()
    force: bool = False
    cache_dir: Path = Path("build")
    timeout: float = 600.0  # seconds per notebook cell
    notebook: Path = UNIT_NOTEBOOK
    summary_notebook: Path = SUMMARY_NOTEBOOK
    progress: bool = True


@dataclass
class UnitJob:
    """Everything a worker needs for one notebook; plain data, so it pickles to the worker."""

    name: str
    dir: Path
    notebook: Path
    parameters: dict[str, Any]
    formats: tuple[str, ...]
    stem: str  # "report" or "summary"
    fingerprint: str
    timeout: float
    fonts: dict[str, Any] = field(default_factory=dict)


@dataclass
class UnitResult:
    unit: str
    dir: str
    status: str  # ok | failed | cached
    fingerprint: str
    outputs: dict[str, str]
    seconds: float
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "dir": self.dir,
            "status": self.status,
            "fingerprint": self.fingerprint,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass
class RunResult:
    out: Path
    units: list[UnitResult]
    summary: UnitResult | None

    @property
    def failed(self) -> list[UnitResult]:
        return [u for u in self.units if u.status == "failed"]


# -- fingerprints ---------------------------------------------------------------------------


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """reportkit's version and the content of its code and templates."""
    files = sorted(
        p for p in PACKAGE_DIR.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css"}
    )
    return _sha256(
        __version__.encode(),
        *(p.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + p.read_bytes() for p in files),
    )


def _canonical(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# -- locking --------------------------------------------------------------------------------


@contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """One run per output folder. flock is released by the kernel when a run dies, so a killed
    run never leaves a lock that blocks the next one."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise OutputError(f"无法创建输出目录 {out}：{os_reason(exc)}") from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                handle.seek(0)
                holder = handle.read().strip() or "未知进程"
                raise OutputError(
                    f"另一个 reportkit run 正在写入 {out}（{holder}），请等待其结束后再运行。"
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}，开始于 {dt.datetime.now():%Y-%m-%d %H:%M:%S}")
        handle.flush()
        yield
    finally:
        handle.close()


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so `kill` also stops a run cleanly with a consistent manifest."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- the worker -----------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Linux: end this worker when the driver dies (even by SIGKILL), so no orphan keeps
    writing into OUT while the next run works there."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the driver died before prctl took effect
            os._exit(1)


def _worker_init(log_path: str | None) -> None:
    """Import the heavy modules once per worker, and send the worker's and its kernels'
    stray output (kernel start-up warnings and the like) to run.log instead of the terminal."""
    _die_with_parent()
    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    import papermill  # noqa: F401

    from reportkit.export import docx, html, pdf  # noqa: F401


def execute_job(job: UnitJob) -> UnitResult:
    """Run one notebook with papermill, export it, and move every file into place atomically."""
    import papermill

    from reportkit.document import blocks_of_notebook
    from reportkit.export.docx import blocks_to_docx
    from reportkit.export.html import notebook_to_html
    from reportkit.export.pdf import html_to_pdf

    started = time.perf_counter()
    job.dir.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{time.monotonic_ns()}"
    executed = job.dir / f".{job.stem}.{token}.ipynb"
    stats_tmp = job.dir / f".stats.{token}.json"
    parameters = dict(job.parameters)
    if job.stem == "report":
        parameters["stats_path"] = str(stats_tmp)
    outputs: dict[str, str] = {}
    try:
        try:
            nb = papermill.execute_notebook(
                str(job.notebook),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                execution_timeout=job.timeout,
                shutdown_kernel="immediate",
            )
        except BaseException as exc:
            failed = job.dir / f"{job.stem}.failed.ipynb"
            if _is_whole_notebook(executed):
                os.replace(executed, failed)
                outputs["ipynb"] = failed.name
            return _failed(job, outputs, started, exc)
        rendered: dict[str, bytes] = {}
        page = notebook_to_html(nb)
        if "html" in job.formats:
            rendered["html"] = page.encode("utf-8")
        if "pdf" in job.formats:
            rendered["pdf"] = html_to_pdf(page, job.fonts)
        if "docx" in job.formats:
            rendered["docx"] = blocks_to_docx(blocks_of_notebook(nb), job.fonts)
        for fmt, data in rendered.items():
            write_bytes_atomic(job.dir / f"{job.stem}.{fmt}", data)
            outputs[fmt] = f"{job.stem}.{fmt}"
        if job.stem == "report":
            os.replace(stats_tmp, job.dir / "stats.json")
        os.replace(executed, job.dir / f"{job.stem}.ipynb")
        outputs = {"ipynb": f"{job.stem}.ipynb", **outputs}
        (job.dir / f"{job.stem}.failed.ipynb").unlink(missing_ok=True)
        return UnitResult(
            job.name, job.dir.name, "ok", job.fingerprint, outputs, time.perf_counter() - started
        )
    except Exception as exc:  # noqa: BLE001 - one unit's failure must not stop the others
        return _failed(job, outputs, started, exc)
    finally:
        executed.unlink(missing_ok=True)
        stats_tmp.unlink(missing_ok=True)


def _failed(
    job: UnitJob, outputs: dict[str, str], started: float, exc: BaseException
) -> UnitResult:
    return UnitResult(
        job.name,
        job.dir.name,
        "failed",
        job.fingerprint,
        outputs,
        time.perf_counter() - started,
        _describe(exc),
    )


def _is_whole_notebook(path: Path) -> bool:
    """A failed run's notebook is kept for diagnosis only if it was written out completely."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _describe(exc: BaseException) -> str:
    """A one-line cause for the manifest: the notebook's own error where papermill has one."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"笔记本第 {exc.exec_count} 个单元格出错：{exc.ename}: {exc.evalue}"
    name = type(exc).__name__
    if name == "DeadKernelError":
        return f"内核意外退出：{exc}"
    if name == "CellTimeoutError":
        return f"执行超时：{exc}"
    return f"{name}: {exc}"


# -- the driver -----------------------------------------------------------------------------


def _previous_manifest(out: Path) -> dict[str, dict[str, Any]]:
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        entries = [
            *manifest.get("units", []),
            *([manifest["summary"]] if manifest.get("summary") else []),
        ]
        return {e["dir"]: e for e in entries}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _is_current(previous: dict[str, Any] | None, fingerprint: str, unit_dir: Path) -> bool:
    if not previous or previous.get("fingerprint") != fingerprint:
        return False
    if previous.get("status") not in ("ok", "cached"):
        return False
    return all((unit_dir / name).is_file() for name in (previous.get("outputs") or {}).values())


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
    from reportkit.dataset import ingest_to_dataset, list_units
    from reportkit.fonts import resolve_fonts
    from reportkit.ingest import ingest_params

    formats = tuple(dict.fromkeys(options.formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"不支持的输出格式：{'、'.join(unknown)}（可选：{', '.join(FORMATS)}）")
    params = load_params(options.params_path, options.overrides)
    period = period_of(params)
    data = list(options.data) or [DEMO_WORKBOOK]
    if "pdf" in formats or "docx" in formats:
        fonts = {role: font.to_json() for role, font in resolve_fonts(params.get("fonts")).items()}
    else:
        fonts = {}

    # Validation comes first: a run with bad data writes nothing into OUT.
    dataset_dir = options.cache_dir / "dataset"
    # Keep only the issues: the parsed tables are on disk now and need not stay in memory.
    issues = ingest_to_dataset(data, dataset_dir, **ingest_params(params)).issues
    all_units = list_units(dataset_dir)
    selected = all_units
    if options.units:
        missing = [u for u in options.units if u not in all_units]
        if missing:
            raise UsageError(
                f"数据中没有这些单位：{'、'.join(missing)}。可选单位：{'、'.join(all_units)}"
            )
        selected = [u for u in all_units if u in set(options.units)]
    if not selected:
        raise UsageError("数据中没有任何单位的记录。")
    dirs = assign_dirs(all_units)

    out = options.out
    with out_lock(out), _terminate_as_interrupt():
        handler = _setup_log(out)
        try:
            for issue in issues:
                log.warning("%s", issue)
            plan = _Plan(options, params, period, formats, fonts, dataset_dir, out.resolve())
            return _run_locked(plan, selected, dirs)
        finally:
            log.removeHandler(handler)
            handler.close()


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
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    code: str = ""

    @property
    def render(self) -> dict[str, Any]:
        """How notebooks draw: the resolved fonts, and PNG charts only when DOCX wants them."""
        return {"fonts": self.fonts, "png": "docx" in self.formats}


@dataclass
class _Progress:
    """The manifest as the run goes: rewritten (atomically) after every unit, so a run that is
    killed leaves a manifest that records what finished, and the next run redoes only the rest."""

    out: Path
    period: Any
    formats: tuple[str, ...]
    units: list[str]
    previous: dict[str, dict[str, Any]]
    dirs: dict[str, str]
    results: dict[str, UnitResult] = field(default_factory=dict)

    def record(self, result: UnitResult) -> None:
        self.results[result.unit] = result
        self.write("running")

    def write(self, state: str, summary: UnitResult | None = None) -> None:
        entries = []
        for unit in self.units:
            if unit in self.results:
                entries.append(self.results[unit].to_json())
            elif state == "running" and self.dirs[unit] in self.previous:
                # Not reached yet: keep what the last run knew, so a kill loses nothing.
                entries.append(self.previous[self.dirs[unit]])
        manifest = {
            "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "version": __version__,
            "state": state,
            "period": self.period.to_json(),
            "formats": list(self.formats),
            "units": entries,
            "summary": summary.to_json() if summary else None,
        }
        write_json_atomic(self.out / "manifest.json", manifest)


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary files of a run that was killed; final paths are never temporary."""
    patterns = (".*.tmp", ".report.*.ipynb", ".summary.*.ipynb", ".stats.*.json")
    for folder in (out, *(p for p in out.iterdir() if p.is_dir())):
        for pattern in patterns:
            for stale in folder.glob(pattern):
                stale.unlink(missing_ok=True)


def _run_locked(plan: _Plan, selected: list[str], dirs: dict[str, str]) -> RunResult:
    from reportkit.dataset import unit_fingerprints

    options, period, formats, out = plan.options, plan.period, plan.formats, plan.out
    rows_fingerprints = unit_fingerprints(plan.dataset_dir)
    _remove_stale_temporaries(out)
    plan.previous = previous = _previous_manifest(out)
    plan.code = code_fingerprint()
    notebook_hash = _sha256(options.notebook.read_bytes())
    log.info(
        "reportkit %s: %d units, formats %s, period %s",
        __version__,
        len(selected),
        ",".join(formats),
        period.to_json(),
    )
    progress = _Progress(out, period, formats, selected, previous, dirs)
    jobs: list[UnitJob] = []
    for unit in selected:
        unit_dir = out / dirs[unit]
        p = unit_params(plan.params, unit)
        p["_render"] = plan.render
        fingerprint = _sha256(
            plan.code.encode(),
            notebook_hash.encode(),
            _canonical(p),
            _canonical(period.to_json()),
            rows_fingerprints[unit].encode(),
            ",".join(formats).encode(),
        )
        if not options.force and _is_current(previous.get(dirs[unit]), fingerprint, unit_dir):
            entry = previous[dirs[unit]]
            progress.results[unit] = UnitResult(
                unit, dirs[unit], "cached", fingerprint, entry["outputs"], 0.0
            )
            continue
        jobs.append(
            UnitJob(
                name=unit,
                dir=unit_dir,
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
    log.info("%d cached, %d to run", len(progress.results), len(jobs))
    workers = _Workers(options)
    try:
        _execute_all(jobs, workers, progress.record, options.progress)
        ordered = [progress.results[u] for u in selected]
        summary = _run_summary(plan, ordered, workers)
    except KeyboardInterrupt:
        for job in jobs:
            if job.name not in progress.results:
                progress.results[job.name] = UnitResult(
                    job.name, job.dir.name, "failed", "", {}, 0.0, "已中断"
                )
        progress.write("interrupted")
        raise
    finally:
        workers.close()
    _write_index(out, period, ordered, summary)
    progress.write("complete", summary)
    for r in ordered:
        log.info("%s: %s %.2fs%s", r.unit, r.status, r.seconds, f" — {r.error}" if r.error else "")
    return RunResult(out, ordered, summary)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Terminate worker processes; their kernels notice their parent is gone and exit."""
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.join(timeout=10)


class _Workers:
    """One process pool for the whole run (units, then the summary), started on first use:
    each worker pays for importing papermill, nbconvert and WeasyPrint once, not per step."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self._pool: cf.ProcessPoolExecutor | None = None

    def pool(self, jobs: int) -> cf.ProcessPoolExecutor:
        if self._pool is None or getattr(self._pool, "_broken", False):
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            options = self.options
            workers = max(1, min(options.jobs or os.cpu_count() or 1, jobs))
            log_path = str(options.out / "run.log") if options.out.is_dir() else None
            self._pool = cf.ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(log_path,),
            )
        return self._pool

    def stop(self) -> None:
        """Terminate the workers now; their kernels notice their parent is gone and exit."""
        if self._pool is not None:
            _stop_workers(self._pool)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _execute_all(
    jobs: list[UnitJob],
    workers: _Workers,
    on_result: Callable[[UnitResult], None],
    progress: bool = False,
) -> None:
    """Run jobs in the pool, reporting each result as it arrives.

    One unit's failure, even a worker process that dies, only fails that unit. Ctrl-C stops
    the workers and propagates after the results so far have been reported.
    """
    from tqdm import tqdm

    if not jobs:
        return
    bar = tqdm(
        total=len(jobs), unit="单位", desc="生成报告", disable=not progress, dynamic_ncols=True
    )
    pool = workers.pool(len(jobs))
    try:
        futures = {pool.submit(execute_job, job): job for job in jobs}
        for future in cf.as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker process that died
                result = UnitResult(
                    job.name,
                    job.dir.name,
                    "failed",
                    job.fingerprint,
                    {},
                    0.0,
                    f"工作进程异常退出：{type(exc).__name__}: {exc}",
                )
            log.info("%s: %s", job.name, result.status)
            on_result(result)
            bar.set_postfix_str(job.name, refresh=False)
            bar.update()
    except KeyboardInterrupt:
        log.warning("interrupted")
        workers.stop()
        raise
    finally:
        bar.close()


def _run_summary(plan: _Plan, units: list[UnitResult], workers: _Workers) -> UnitResult | None:
    options, formats, out = plan.options, plan.formats, plan.out
    good = [u for u in units if u.status in ("ok", "cached")]
    if not good:
        return None
    shared = {k: v for k, v in plan.params.items() if k != "units"}
    shared["failed_units"] = [u.unit for u in units if u.status == "failed"]
    shared["_render"] = plan.render
    fingerprint = _sha256(
        plan.code.encode(),
        _sha256(options.summary_notebook.read_bytes()).encode(),
        _canonical(shared),
        ",".join(formats).encode(),
        *(f"{u.unit}:{u.fingerprint}".encode() for u in units),
    )
    entry = plan.previous.get("")
    if not options.force and _is_current(entry, fingerprint, out):
        return UnitResult("汇总", "", "cached", fingerprint, entry["outputs"], 0.0)
    job = UnitJob(
        name="汇总",
        dir=out,
        notebook=options.summary_notebook,
        stem="summary",
        parameters={
            "stats_paths": [str(out / u.dir / "stats.json") for u in good],
            "title": "各单位党建工作情况汇总",
            "params": shared,
        },
        formats=formats,
        fingerprint=fingerprint,
        timeout=options.timeout,
        fonts=plan.fonts,
    )
    results: list[UnitResult] = []
    _execute_all([job], workers, results.append)
    results[0].dir = ""
    return results[0]


def _write_index(
    out: Path, period: Any, units: list[UnitResult], summary: UnitResult | None
) -> None:
    from reportkit.index import render_index

    stats = {}
    for u in units:
        try:
            stats[u.unit] = json.loads((out / u.dir / "stats.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stats[u.unit] = None
    write_text_atomic(out / "index.html", render_index(period, units, summary, stats))
