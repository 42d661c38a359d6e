"""The `dask` executor: units run as tasks on a dask.distributed cluster.

Workers need nothing from the driver's disk. Each task carries its unit's rows (that unit's
Parquet row groups, as a dataset of its own), its parameters and the notebook; the font files go
once to every worker in a WorkerPlugin, checked by hash (bytes only where a worker lacks the
file). Another plugin gives every worker a warm parent, so kernels fork warm as with `local`.
Workers return every file as bytes (reportkit.run.execution), so only the driver writes OUT.

Without a scheduler address, a LocalCluster of `--jobs` single-threaded worker processes is
started on this machine, in the background while the driver reads the parameters and the data.
Its warm parents are started first, by the driver, so that they import while the cluster starts
(warm_parent.StandbyWarmParents), and its workers are forked from a fork server that has
imported what they need once (dask_preload). They read this machine's font files, as `local`
workers do, so no fonts are shipped to them. A worker lost mid-unit costs that unit one retry
elsewhere (`distributed.scheduler.allowed-failures=1`), then the unit fails with the cause.
Ctrl-C sets a distributed Event that every running task watches: it kills its kernel, since
cancelling a future does not stop a task that is already running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.util
import os
import platform
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, InvalidStateError, as_completed
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import dask.config
import distributed
import distributed.utils
import psutil
from distributed import Client, Event, LocalCluster, WorkerPlugin
from distributed.scheduler import KilledWorker

from reportkit.data.dataset_meta import unit_dataset_files
from reportkit.errors import ReportkitError, UsageError
from reportkit.run.execution import JobOutput, UnitJob, execute_job
from reportkit.run.executors import ExecutorSettings, WorkerLost
from reportkit.run.fingerprints import code_fingerprint
from reportkit.run.kernels import fork_supported, renew_spare_kernel
from reportkit.run.kernels.warm_parent import StandbyWarmParents

#: Worker-side messages; forwarded to the driver, they reach run.log's handler (reportkit.run).
WORKER_LOG = "reportkit.run.worker"
#: Packages whose versions shape the outputs: a worker must have the driver's.
COMPARED_PACKAGES = (
    "reportkit",
    "distributed",
    "papermill",
    "nbclient",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "pandas",
    "numpy",
    "pyarrow",
    "matplotlib",
    "Jinja2",
    "weasyprint",
    "python-docx",
)
ALLOWED_FAILURES = 1
#: What a LocalCluster's fork server imports before it forks the workers.
WORKER_PRELOAD = "reportkit.run.executors.dask_preload"
#: How often a running task looks whether the run was cancelled (seconds).
CANCEL_POLL = 0.5

log = logging.getLogger(WORKER_LOG)


# -- what runs on the workers ---------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "未安装"


@cache
def environment() -> dict[str, str]:
    """What must match between driver and workers: Python, reportkit's code, package versions."""
    versions = {package: _version(package) for package in COMPARED_PACKAGES}
    return {"Python": platform.python_version(), "reportkit 代码": code_fingerprint(), **versions}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: On a worker: the driver's font file paths -> this worker's checked copies.
