"""`reportkit run` end to end: real papermill kernels on a real demo workbook."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from reportkit.data.dataset import load_tables
from reportkit.resources import UNIT_NOTEBOOK
from tests.e2e.helpers import REPO, manifest, reportkit, run_dataset

HEADINGS = (
    (REPO / "tests" / "fixtures" / "outline_headings.txt").read_text(encoding="utf-8").split()
)
STUDY = {
    "中心组学习": "党委理论学习中心组学习",
    "专题研讨": "专题学习研讨",
    "大课堂": "“真学实做知行合一大课堂”学习",
    "主题党日": "主题党日活动",
    "党课": "专题党课",
}


def visible_text(page: str) -> str:
    """The text a reader sees: tags and styles dropped, entities decoded."""
    page = re.sub(r"<style.*?</style>", "", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", "\n", page))


def unit_dirs(out: Path) -> list[Path]:
    return [out / u["dir"] for u in manifest(out)["units"]]


def test_layout_and_manifest(full_run: Path):
    m = manifest(full_run)
    assert len(m["units"]) == 3
    assert {u["status"] for u in m["units"]} == {"ok"}
    assert m["period"] == {"start": "2017-10-18", "end": "2024-12-31", "label": "党的十九大以来"}
    for u in m["units"]:
        assert set(u["outputs"]) == {"ipynb", "html", "pdf", "docx"}
        for name in u["outputs"].values():
            assert (full_run / u["dir"] / name).stat().st_size > 1000
        assert (full_run / u["dir"] / "stats.json").is_file()
        assert len(u["fingerprint"]) == 64
    assert (full_run / "index.html").is_file()
    assert (full_run / "summary.html").is_file()
    assert (full_run / "summary.pdf").is_file()
    log = (full_run / "run.log").read_text(encoding="utf-8")
    assert "ok" in log
    assert "IPKernelApp" not in log  # the kernels' start-up chatter stays out of the log
    # Nothing temporary is left behind.
    assert not [p for p in full_run.rglob(".*") if p.name != ".reportkit.lock"]


def test_each_report_page_links_the_index_and_its_other_formats(full_run: Path):
    """The header a reader sees on screen: back to the index, then the unit's PDF and DOCX,
    each named by its format's link text, all relative."""
    for unit_dir in unit_dirs(full_run):
        page = (unit_dir / "report.html").read_text(encoding="utf-8")
        nav = re.search(r'<nav class="rk-nav">(.*?)</nav>', page, re.S)
        assert nav, unit_dir.name
        links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(1))
        assert links == [
            ("../index.html", "返回目录"),
            ("report.pdf", "PDF"),
            ("report.docx", "Word（DOCX）"),
        ]
        for href, _text in links:
            assert (unit_dir / href).is_file()


def test_headings_in_seed_order_and_figures_match_stats(full_run: Path):
    for unit_dir in unit_dirs(full_run):
        text = visible_text((unit_dir / "report.html").read_text(encoding="utf-8"))
        stats = json.loads((unit_dir / "stats.json").read_text(encoding="utf-8"))
        position = 0
        for heading in HEADINGS:
            found = text.find(heading, position)
            assert found >= 0, f"{heading} missing or out of order in {unit_dir.name}"
            position = found + len(heading)
        assert text.count("\n") > 50
        title = f"{stats['org_name']}关于党的十九大以来党建工作情况的报告"
        assert title in text
        flat = text.replace("\n", "")
        # Zero counts are left out of the list of achievements.
        sentence = "，".join(
            f"{STUDY[t]}{stats['counts'][t]}次" for t in STUDY if stats["counts"][t]
        )
        assert f"共组织开展{sentence}。" in flat
        assert not re.search(r"(?<![\d.])0(?:次|人次|个)", flat.split("附件：")[0])
        assert "X次" not in flat
        # The signature date has no leading zeros.
        assert "2024年12月31日" in flat


def test_html_is_offline_and_has_no_code(full_run: Path):
    pages = list(full_run.rglob("*.html"))
    assert len(pages) == 5  # index, summary, three reports
    for page in pages:
        content = page.read_text(encoding="utf-8")
        assert "http://" not in content, page
        assert "https://" not in content, page
        assert 'lang="zh-CN"' in content
        for code in ("UnitReport", "report.show", "import ", "Traceback", "papermill", "In&nbsp;["):
            assert code not in content, (page, code)
        # Only the index has a script: its own sort/filter script (tests/e2e/test_isolation.py).
        assert content.lower().count("<script") == (page.name == "index.html"), page


