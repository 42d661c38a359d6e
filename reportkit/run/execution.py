"""One notebook in a worker: papermill runs it, the formats render it, the files come back as bytes.

Workers never write OUT. They work in a private temporary folder and return every file (the
rendered formats, stats.json and the executed notebook) in their result; only the driver writes
OUT, atomically. So every executor, local processes or a cluster, leaves OUT the same way, and a
worker that dies mid-unit cannot leave a partial file there.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from reportkit.startup import skip_unused_imports


@dataclass
class UnitJob:
    """Everything a worker needs for one notebook. Plain data, so it pickles to any executor.

    `inputs` are files the worker places in its own work folder before the notebook runs (the
    summary's stats.json files); an executor whose workers cannot read the driver's disk ships
    a unit's rows the same way.
    """

    name: str
    dir: str  # the unit's folder under OUT; "" for the summary
    notebook: Path
    parameters: dict[str, Any]
    formats: tuple[str, ...]
    stem: str  # "report" or "summary"
    fingerprint: str
    timeout: float
    fonts: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, bytes] = field(default_factory=dict)


@dataclass
class JobOutput:
    """What a worker sends back: the outcome and every file to write, by its name in the folder."""

    name: str
    status: str  # ok | failed
    files: dict[str, bytes]
    seconds: float
    error: str | None = None


def _die_with_parent() -> None:
    """Linux: end this worker when the driver dies (even by SIGKILL), so no orphan keeps
    running kernels while the next run works in OUT."""
    if sys.platform.startswith("linux"):
        from reportkit.run.kernels.warm_parent import die_with_parent

        die_with_parent(os.getppid())


class HeldOutput:
    """A worker's stdout and stderr, which its warm parent and kernels inherit: a pipe, read by
    a thread that holds what arrives until `release`, then appends it all to the run's log.

    A worker may start while the driver still reads the workbooks; until the driver sends it a
    unit, the data are not validated and OUT not locked, so nothing may go into run.log yet.
    """

    def __init__(self, log_path: str) -> None:
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        self._read, self._log_path = read, log_path
        self._log: int | None = None
        self._held: list[bytes] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start reading; after the warm parent is started, so it is not forked from a
        threaded process (output meanwhile waits in the pipe)."""
        threading.Thread(target=self._pump, name="reportkit-output", daemon=True).start()

    def _pump(self) -> None:
        while chunk := os.read(self._read, 1 << 16):
            with self._lock:
                if self._log is None:
                    self._held.append(chunk)
                else:
                    os.write(self._log, chunk)

    def release(self) -> None:
        """What was held, and all that follows, into the log (O_APPEND). The worker's own
        output then goes there directly, so that even its dying words are kept; the warm
        parent's and its kernels' still pass through the pipe."""
        with self._lock:
            if self._log is not None:
                return
            self._log = os.open(self._log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            for chunk in self._held:
                os.write(self._log, chunk)
            self._held.clear()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(self._log, 1)
            os.dup2(self._log, 2)


def worker_init(log_path: str | None) -> HeldOutput | None:
    """Set up one worker process: import the heavy modules once per worker, and send the
    worker's and its kernels' stray output (start-up warnings and the like) to run.log instead
    of the terminal, held until `release` (see HeldOutput)."""
    _die_with_parent()
    output = HeldOutput(log_path) if log_path else None
    from reportkit.run.kernels import start_worker_kernels

    start_worker_kernels()  # the warm parent imports while this worker does
    if output is not None:
        output.start()
    preload_worker_modules()
    return output


def preload_worker_modules() -> None:
    """Import what running and rendering a unit needs, once per worker, not in its first unit."""
    skip_unused_imports()
    import papermill  # noqa: F401

    from reportkit.export import docx, html, pdf  # noqa: F401


class _NotebookCapture:
    """A papermill I/O handler (papermill's own extension point) that keeps executed notebooks
    in memory, failed ones included: the worker writes no copy of its own, and the driver
    writes the notebook into OUT with the other files."""

    scheme = "reportkit-memory://"
    notebooks: ClassVar[dict[str, str]] = {}
    installed = False

    @classmethod
    def install(cls) -> None:
        from papermill.iorw import papermill_io

        if not cls.installed:
            papermill_io.register(cls.scheme, cls)
            cls.installed = True

    @classmethod
    def write(cls, buf: str, path: str) -> None:
        cls.notebooks[path] = buf

    @classmethod
    def read(cls, path: str) -> str:
        return cls.notebooks[path]

    @classmethod
    def listdir(cls, path: str) -> list[str]:
        return [p for p in cls.notebooks if p.startswith(path)]

    @staticmethod
    def pretty_path(path: str) -> str:
        return path


def _notebook_parameters(job: UnitJob, work: Path) -> dict[str, Any]:
    """The job's parameters plus the paths inside the worker's own work folder."""
    names = []
    for name, data in job.inputs.items():
        (work / name).write_bytes(data)
        names.append(str(work / name))
    parameters = dict(job.parameters)
    if job.stem == "report":
        parameters["stats_path"] = str(work / "stats.json")
    else:
        parameters["stats_paths"] = names
    return parameters


def execute_job(job: UnitJob) -> JobOutput:
    """Run one notebook with papermill and render it; never raises for the unit's own faults."""
    skip_unused_imports()
    import papermill

    from reportkit.export.html import page_links
    from reportkit.render.formats import render_formats
    from reportkit.run.kernels import KERNEL_NAME
    from reportkit.run.kernels.manager import KernelStartFailed, ReportKernelManager

    started = time.perf_counter()
    _NotebookCapture.install()
    executed = f"{_NotebookCapture.scheme}{job.stem}-{os.getpid()}-{time.monotonic_ns()}.ipynb"

    def failed(exc: BaseException, files: dict[str, bytes] | None = None) -> JobOutput:
        seconds = time.perf_counter() - started
        return JobOutput(job.name, "failed", files or {}, seconds, describe(exc))

    with tempfile.TemporaryDirectory(prefix="reportkit-") as tmp:
        work = Path(tmp)

        def execute() -> Any:
            return papermill.execute_notebook(
                str(job.notebook),
                executed,
                parameters=_notebook_parameters(job, work),
                kernel_name=KERNEL_NAME,
                kernel_manager_class=ReportKernelManager,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                execution_timeout=job.timeout,
                shutdown_kernel="immediate",
            )

        try:
            try:
                nb = execute()
            except KernelStartFailed:  # no cell ran: once more, with a new kernel
                nb = execute()
        except BaseException as exc:  # noqa: BLE001 - a unit's fault, reported as its failure
            kept = _NotebookCapture.notebooks.pop(executed, None)
            files = {f"{job.stem}.failed.ipynb": kept.encode("utf-8")} if kept else None
            return failed(exc, files)
        notebook = _NotebookCapture.notebooks.pop(executed).encode("utf-8")
        try:
            index = "index.html" if job.stem == "summary" else "../index.html"  # OUT, OUT/<dir>
            links = page_links(job.stem, job.formats, index)
            rendered = render_formats(nb, job.formats, job.fonts, links)
            files = {f"{job.stem}.{fmt}": data for fmt, data in rendered.items()}
            if job.stem == "report":
                files["stats.json"] = (work / "stats.json").read_bytes()
            files[f"{job.stem}.ipynb"] = notebook
        except Exception as exc:  # noqa: BLE001 - one unit's failure must not stop the others
            return failed(exc)
    return JobOutput(job.name, "ok", files, time.perf_counter() - started)


#: Causes a notebook error can name, in the words of the manifest and the index.
_CAUSES = {
    "MemoryError": "内存不足",
    "Errno 24": "打开的文件过多",
    "Errno 27": "文件超过大小上限",
    "Errno 28": "磁盘空间不足",
}


def describe(exc: BaseException) -> str:
    """A one-line cause for the manifest: the notebook's own error where papermill has one."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        text = f"{exc.ename}: {exc.evalue}"
        cause = next((c for key, c in _CAUSES.items() if key in text), None)
        where = f"笔记本第 {exc.exec_count} 个单元格出错"
        return f"{where}（{cause}）：{text}" if cause else f"{where}：{text}"
    name = type(exc).__name__
    if name == "DeadKernelError":
        return f"内核意外退出：{exc}"
    if name == "CellTimeoutError":
        return f"执行超时：{exc}"
    return f"{name}: {exc}"
