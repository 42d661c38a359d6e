"""The executor seam: executors are found by name through entry points; jobs are plain data."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from reportkit.run.execution import JobOutput, UnitJob
from reportkit.run.executors import executor_factory, executor_names
from reportkit.run.executors.local import LocalExecutor

BIN = Path(sys.executable).parent


def test_local_is_registered_as_an_entry_point():
    assert "local" in executor_names()
    assert executor_factory("local") is LocalExecutor


def test_an_unknown_executor_is_a_usage_error_before_anything_is_written(tmp_path: Path):
    proc = subprocess.run(
        [str(BIN / "reportkit"), "run", "--executor", "nope", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "不支持的执行器：nope" in proc.stderr and "local" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_jobs_and_results_are_plain_data_that_pickle():
    """Any executor (another process, another machine) can ship them."""
    job = UnitJob(
        name="某单位",
        dir="某单位",
        notebook=Path("notebooks/unit_report.ipynb"),
        parameters={"unit": "某单位", "params": {"norms": {"党课": {"min": 1}}}},
        formats=("html", "pdf"),
        stem="report",
        fingerprint="f" * 64,
        timeout=60.0,
        fonts={"body": {"path": "/usr/share/fonts/x.ttf"}},
        inputs={"0000.json": b"{}"},
    )
    assert pickle.loads(pickle.dumps(job)) == job
    output = JobOutput("某单位", "ok", {"report.html": b"<html></html>"}, 1.5)
    assert pickle.loads(pickle.dumps(output)) == output
