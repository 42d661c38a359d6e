"""The format registry: built-ins through the `reportkit.formats` entry points, plug-ins the same
way, and what an executed report tells its formats."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from reportkit.errors import ReportkitError
from reportkit.render import formats
from reportkit.render.formats import GROUP, ExecutedReport, Format, format_names, render_formats

try:  # tests/ is a rootdir folder, or a package if someone adds tests/__init__.py
    import test_export_html as sample
except ImportError:  # pragma: no cover
    from tests import test_export_html as sample

#: A plug-in format, as another package would declare it.
HEADINGS_TXT = Format(
    name="txt",
    suffix=".txt",
    mimetype="text/plain",
    label="Headings (text)",
    needs=frozenset({"blocks"}),
    render=lambda report: "\n".join(
        b["text"] for b in report.blocks if b.get("kind") == "heading"
    ).encode("utf-8"),
)


def test_builtins_are_registered_through_entry_points() -> None:
    assert {"html", "pdf", "docx"} <= set(format_names())
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"][GROUP]
    assert declared == {f: f"reportkit.export.{f}:FORMAT" for f in ("html", "pdf", "docx")}
    for name in ("html", "pdf", "docx"):
        fmt = formats.get_format(name)
        assert fmt.name == name and fmt.suffix == f".{name}"


@pytest.fixture
def with_plugin(monkeypatch: pytest.MonkeyPatch):
    module = HEADINGS_TXT.render.__module__
    plugin = EntryPoint("txt", f"{module}:HEADINGS_TXT", GROUP)
    builtins = list(formats.entry_points(group=GROUP))
    monkeypatch.setattr(formats, "entry_points", lambda group: [*builtins, plugin])
    formats.registry.cache_clear()
    yield
    formats.registry.cache_clear()


def test_a_plugin_format_renders_like_a_builtin(with_plugin: None) -> None:
    assert "txt" in format_names()
    rendered = render_formats(sample.sample_notebook(), ["html", "txt"])
    assert set(rendered) == {"html", "txt"}
    assert rendered["txt"].decode("utf-8").splitlines() == [t for _, t in sample.HEADINGS]
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
