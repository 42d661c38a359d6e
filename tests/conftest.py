"""Shared fixtures: real .xlsx workbooks written with openpyxl, as analysts' files would be."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Rows, write_workbook

WriteXlsx = Callable[..., Path]


@pytest.fixture
def write_xlsx(tmp_path: Path) -> WriteXlsx:
    """write_workbook with relative paths landing in tmp_path."""

    def write(
        path: str | Path,
        sheets: Mapping[str, Rows],
        merge: Mapping[str, Sequence[str]] | None = None,
    ) -> Path:
        path = Path(path)
        return write_workbook(path if path.is_absolute() else tmp_path / path, sheets, merge)

    return write


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Runs (in process and the console scripts the tests start) keep their datasets in a cache
    of the test session's own, never in the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """With REPORTKIT_NO_SKIP=1 (set by .ci/run) a skip is a failure: CI installs everything the
    tests drive, so a skip there could only hide a missing install."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("REPORTKIT_NO_SKIP") == "1":
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where nothing may be missing: {reason}"
