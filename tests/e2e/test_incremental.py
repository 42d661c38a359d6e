"""Incremental runs: a re-run executes exactly the units whose inputs changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from openpyxl import load_workbook

from tests.e2e.conftest import REPO, manifest, reportkit, run_dataset


def statuses(out: Path) -> dict[str, str]:
    return {u["unit"]: u["status"] for u in manifest(out)["units"]}


def run(work: Path, *args: str) -> dict[str, str]:
    reportkit("run", "book.xlsx", "--out", "out", "--jobs", "2", *args, cwd=work)
    return statuses(work / "out")


@pytest.fixture()
def work(tmp_path: Path, demo_workbook: Path) -> Path:
    shutil.copy(demo_workbook, tmp_path / "book.xlsx")
    first = run(tmp_path)
    assert set(first.values()) == {"ok"}
    return tmp_path


def units_of(work: Path) -> list[str]:
    return list(statuses(work / "out"))


def test_nothing_changed_reuses_everything_and_force_rebuilds(work: Path):
    assert set(run(work).values()) == {"cached"}
    assert set(run(work, "--force").values()) == {"ok"}


def test_changing_one_units_rows_reruns_only_that_unit(work: Path):
    target = units_of(work)[1]
    wb = load_workbook(work / "book.xlsx")
    ws = wb["活动台账"]
    header = next(r for r in range(1, 10) if any(c.value == "主题" for c in ws[r]))
    columns = {c.value: c.column for c in ws[header]}
    unit_column = columns.get("单位") or columns["单位名称"]
    row = next(
        r for r in range(header + 1, ws.max_row + 1) if ws.cell(r, unit_column).value == target
    )
    ws.cell(row, columns["主题"], "改过的主题")
    wb.save(work / "book.xlsx")
    after = run(work)
    assert after[target] == "ok"
    assert [s for u, s in after.items() if u != target] == ["cached", "cached"]


def test_changing_one_units_params_reruns_only_that_unit(work: Path):
    target = units_of(work)[0]
    (work / "params.yaml").write_text(
        yaml.safe_dump(
            {"units": {target: {"narrative": {"study": "本单位自定的学习段落。"}}}},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    after = run(work, "--params", "params.yaml")
    assert after[target] == "ok"
    assert [s for u, s in after.items() if u != target] == ["cached", "cached"]
    unit_dir = work / "out" / manifest(work / "out")["units"][0]["dir"]
    assert "本单位自定的学习段落。" in (unit_dir / "report.html").read_text(encoding="utf-8")


def test_changing_the_period_or_the_notebook_reruns_all(work: Path):
    assert set(run(work, "--period-end", "2023-12-31").values()) == {"ok"}
    nb = nbformat.read(REPO / "notebooks" / "unit_report.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A note added by an analyst."))
    nbformat.write(nb, work / "edited.ipynb")
    assert set(run(work, "--period-end", "2023-12-31", "--notebook", "edited.ipynb").values()) == {
        "ok"
    }


def test_deleting_an_output_reruns_that_unit(work: Path):
    entry = manifest(work / "out")["units"][2]
    (work / "out" / entry["dir"] / "report.html").unlink()
    after = run(work)
    assert after[entry["unit"]] == "ok"
    assert sum(1 for s in after.values() if s == "cached") == 2
    assert (work / "out" / entry["dir"] / "report.html").is_file()


def test_unchanged_workbook_skips_the_excel_parse(work: Path):
    dataset = run_dataset(work / "out")
    before = (dataset / "meta.json").stat().st_mtime_ns
    run(work)
    assert run_dataset(work / "out") == dataset
    assert (dataset / "meta.json").stat().st_mtime_ns == before
