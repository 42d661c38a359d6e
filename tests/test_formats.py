"""The format registry: built-ins through the `reportkit.formats` entry points, plug-ins the same
way, and what an executed report tells its formats."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from reportkit.errors import ReportkitError
from reportkit.render import formats
from reportkit.render.formats import GROUP, ExecutedReport, format_names, render_formats
from tests import sample_report as sample


def test_builtins_are_registered_through_entry_points() -> None:
    assert {"html", "pdf", "docx"} <= set(format_names())
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"][GROUP]
    assert declared == {f: f"reportkit.export.{f}:FORMAT" for f in ("html", "pdf", "docx")}
    for name in ("html", "pdf", "docx"):
        fmt = formats.get_format(name)
        assert fmt.name == name
        assert fmt.suffix == f".{name}"


@pytest.fixture
def with_plugin(monkeypatch: pytest.MonkeyPatch):
    """tests/plugin/ on sys.path: its dist-info registers a `headings` format."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugin"))
    formats.registry.cache_clear()
    yield
    formats.registry.cache_clear()


def test_a_plugin_format_renders_like_a_builtin(with_plugin: None) -> None:
    assert "headings" in format_names()
    rendered = render_formats(sample.sample_notebook(), ["html", "headings"])
    assert set(rendered) == {"html", "headings"}
    assert rendered["headings"].decode("utf-8").splitlines() == [t for _, t in sample.HEADINGS]
    assert rendered["html"].startswith(b"<!DOCTYPE html>")


def test_unknown_format_is_a_chinese_error() -> None:
    with pytest.raises(ReportkitError, match="不支持的输出格式：odt"):
        render_formats(sample.sample_notebook(), ["odt"])


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"period_end": "2024-12-31", "params": {"report_date": "2025-01-15"}}, "2025-01-15"),
        ({"period_end": "2024-12-31", "params": {"report_date": None}}, "2024-12-31"),
        ({"params": {"period": {"end": "2023-06-30"}}}, "2023-06-30"),
        ({}, None),
    ],
)
def test_report_date_is_report_date_else_period_end(parameters: dict, expected: str) -> None:
    nb = sample.sample_notebook()
    nb.metadata["papermill"] = {"parameters": parameters}
    date = ExecutedReport(nb).date
    assert date == (dt.date.fromisoformat(expected) if expected else None)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["html", "pdf", "docx"])
def test_nbconvert_exporters_are_the_format_registry(tmp_path: Path, name: str) -> None:
    """`jupyter nbconvert --to reportkit_NAME`, found through the `nbconvert.exporters` entry
    points, writes the bytes the registry renders for the same notebook."""
    source = sample.write_sample(tmp_path / "report.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", f"reportkit_{name}", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    expected = render_formats(nbformat.read(source, as_version=4), [name])[name]
    assert (tmp_path / f"report.{name}").read_bytes() == expected
