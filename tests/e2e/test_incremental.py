"""Incremental runs: a re-run executes exactly the units whose inputs changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pytest
import yaml
from openpyxl import load_workbook

from reportkit.resources import UNIT_NOTEBOOK
from tests.e2e.helpers import manifest, reportkit, run_dataset


def statuses(out: Path) -> dict[str, str]:
    return {u["unit"]: u["status"] for u in manifest(out)["units"]}


def run(work: Path, *args: str) -> dict[str, str]:
    reportkit("run", "book.xlsx", "--out", "out", "--jobs", "2", *args, cwd=work)
    return statuses(work / "out")


@pytest.fixture
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


def edit_first_activity(work: Path, unit: str, column: str, value: Callable[[Any], Any]) -> None:
    """Change one cell of the unit's first row in 活动台账 to value(old value)."""
    wb = load_workbook(work / "book.xlsx")
    ws = wb["活动台账"]
    header = next(r for r in range(1, 10) if any(c.value == "主题" for c in ws[r]))
    columns = {c.value: c.column for c in ws[header]}
    unit_column = columns.get("单位") or columns["单位名称"]
    row = next(
        r for r in range(header + 1, ws.max_row + 1) if ws.cell(r, unit_column).value == unit
    )
    cell = ws.cell(row, columns[column])
    cell.value = value(cell.value)
    wb.save(work / "book.xlsx")


def unit_files(out: Path, skip: str) -> dict[str, tuple[int, bytes]]:
    """Every file in every unit folder but skip's: its mtime (ns) and bytes."""
    dirs = [u["dir"] for u in manifest(out)["units"] if u["unit"] != skip]
    return {
        str(path.relative_to(out)): (path.stat().st_mtime_ns, path.read_bytes())
        for folder in dirs
        for path in sorted((out / folder).rglob("*"))
        if path.is_file()
    }


def test_changing_one_units_rows_reruns_only_that_unit(work: Path):
    target = units_of(work)[1]
    summary_before = (work / "out" / "summary.html").stat().st_mtime_ns
    others_before = unit_files(work / "out", skip=target)
    edit_first_activity(work, target, "主题", lambda _old: "改过的主题")
    after = run(work)
    assert after[target] == "ok"
    assert [s for u, s in after.items() if u != target] == ["cached", "cached"]
    # The other units' files are untouched: not rewritten, not even with the same bytes.
    assert others_before
    assert unit_files(work / "out", skip=target) == others_before
    # A topic is no figure: every stats.json is as it was, so the summary is not rebuilt.
    assert manifest(work / "out")["summary"]["status"] == "cached"
    assert (work / "out" / "summary.html").stat().st_mtime_ns == summary_before


def test_changing_a_figure_rebuilds_the_summary(work: Path):
    target = units_of(work)[0]
    edit_first_activity(work, target, "活动类型", lambda old: "党课" if old != "党课" else "调研")
    after = run(work)
    assert after[target] == "ok"
    assert manifest(work / "out")["summary"]["status"] == "ok"


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
    nb = nbformat.read(UNIT_NOTEBOOK, as_version=4)
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


def failing_setup(work: Path, unit: str) -> list[str]:
    """A notebook that raises for units whose params say FAIL (as their opening narrative, a
    key the params schema knows), and params that say it for one."""
    from tests.e2e.helpers import notebook_with

    code = (
        "if (params.get('narrative') or {}).get('opening') == 'FAIL':\n"
        "    raise ValueError('故意失败')"
    )
    notebook_with(work, code, "fails.ipynb")
    (work / "fail.yaml").write_text(
        yaml.safe_dump({"units": {unit: {"narrative": {"opening": "FAIL"}}}}, allow_unicode=True),
        encoding="utf-8",
    )
    return ["--notebook", "fails.ipynb"]