def test_stats_counts_equal_the_rows_of_the_unit(full_run: Path, tmp_path_factory):
    activities = load_tables(run_dataset(full_run))["activities"]
    for unit_dir in unit_dirs(full_run):
        stats = json.loads((unit_dir / "stats.json").read_text(encoding="utf-8"))
        rows = activities[activities["unit"] == stats["unit"]]
        in_period = rows[(rows["date"] >= "2017-10-18") & (rows["date"] <= "2024-12-31")]
        expected = in_period["type"].value_counts().to_dict()
        assert {k: v for k, v in stats["counts"].items() if v} == expected


def test_notebook_runs_alone_under_the_papermill_cli(full_run: Path, tmp_path: Path):
    dataset = run_dataset(full_run)
    unit = manifest(full_run)["units"][0]["unit"]
    out = tmp_path / "alone.ipynb"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "papermill"),
            str(UNIT_NOTEBOOK),
            str(out),
            "-p",
            "unit",
            unit,
            "-p",
            "dataset",
            str(dataset),
            "-p",
            "stats_path",
            str(tmp_path / "stats.json"),
            "--no-progress-bar",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    nb = nbformat.read(out, as_version=4)
    assert any(cell.get("outputs") for cell in nb.cells)
    assert json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))["unit"] == unit


def test_failure_isolation(demo_workbook: Path, tmp_path: Path):
    nb = nbformat.read(UNIT_NOTEBOOK, as_version=4)
    first = manifest_units(demo_workbook, tmp_path)[0]
    nb.cells.insert(
        3,
        nbformat.v4.new_code_cell(
            f"if unit == {first!r}:\n    raise RuntimeError('forced failure')"
        ),
    )
    custom = tmp_path / "failing.ipynb"
    nbformat.write(nb, custom)
    proc = reportkit(
        "run",
        str(demo_workbook),
        "--out",
        "out",
        "--notebook",
        str(custom),
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    m = manifest(tmp_path / "out")
    status = {u["unit"]: u for u in m["units"]}
    assert status[first]["status"] == "failed"
    assert "forced failure" in status[first]["error"]
    assert (tmp_path / "out" / status[first]["dir"] / "report.failed.ipynb").is_file()
    assert [u["status"] for u in m["units"] if u["unit"] != first] == ["ok", "ok"]
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "forced failure" not in index
    assert "未生成（笔记本第" in index


def manifest_units(workbook: Path, work: Path) -> list[str]:
    from reportkit.data.ingest import read_workbooks

    tables = read_workbooks([workbook]).tables
    return list(dict.fromkeys(tables["activities"]["unit"]))


def test_params_and_period_change_the_output(demo_workbook: Path, tmp_path: Path):
    unit = manifest_units(demo_workbook, tmp_path)[1]
    reportkit(
        "run",
        str(demo_workbook),
        "--out",
        "out",
        "--units",
        unit,
        "-p",
        "leadership",
        '市直机关工委"测试"',
        "-p",
        "period.label",
        "2020年度",
        "--period-start",
        "2020-01-01",
        "--period-end",
        "2020-12-31",
        cwd=tmp_path,
    )
    m = manifest(tmp_path / "out")
    assert [u["unit"] for u in m["units"]] == [unit]
    unit_dir = tmp_path / "out" / m["units"][0]["dir"]
    stats = json.loads((unit_dir / "stats.json").read_text(encoding="utf-8"))
    assert stats["period"] == {"start": "2020-01-01", "end": "2020-12-31", "label": "2020年度"}
    assert list(stats["counts_by_year"]) == ["2020"]
    text = visible_text((unit_dir / "report.html").read_text(encoding="utf-8")).replace("\n", "")
    assert '市直机关工委"测试"' in text
    assert f"{stats['org_name']}关于2020年度党建工作情况的报告" in text
    assert "2020年12月31日" in text
    activities = load_tables(run_dataset(tmp_path / "out"))["activities"]
    rows = activities[(activities["unit"] == unit) & (activities["date"].dt.year == 2020)]
    assert sum(stats["counts"].values()) == len(rows)


def test_units_subset_and_unknown_unit(demo_workbook: Path, tmp_path: Path):
    proc = reportkit(
        "run",
        str(demo_workbook),
        "--out",
        "out",
        "--units",
        "不存在的单位",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert "不存在的单位" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_bad_data_writes_no_reports(tmp_path: Path, demo_workbook: Path):
    bad = tmp_path / "bad.xlsx"
    shutil.copy(demo_workbook, bad)
    from openpyxl import load_workbook

    wb = load_workbook(bad)
    ws = wb["活动台账"]
    header_row = next(r for r in range(1, 10) if any(c.value == "活动类型" for c in ws[r]))
    column = next(c.column for c in ws[header_row] if c.value == "活动类型")
    ws.cell(header_row + 5, column, "主题党日活动动")
    ws.cell(header_row + 6, column, "打篮球")
    wb.save(bad)
    proc = reportkit("run", str(bad), "--out", "out", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"第 {header_row + 5} 行" in proc.stderr
    assert "主题党日" in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
