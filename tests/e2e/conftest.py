"""Fixtures for end-to-end runs: a small demo workbook and real `reportkit run` subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.helpers import CHROMIUM, FLAGS, reportkit


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


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()
