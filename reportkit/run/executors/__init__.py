"""Executors: where units run. The runner sees one protocol; executors are found by name.

An executor is registered like a format, through the `reportkit.executors` entry point group,
whose value is a factory taking ExecutorSettings. `local` (a pool of worker processes on this
machine) ships with reportkit. The runner only submits jobs, takes the results as they come,
cancels on Ctrl-C and closes; everything about processes, retries or clusters stays inside the
executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Protocol

from reportkit.errors import UsageError
from reportkit.run.execution import JobOutput, UnitJob

GROUP = "reportkit.executors"


@dataclass(frozen=True)
class ExecutorSettings:
    """What every executor is told: how many units may run at once and where stray output goes;
    executors that run on a cluster also get its scheduler address and how long to wait for it."""

    workers: int
    log_path: Path | None = None
    scheduler: str | None = None
    scheduler_timeout: float = 10.0


class WorkerLost(RuntimeError):
    """The worker running a unit ended without returning its result."""


class Executor(Protocol):
    def submit(self, job: UnitJob) -> Future[JobOutput]:
        """Queue one job; the future's exception is set if its worker was lost."""

    def as_completed(self, futures: Iterable[Future[JobOutput]]) -> Iterator[Future[JobOutput]]:
        """Yield the futures as they finish, in that order."""

    def warm_up(self) -> None:
        """Get ready for the first job ahead of it (e.g. start a worker), while the driver is
        still reading the workbooks; nothing may be written into OUT yet."""

    def ready(self) -> None:
        """Return once jobs can be submitted (e.g. a cluster starting in the background is
        up), or raise why they cannot; called after validation, before OUT is touched."""

    def cancel(self) -> None:
        """Stop now: queued jobs are dropped and running units killed (Ctrl-C)."""

    def close(self) -> None:
        """Release the workers once every result is in."""


def _registry() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def executor_names() -> list[str]:
    return sorted(_registry())


def executor_factory(name: str) -> Callable[[ExecutorSettings], Executor]:
    """The factory registered as `name`; checked before a run touches anything."""
    entry = _registry().get(name)
    if entry is None:
        raise UsageError(f"不支持的执行器：{name}（可选：{', '.join(executor_names())}）")
    return entry.load()