_shipped_fonts: dict[str, str] = {}
#: On a worker: the font sets (FontPlugin names) whose files are all in place.
_font_sets: set[str] = set()
#: On a worker: SHA-256 of the files it has looked at, by (path, size, mtime).
_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str | None:
    """The SHA-256 of a file (None if it cannot be read), hashed once per version of it."""
    try:
        stat = os.stat(path)
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _digests:
            with open(path, "rb") as handle:
                _digests[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None
    return _digests[key]


def _font_folder(worker: Any) -> Path:
    return Path(worker.local_directory) / "reportkit-fonts"


def _font_at_hand(folder: Path, path: str, digest: str) -> Path | None:
    """A file on this worker with exactly that content: our copy from an earlier run, or the
    same file at the driver's path (workers on the driver's machine, or with the same fonts
    installed). Either stands in for the driver's file; nothing else does."""
    for candidate in (folder / f"{digest[:16]}-{Path(path).name}", Path(path)):
        if file_digest(candidate) == digest:
            return candidate
    return None


def fonts_at_hand(digests: Mapping[str, str], dask_worker: Any = None) -> list[str]:
    """On a worker: which of the driver's font files (path -> SHA-256) it has already; only the
    others travel."""
    folder = _font_folder(dask_worker)
    return [path for path, digest in digests.items() if _font_at_hand(folder, path, digest)]


class FontPlugin(WorkerPlugin):
    """The run's font files, placed once on every worker (new ones too) and checked by hash.

    It carries every file's SHA-256, and the bytes of those files some worker did not have
    (fonts_at_hand). The copies (or links to identical files already there) become the worker's
    only fonts: fontconfig (WeasyPrint, fc-list, and the kernels, which inherit the setting)
    reads a configuration naming just their folder, so the worker's system fonts play no part.
    Charts are drawn in the kernels, not in the worker, so the worker imports no matplotlib: a
    kernel registers a font file named in the parameters itself, from its worker copy
    (_local_parameters, reportkit.render.fonts).
    """

    def __init__(self, digests: Mapping[str, str], contents: Mapping[str, bytes]) -> None:
        self.files = {path: (digest, contents.get(path)) for path, digest in digests.items()}
        key = "".join(f"{path}\0{digest}" for path, digest in sorted(digests.items()))
        self.name = "reportkit-fonts-" + _sha256(key.encode())[:16]

    def setup(self, worker: Any) -> None:
        folder = _font_folder(worker)
        folder.mkdir(parents=True, exist_ok=True)
        for path, (digest, data) in self.files.items():
            copy = folder / f"{digest[:16]}-{Path(path).name}"
            found = _font_at_hand(folder, path, digest)
            if found != copy:
                partial = copy.with_name(f".{copy.name}.tmp")
                partial.unlink(missing_ok=True)
                if found is not None:
                    partial.symlink_to(found)
                elif data is None:
                    raise RuntimeError(f"工作节点上没有字体文件 {Path(path).name}，也未随任务传来")
                elif _sha256(data) != digest:
                    raise RuntimeError(f"字体文件 {Path(path).name} 传到工作节点后校验失败")
                else:
                    partial.write_bytes(data)
                partial.replace(copy)
            _shipped_fonts[path] = str(copy)
        config = folder / "fonts.conf"
        config.write_text(
            "<?xml version='1.0'?>\n<fontconfig>\n"
            f"  <dir>{folder}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n"
            "</fontconfig>\n",
            encoding="utf-8",
        )
        if os.environ.get("FONTCONFIG_FILE") != str(config):
            os.environ["FONTCONFIG_FILE"] = str(config)
            renew_spare_kernel()  # kernels inherit the setting: the spare has the old one
        _font_sets.add(self.name)


def _local_fonts(fonts: Mapping[str, Any]) -> dict[str, Any]:
    """The job's fonts with font files the user named pointing at this worker's copies."""
    local = {}
    for role, font in fonts.items():
        path = font.get("path")
        local[role] = {**font, "path": _shipped_fonts[path]} if path else font
    return local


def _local_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's parameters with its charts' fonts (params._render) made local too."""
    params = parameters.get("params") or {}
    render = params.get("_render")
    if not render:
        return dict(parameters)
    local_render = {**render, "fonts": _local_fonts(render.get("fonts") or {})}
    return {**parameters, "params": {**params, "_render": local_render}}


class WorkerSetup(WorkerPlugin):
    """What a worker does once, not in every unit: find the reportkit kernelspec, start the
    warm parent that forks each unit's kernel (or, on a LocalCluster, attach to the standby one
    the driver started for it), and import papermill and the exporters.

    setup() runs on the worker's event-loop thread, which lives as long as the worker: the
    warm parent's PR_SET_PDEATHSIG follows the thread that started it, so a task thread would
    take it down with the task. The imports run in a thread of their own, so the driver goes
    on (fonts, tasks) meanwhile; a task that needs a module first waits on its import lock.
    teardown() ends the warm parent when the worker closes. Registering it again (the next
    run on a shared cluster, or one running at the same time) changes nothing: replacing it
    would end the warm parent, and with it the kernels of units still running.
    """

    name = "reportkit-worker"
    idempotent = True

    def __init__(self, exit_fast: bool = False, standby: Mapping[Any, str] | None = None) -> None:
        #: For a LocalCluster's workers, which end with the run: once closed, the worker process
        #: runs its exit handlers (temporary folders), then skips the interpreter's shutdown
        #: (over a second with the exporters loaded), which the closing cluster would wait for.
        self.exit_fast = exit_fast
        #: For a LocalCluster's workers: by worker name, the standby warm parent the driver
        #: started for it, already warming up while the cluster starts.
        self.standby = dict(standby or {})

    def setup(self, worker: Any) -> None:
        from reportkit.run.execution import preload_worker_modules
        from reportkit.run.kernels import start_worker_kernels

        start_worker_kernels(self.standby.get(worker.name))
        preload = threading.Thread(target=preload_worker_modules, name="reportkit-preload")
        preload.daemon = True  # never holds up a worker that is closing
        preload.start()

    def teardown(self, worker: Any) -> None:
        from reportkit.run.kernels import stop_worker_kernels
        from reportkit.run.kernels.warm_parent import exit_without_teardown

        stop_worker_kernels()
        if self.exit_fast:
            # The process's last step, spawned or forked (a forked one runs no exit handlers
            # of its own): multiprocessing's exit function, which runs this finalizer last.
            multiprocessing.util.Finalize(None, exit_without_teardown, exitpriority=-100)


def _kill_kernels() -> None:
    """Kill the kernels this worker started, forked by its warm parent or launched the ordinary
    way: with one thread per worker (as the README starts them), that is this task's kernel."""
    from reportkit.run.kernels import current_warm_parent

    def launched(child: psutil.Process) -> bool:
        with contextlib.suppress(psutil.Error):
            return any("ipykernel" in part for part in child.cmdline())
        return False

    kernels = [child for child in psutil.Process().children(recursive=True) if launched(child)]
    parent = current_warm_parent()
    # Its children are kernels, whether it is ours or a standby one the driver started.
    with contextlib.suppress(OSError, psutil.Error):  # gone: its kernels went with it
        kernels += psutil.Process(parent.pid).children() if parent else []
    for kernel in kernels:
        with contextlib.suppress(psutil.Error):
            kernel.kill()


