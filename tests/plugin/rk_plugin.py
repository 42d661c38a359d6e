"""A plug-in distribution, as another project would ship one (its dist-info sits beside this
module): a format that lists a report's headings, and an executor that runs units one at a time
in the driver process. With this folder on sys.path both are registered through reportkit's
entry-point groups; ARCHITECTURE.md's recipes point here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future

from reportkit.render.formats import ExecutedReport, Format
from reportkit.run.execution import JobOutput, UnitJob, execute_job
from reportkit.run.executors import ExecutorSettings
from reportkit.run.kernels import start_worker_kernels


def _headings(report: ExecutedReport) -> bytes:
    lines = [b["text"] for b in report.blocks if b.get("kind") == "heading"]
    return "\n".join(lines).encode("utf-8")


HEADINGS = Format(
    name="headings",
    suffix=".txt",
    mimetype="text/plain",
    label="Headings (text)",
    needs=frozenset({"blocks"}),
    render=_headings,
)


class SerialExecutor:
    """Runs each job when it is submitted, in this process: the smallest Executor there is."""

    def __init__(self, settings: ExecutorSettings) -> None:
        start_worker_kernels()  # makes the reportkit kernelspec findable

    def submit(self, job: UnitJob) -> Future[JobOutput]:
        future: Future[JobOutput] = Future()
        future.set_running_or_notify_cancel()
        future.set_result(execute_job(job))
        return future

    def as_completed(self, futures: Iterable[Future[JobOutput]]) -> Iterator[Future[JobOutput]]:
        yield from futures

    def warm_up(self) -> None:
        """Jobs run in this process, which is ready already."""

    def ready(self) -> None:
        """Jobs run in this process, which is ready already."""

    def cancel(self) -> None:
        """Nothing runs between calls, so there is nothing to stop."""

    def close(self) -> None:
        """No workers to release."""
