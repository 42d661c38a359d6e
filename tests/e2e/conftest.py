"""Fixtures for end-to-end runs: a small demo workbook and real `reportkit run` subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def reportkit(*args: str, cwd: Path, check: bool = True, timeout: float = 600):
    """Run the real console script, as a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [str(BIN / "reportkit"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"reportkit {args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def run_dataset(out: Path) -> Path:
    """The cached dataset a run's notebooks read, as papermill recorded its parameter."""
    entry = manifest(out)["units"][0]
    notebook = json.loads((out / entry["dir"] / "report.ipynb").read_text(encoding="utf-8"))
    return Path(notebook["metadata"]["papermill"]["parameters"]["dataset"])


@pytest.fixture(scope="session")
def demo_workbook(tmp_path_factory) -> Path:
    """A three-unit demo workbook, small enough for many runs."""
    from reportkit.data.demo import write_demo

    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, units=3, rows=900, seed=7)
    return folder / "demo.xlsx"


@pytest.fixture(scope="session")
def full_run(tmp_path_factory, demo_workbook) -> Path:
    """One run with every format, shared by the read-only tests."""
    work = tmp_path_factory.mktemp("full")
    reportkit(
        "run",
        str(demo_workbook),
        "--out",
        "out",
        "--formats",
        "html,pdf,docx",
        "--jobs",
        "2",
        cwd=work,
    )
    return work / "out"