def _watch(cancel: Event, done: threading.Event) -> None:
    """Kill this task's kernel once the run is cancelled. It waits on the task's own `done`,
    asking the scheduler between waits: the task's end then ends the watch at once, where
    waiting on the distributed Event kept each finished task's worker idle for up to a poll."""
    while not done.wait(timeout=CANCEL_POLL):
        if cancel.is_set():
            _kill_kernels()
            return


def run_unit(
    job: UnitJob, notebook: bytes, rows: Mapping[str, bytes], cancel: str, fonts: str | None
) -> JobOutput:
    """One unit on a worker: the notebook and rows go into a private folder, then execute_job.
    `fonts` names the FontPlugin whose files this unit needs; None where there is none, or on a
    LocalCluster, whose workers read the driver's font files as `local` workers do."""
    worker = distributed.get_worker()
    if fonts is not None and fonts not in _font_sets:  # e.g. a worker that joined mid-run
        raise RuntimeError(f"工作节点 {worker.address} 上没有本次运行的字体文件（见该节点日志）")
    if fonts is not None:
        job = dataclasses.replace(
            job, parameters=_local_parameters(job.parameters), fonts=_local_fonts(job.fonts)
        )
    log.setLevel(logging.INFO)
    stop = Event(cancel, client=distributed.get_client())
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stop, done), daemon=True)
    watcher.start()
    try:
        with tempfile.TemporaryDirectory(prefix="reportkit-dask-") as tmp:
            work = Path(tmp)
            path = work / job.notebook.name
            path.write_bytes(notebook)
            parameters = dict(job.parameters)
            if rows:
                dataset = work / "dataset"
                dataset.mkdir()
                for name, data in rows.items():
                    (dataset / name).parent.mkdir(parents=True, exist_ok=True)
                    (dataset / name).write_bytes(data)
                parameters["dataset"] = str(dataset)
            local = dataclasses.replace(job, notebook=path, parameters=parameters)
            log.info("%s: started on worker %s", job.name, worker.address)
            output = execute_job(local)
            log.info("%s: %s on worker %s", job.name, output.status, worker.address)
            return output
    finally:
        done.set()
        watcher.join()


# -- the driver side ------------------------------------------------------------------------


