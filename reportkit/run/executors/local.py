"""The `local` executor: worker processes on this machine, each serving one unit at a time.

Why processes, not threads: papermill and nbclient run their own event loops and kernels, and
units would trip over each other in threads. Each worker imports papermill, nbconvert and the
exporters once and then serves many units; every unit still gets its own fresh kernel.

The executor owns its workers (spawned processes, one pipe each) rather than borrowing a
concurrent.futures pool, so it always knows which unit a worker holds: a worker that dies
fails only that unit, and Ctrl-C terminates exactly the processes it started.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from reportkit.run.execution import JobOutput, UnitJob, execute_job, worker_init
from reportkit.run.executors import ExecutorSettings, WorkerLost
from reportkit.run.kernels.warm_parent import exit_without_teardown


def _serve(conn: Connection, log_path: str | None) -> None:
    """A worker's life: set up once, then run the jobs the driver sends until it sends None.

    A worker may start while the driver still validates the data (`warm_up`), so its stray
    output is held until the first job: jobs come only once OUT is validated and locked.
    Once done, it ends its warm parent and exits without the interpreter's teardown of the
    modules it loaded, which the driver's close would wait for (0.1 s of every run)."""
    output = worker_init(log_path)
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the driver is gone
            break
        if job is None:
            break
        if output is not None:
            output.release()
        conn.send(execute_job(job))
    exit_without_teardown()


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection


class LocalExecutor:
    """At most `settings.workers` worker processes, started as jobs arrive."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: dict[_Worker, Future[JobOutput]] = {}
        self._queue: deque[tuple[Future[JobOutput], UnitJob]] = deque()

    def submit(self, job: UnitJob) -> Future[JobOutput]:
        future: Future[JobOutput] = Future()
        self._queue.append((future, job))
        self._dispatch()
        return future

    def as_completed(self, futures: Iterable[Future[JobOutput]]) -> Iterator[Future[JobOutput]]:
        pending = list(futures)
        while pending:
            done = [f for f in pending if f.done()]
            if not done:
                self._wait()
                continue
            for future in done:
                pending.remove(future)
                yield future

    def warm_up(self) -> None:
        """Start one worker (and so its warm parent) now, to be idle when the first job comes."""
        if not self._idle and not self._busy:
            self._idle.append(self._start())

    def ready(self) -> None:
        """Workers start as jobs come (or with `warm_up`): nothing to wait for."""

    def cancel(self) -> None:
        for future, _job in self._queue:
            future.cancel()
        self._queue.clear()
        for future in self._busy.values():
            future.set_exception(CancelledError())
        workers = [*self._busy, *self._idle]
        self._busy.clear()
        self._idle.clear()
        for worker in workers:
            worker.process.terminate()  # its kernels see their parent go and exit
        for worker in workers:
            self._reap(worker)

    def close(self) -> None:
        for worker in self._idle:
            with suppress(OSError):  # already gone
                worker.conn.send(None)
            self._reap(worker)
        self._idle.clear()
        self.cancel()

    # -- internals ------------------------------------------------------------------------

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        log_path = str(self._settings.log_path) if self._settings.log_path else None
        process = self._context.Process(
            target=_serve, args=(child, log_path), name="reportkit-worker", daemon=True
        )
        process.start()
        child.close()  # the worker holds the only other end, so its death reads as EOF here
        return _Worker(process, parent)

    def _dispatch(self) -> None:
        """Hand queued jobs to idle workers, starting workers up to the limit."""
        while self._queue:
            if self._idle:
                worker = self._idle.pop()
                if not worker.process.is_alive():
                    self._reap(worker)
                    continue
            elif len(self._busy) < max(1, self._settings.workers):
                worker = self._start()
            else:
                return
            future, job = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                self._idle.append(worker)
                continue
            try:
                worker.conn.send(job)
            except OSError as exc:
                future.set_exception(WorkerLost(f"无法把任务交给工作进程：{exc}"))
                self._reap(worker)
                continue
            self._busy[worker] = future

    def _wait(self) -> None:
        """Block until a busy worker answers or dies, and settle its future."""
        if not self._busy:
            raise RuntimeError("no unit is running, yet results are awaited")
        busy = list(self._busy)
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        for worker in busy:
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            future = self._busy.pop(worker)
            try:
                output = worker.conn.recv() if worker.conn.poll() else None
            except (EOFError, OSError):
                output = None
            if isinstance(output, JobOutput):
                future.set_result(output)
                if worker.process.is_alive():
                    self._idle.append(worker)
                else:
                    self._reap(worker)
            else:
                code = self._reap(worker)
                future.set_exception(WorkerLost(f"工作进程异常退出（退出码 {code}）"))
        self._dispatch()

    @staticmethod
    def _reap(worker: _Worker) -> int | None:
        """Wait for a worker that is ending; kill it if it does not end in time."""
        worker.process.join(timeout=10)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=10)
        worker.conn.close()
        return worker.process.exitcode