def unit_entry(out: Path, unit: str) -> dict:
    return next(u for u in manifest(out)["units"] if u["unit"] == unit)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_unit_that_now_fails_keeps_its_reports_marked_stale(work: Path):
    target = units_of(work)[1]
    out = work / "out"
    folder = out / unit_entry(out, target)["dir"]
    good = files_of(folder)
    args = ["book.xlsx", "--out", "out", "--jobs", "2", *failing_setup(work, target)]
    first = reportkit("run", *args, "--params", "fail.yaml", cwd=work, check=False)
    assert first.returncode == 1
    assert "故意失败" in first.stderr

    entry = unit_entry(out, target)
    assert entry["status"] == "failed"
    assert "故意失败" in entry["error"]
    assert entry["stale_outputs"] == {"ipynb": "report.ipynb", "html": "report.html"}
    assert entry["outputs"] == {"ipynb": "report.failed.ipynb"}
    # The last good files are untouched, byte for byte; only the failed notebook was added.
    after = files_of(folder)
    assert {n: b for n, b in after.items() if n != "report.failed.ipynb"} == good
    assert "故意失败" in (folder / "report.failed.ipynb").read_text(encoding="utf-8")
    # The index marks the failure and links the old reports as stale; the summary leaves it out.
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "单元格出错" in index
    assert "旧版" in index
    assert "内容已过时" in index
    assert "故意失败" not in index  # the exception text is for the analyst, in the manifest
    assert f'href="{quote(folder.name)}/report.html"' in index
    assert manifest(out)["summary"]["status"] == "ok"
    summary = (out / "summary.html").read_text(encoding="utf-8")
    assert "覆盖2个单位" in summary
    assert "另有1个单位报告未能生成" in summary

    # Failing again, with the others unchanged: the stale files are still named, and the
    # progress bar (on a terminal) counts the failure and the cached units.
    again, bar = run_on_terminal(work, *args, "--params", "fail.yaml")
    assert again == 1
    assert "失败 1，未变化 2" in bar
    entry = unit_entry(out, target)
    assert entry["stale_outputs"] == {"ipynb": "report.ipynb", "html": "report.html"}
    assert files_of(folder).items() >= good.items()

    # Fixed: the unit is rebuilt, the failed notebook and the stale mark go.
    reportkit("run", *args, cwd=work)
    entry = unit_entry(out, target)
    assert entry["status"] == "ok"
    assert "stale_outputs" not in entry
    assert not (folder / "report.failed.ipynb").exists()
    assert "旧版" not in (out / "index.html").read_text(encoding="utf-8")


def run_on_terminal(work: Path, *args: str) -> tuple[int, str]:
    """Run reportkit with stderr on a pseudo-terminal, as a user sees it; (exit status, stderr)."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import termios

    from tests.e2e.helpers import BIN

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        [str(BIN / "reportkit"), "run", *args],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=600), b"".join(chunks).decode("utf-8", "replace")


def drop_unit(workbook: Path, unit: str) -> None:
    """Delete every row of one unit from every sheet (the demo pads some names with spaces)."""
    wb = load_workbook(workbook)
    for ws in wb:
        header = next(r for r in range(1, 10) if any(c.value == "单位" for c in ws[r]))
        column = next(c.column for c in ws[header] if c.value == "单位")
        for row in range(ws.max_row, header, -1):
            if str(ws.cell(row, column).value).strip() == unit:
                ws.delete_rows(row)
    wb.save(workbook)


def test_a_unit_gone_from_the_data_is_listed_as_removed_and_kept_until_prune(work: Path):
    out = work / "out"
    gone = units_of(work)[2]
    folder = out / unit_entry(out, gone)["dir"]
    kept = files_of(folder)
    drop_unit(work / "book.xlsx", gone)

    proc = reportkit("run", "book.xlsx", "--out", "out", "--jobs", "2", cwd=work)
    assert gone in proc.stdout
    assert "--prune" in proc.stdout
    m = manifest(out)
    assert gone not in [u["unit"] for u in m["units"]]
    outputs = {"ipynb": "report.ipynb", "html": "report.html"}
    assert m["removed"] == [{"unit": gone, "dir": folder.name, "outputs": outputs}]
    assert files_of(folder) == kept
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "已不在数据中的单位" in index
    assert gone in index

    # Still gone next time: still listed, still kept.
    reportkit("run", "book.xlsx", "--out", "out", "--jobs", "2", cwd=work)
    assert [r["unit"] for r in manifest(out)["removed"]] == [gone]
    assert files_of(folder) == kept

    reportkit("run", "book.xlsx", "--out", "out", "--prune", cwd=work)
    assert manifest(out)["removed"] == []
    assert not folder.exists()
    assert set(statuses(out).values()) == {"cached"}
    assert all((out / u["dir"] / "report.html").is_file() for u in manifest(out)["units"])