#: distributed settings for a LocalCluster of one run: retries as on any cluster, and less of
#: the monitoring a long-lived cluster keeps, which here only costs the run's cores: no
#: statistical profiler (it samples each task's stack every 10 ms) nor disk counters, and the
#: event-loop, memory and system checks every second or two instead of every 20-500 ms (idle,
#: they cost the driver 42 ms and each worker 17 ms of CPU per second; 7 and 3 ms after).
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.disk": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def start_fork_server() -> str:
    """The start method for a LocalCluster's worker processes: `forkserver` where there is
    one, else `spawn`.

    The fork server starts now and imports what a worker needs (WORKER_PRELOAD) while the driver
    goes on, once for all the workers, which are then forked from it ready to run units. It
    must run before distributed first asks for its multiprocessing context: distributed would
    otherwise import numpy and pandas in the driver only to choose a preload list of its own,
    which a running server no longer takes.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    multiprocessing.get_context("forkserver").set_forkserver_preload([WORKER_PRELOAD])
    multiprocessing.forkserver.ensure_running()
    distributed.utils._forkserver_preload_set = True  # private: see the docstring
    return "forkserver"


def _local_cluster(workers: int, standby: StandbyWarmParents | None) -> LocalCluster:
    """A LocalCluster of single-threaded worker processes, named 0, 1, ...

    Its workers set themselves up as they start (WorkerSetup), each attaching to the standby
    warm parent started for it, which has been importing while the cluster started. They need
    no version check: they run this interpreter and this code. A fork server outlives the run
    that started it, so each worker is given this run's environment, as a spawned one has.
    """
    names = standby.names if standby else []
    method = {"distributed.worker.multiprocessing-method": start_fork_server()}
    with dask.config.set({**LOCAL_CLUSTER_CONFIG, **method}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
            plugins=(WorkerSetup(exit_fast=True, standby=dict(enumerate(names))),),
            env=dict(os.environ),
        )


def _connect(settings: ExecutorSettings) -> Client:
    """A client of the given scheduler; a UsageError naming it if it cannot be reached."""
    try:
        return Client(settings.scheduler, timeout=settings.scheduler_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"无法连接 dask 调度器 {settings.scheduler}（等待 {settings.scheduler_timeout:g} 秒）："
            f"{exc}。请确认调度器已启动、地址正确，且本机能访问该地址。"
        ) from None


def _allow_failures(count: int, dask_scheduler: Any = None) -> None:
    """On the scheduler: its `distributed.scheduler.allowed-failures`, how often a task may
    lose its worker before it fails."""
    dask_scheduler.allowed_failures = count


def _check_workers(client: Client, address: str, timeout: float) -> None:
    """Refuse workers whose reportkit code or package versions differ from this machine's."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise UsageError(f"dask 调度器 {address} 上没有可用的工作节点（worker）。") from None
    ours = environment()
    for worker, theirs in client.run(environment, on_error="return").items():
        if isinstance(theirs, BaseException):  # e.g. reportkit is not installed there
            differ = [f"无法读取其版本：{type(theirs).__name__}: {theirs}"]
        else:
            differ = [
                f"{key}：本机 {value}，该节点 {theirs.get(key, '未知')}"
                for key, value in ours.items()
                if theirs.get(key) != value
            ]
        if differ:
            raise UsageError(
                f"拒绝工作节点 {worker}：其 reportkit 代码或依赖版本与本机不同"
                f"（{'；'.join(differ)}）。请在该节点安装与本机相同的版本。"
            )


class DaskExecutor:
    """Units as tasks on a dask.distributed cluster; results come back as concurrent futures.

    A scheduler given by address is reached (and its workers checked) at once, so one that
    cannot be reached stops the run before anything is written. A LocalCluster starts in a
    thread instead: its workers start while the driver reads the parameters and the data, and
    `ready` waits for it, before OUT is touched.
    """

    def __init__(self, settings: ExecutorSettings) -> None:
        self._cluster: LocalCluster | None = None
        self._standby: StandbyWarmParents | None = None
        self._client: Client | None = None
        self._failed: BaseException | None = None  # why the LocalCluster did not start
        self._starting: threading.Thread | None = None
        self._closed = False
        self._cancel_name = f"reportkit-cancel-{uuid.uuid4().hex}"
        self._fonts: dict[str, str] = {}  # font files -> their FontPlugin's name
        self._tasks: dict[distributed.Future, Future[JobOutput]] = {}
        if settings.scheduler is not None:
            self._client = _connect(settings)
            try:
                self._client.run_on_scheduler(_allow_failures, ALLOWED_FAILURES)
                _check_workers(self._client, settings.scheduler, settings.scheduler_timeout)
                self._client.register_plugin(WorkerSetup(), name=WorkerSetup.name)
                self._client.forward_logging(WORKER_LOG, level=logging.INFO)
            except BaseException:
                self.close()
                raise
        else:
            workers = max(1, settings.workers)
            if fork_supported():
                self._standby = StandbyWarmParents(workers)
            self._starting = threading.Thread(
                target=self._start_local, args=(workers,), name="reportkit-cluster", daemon=True
            )
            self._starting.start()

    def submit(self, job: UnitJob) -> Future[JobOutput]:
        client = self._ready()
        # A LocalCluster's workers read this machine's font files, as `local` workers do.
        fonts = self._ship_fonts(client, job.fonts) if self._cluster is None else None
        dataset = job.parameters.get("dataset") if job.stem == "report" else None
        rows = unit_dataset_files(dataset, job.name) if dataset else {}
        result: Future[JobOutput] = Future()
        task = client.submit(
            run_unit,
            job,
            job.notebook.read_bytes(),
            rows,
            self._cancel_name,
            fonts,
            key=f"reportkit-{uuid.uuid4().hex}",
            pure=False,
        )
        self._tasks[task] = result
        task.add_done_callback(lambda done: self._settle(done, result))
        return result

    def as_completed(self, futures: Iterable[Future[JobOutput]]) -> Iterator[Future[JobOutput]]:
        return as_completed(list(futures))

    def cancel(self) -> None:
        self._wait_for_start()
        if self._client is not None:
            Event(self._cancel_name, client=self._client).set()
            self._client.cancel(list(self._tasks), force=True)
        for result in self._tasks.values():
            result.cancel()
        self._tasks.clear()

    def warm_up(self) -> None:
        """Nothing to start: the cluster is reached, or its start begun, with the executor."""

    def ready(self) -> None:
        self._ready()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wait_for_start()
        if self._client is not None:
            self._client.close()
        self._close_local()

    # -- internals ------------------------------------------------------------------------

    def _start_local(self, workers: int) -> None:
        """Start the LocalCluster and its client (in the `reportkit-cluster` thread)."""
        try:
            self._cluster = _local_cluster(workers, self._standby)
            self._client = Client(self._cluster, set_as_default=False)
            self._client.forward_logging(WORKER_LOG, level=logging.INFO)
        except BaseException as exc:  # noqa: BLE001 - raised by ready(), on the main thread
            self._failed = exc
            if self._client is not None:
                self._client.close()
                self._client = None
            self._close_local()

    def _wait_for_start(self) -> None:
        """Wait for the LocalCluster's start, if one is under way, to succeed or fail."""
        if self._starting is not None:
            self._starting.join()

    def _ready(self) -> Client:
        """The client, once the cluster is up; why it is not, raised."""
        self._wait_for_start()
        if self._failed is not None:
            raise ReportkitError(
                f"无法在本机启动 dask 集群（LocalCluster）：{type(self._failed).__name__}: "
                f"{self._failed}。可改用 --executor local，或用 --scheduler 指定已启动的调度器。"
            ) from self._failed
        assert self._client is not None  # set by __init__ or _start_local
        return self._client

    def _close_local(self) -> None:
        """Close the LocalCluster, if any, then the standby warm parents its workers left."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._standby is not None:
            self._standby.close()

    def _ship_fonts(self, client: Client, fonts: Mapping[str, Any]) -> str | None:
        """Register the plugin that places these fonts on every worker, once per font set; the
        plugin's name, or None when the job names no font."""
        from reportkit.render.fonts import ResolvedFont, font_files

        paths: dict[str, None] = {}
        for data in fonts.values():
            font = ResolvedFont.from_json(data)
            paths.update(dict.fromkeys((font.path,) if font.path else font_files(font.family)))
        key = "\0".join(paths)
        if not paths:
            return None
        if key not in self._fonts:
            digests = {path: file_digest(path) or "" for path in paths}
            held = client.run(fonts_at_hand, digests, on_error="return").values()
            everywhere = set(paths).intersection(
                *(set(h) if isinstance(h, list) else set() for h in held)
            )
            contents = {p: Path(p).read_bytes() for p in paths if p not in everywhere}
            plugin = FontPlugin(digests, contents)
            client.register_plugin(plugin, name=plugin.name)
            self._fonts[key] = plugin.name
        return self._fonts[key]

    def _settle(self, task: distributed.Future, result: Future[JobOutput]) -> None:
        """Pass a task's outcome to its concurrent future (called on the client's thread)."""
        if task.status == "finished":
            _settle_once(result, value=task.result())
        elif task.status == "cancelled":  # by the scheduler, e.g. when it lost this client
            _settle_once(result, exception=WorkerLost("调度器取消了该单位的任务"))
        else:
            exc = task.exception()
            if isinstance(exc, KilledWorker):
                exc = WorkerLost(f"工作节点在运行该单位时异常退出，重试一次后仍失败（{exc}）")
            _settle_once(result, exception=exc)


def _settle_once(
    result: Future[JobOutput],
    value: JobOutput | None = None,
    exception: BaseException | None = None,
) -> None:
    try:
        if exception is not None:
            result.set_exception(exception)
        else:
            result.set_result(value)  # type: ignore[arg-type]
    except InvalidStateError:  # already cancelled by Ctrl-C
        pass
