"""Workbook layouts real logs come in: one sheet per year, one workbook per unit without a 单位
column, headers of two or three rows with merged group cells, and the classic one-sheet log.

Every workbook is written by openpyxl (and, for .xls and .ods, converted by LibreOffice in one
batched soffice call per format), then read back as a user's would be.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from reportkit.analysis.coverage import log_coverage
from reportkit.analysis.norms import check_compliance
from reportkit.cli import main
from reportkit.data.ingest import read_workbooks
from reportkit.data.schema import SHEETS, Sheet
from reportkit.data.text import normalize_name
from reportkit.data.workbook_template import build_template
from reportkit.params import Period

PERIOD = Period(dt.date(2020, 1, 1), dt.date(2022, 12, 31), "2020年以来")
PERIOD_ARGS = ("-p", "period.start", "2020-01-01", "-p", "period.end", "2022-12-31")
TYPES = ("主题党日", "党课", "支委会")
REPORTKIT = str(Path(sys.executable).parent / "reportkit")


@dataclass
class Layout:
    """One workbook: sheets of rows, merged ranges, and the activity rows it holds."""

    name: str
    unit: str
    sheets: dict[str, list[list[Any]]] = field(default_factory=dict)
    merge: dict[str, list[str]] = field(default_factory=dict)
    activities: list[tuple[dt.date, str, str]] = field(default_factory=list)  # date, branch, type

    def write(self, folder: Path) -> Path:
        book = Workbook()
        book.remove(book.active)
        for name, rows in self.sheets.items():
            sheet = book.create_sheet(name)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row, start=1):
                    if value is not None:
                        sheet.cell(row=r, column=c, value=value)
            for cells in self.merge.get(name, ()):
                sheet.merge_cells(cells)
        path = folder / self.name
        book.save(path)
        return path

    def counts(self) -> Counter:
        return Counter(kind for day, _, kind in self.activities if PERIOD.start <= day)


def _monthly(first: dt.date, months: int, branch: str) -> list[tuple[dt.date, str, str]]:
    """Activities on the 10th of each month, cycling through TYPES."""
    rows = []
    for i in range(months):
        month = first.month - 1 + i
        day = dt.date(first.year + month // 12, month % 12 + 1, 10)
        rows.append((day, branch, TYPES[i % len(TYPES)]))
    return rows


def per_year() -> Layout:
    """甲局: one sheet per year, each under a merged title row, plus a sheet of totals."""
    layout = Layout("甲局分年度台账.xlsx", "甲局")
    layout.activities = _monthly(dt.date(2020, 1, 1), 36, "第一党支部")
    for year in (2020, 2021, 2022):
        name = f"{year}年"
        rows = [
            [f"甲局{year}年党建活动台账"],
            [None],
            ["日期", "单位", "党支部", "活动类型", "主题"],
        ]
        rows += [[d, "甲局", b, k, "学习"] for d, b, k in layout.activities if d.year == year]
        layout.sheets[name] = rows
        layout.merge[name] = ["A1:E1"]
    layout.sheets["统计"] = [["年度", "合计"], [2020, 12]]
    return layout


def per_unit_with_units_sheet() -> Layout:
    """乙局: its own workbook, no 单位 column; 单位信息 lists only 乙局, and the title agrees."""
    layout = Layout("乙局.xlsx", "乙局")
    layout.activities = _monthly(dt.date(2020, 1, 1), 36, "机关党支部")
    rows = [["乙局党建工作台账"], ["活动时间", "所在党组织", "活动类型", "主要内容", "出席人数"]]
    rows += [[d, b, k, "学习", 8] for d, b, k in layout.activities]
    layout.sheets["台账"] = rows
    layout.sheets["单位信息"] = [["单位", "机关工作人员总数"], ["乙局", 120]]
    return layout


def two_row_header() -> Layout:
    """丙局: named by its file name only; 参加人数 merged over 应到 and 实到."""
    layout = Layout("丙局.xlsx", "丙局")
    layout.activities = _monthly(dt.date(2020, 1, 1), 36, "第一党支部")
    rows = [
        ["日期", "党支部", "活动类型", "参加人数", None, "主题"],
        [None, None, None, "应到", "实到", None],
    ]
    rows += [[d, b, k, 10, 9, "学习"] for d, b, k in layout.activities]
    layout.sheets["Sheet1"] = rows
    layout.merge["Sheet1"] = ["A1:A2", "B1:B2", "C1:C2", "D1:E1", "F1:F2"]
    return layout


def three_row_header_late_start() -> Layout:
    """丁局: named in its title; a three-row header; the log starts 18 months late."""
    layout = Layout("dingju.xlsx", "丁局")
    layout.activities = _monthly(dt.date(2021, 7, 1), 18, "第一党支部")
    rows = [
        ["丁局2021—2022年度党建活动台账"],
        ["日期", "活动类型", "参加情况", None, None, "党支部"],
        [None, None, "人数", None, "时长", None],
        [None, None, "应到", "实到", None, None],
    ]
    rows += [[d, k, 12, 11, 2, b] for d, b, k in layout.activities]
    layout.sheets["活动"] = rows
    layout.merge["活动"] = ["A1:F1", "A2:A4", "B2:B4", "C2:E2", "C3:D3", "E3:E4", "F2:F4"]
    return layout


def classic_with_branch_lifetimes() -> Layout:
    """戊局: the classic sheet; 支部信息 says 第三党支部 was founded on 2021-03-15."""
    layout = Layout("classic.xlsx", "戊局")
    layout.activities = _monthly(dt.date(2020, 1, 1), 36, "第一党支部")
    layout.activities += _monthly(dt.date(2021, 4, 1), 21, "第三党支部")
    header = ["日期", "单位", "党支部", "活动类型", "应到人数", "实到人数"]
    layout.sheets["活动台账"] = [header] + [
        [d, "戊局", b, k, 5, 5] for d, b, k in layout.activities
    ]
    layout.sheets["单位信息"] = [["单位", "党组织名称"], ["戊局", "中共戊局委员会"]]
    layout.sheets["支部信息"] = [
        ["单位", "党支部", "成立日期", "撤销日期"],
        ["戊局", "第一党支部", None, None],
        ["戊局", "第三党支部", dt.date(2021, 3, 15), None],
    ]
    return layout


LAYOUTS = (
    per_year,
    per_unit_with_units_sheet,
    two_row_header,
    three_row_header_late_start,
    classic_with_branch_lifetimes,
)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, tuple[Layout, Path]]:
    folder = tmp_path_factory.mktemp("layouts")
    return {make.__name__: (make(), make().write(folder)) for make in LAYOUTS}


def _by_unit(result) -> dict[str, Counter]:
    frame = result.tables["activities"]
    return {u: Counter(rows["type"]) for u, rows in frame.groupby("unit")}


# -------------------------------------------------------------------------------- each layout


@pytest.mark.parametrize("make", LAYOUTS, ids=lambda m: m.__name__)
def test_each_layout_validates_and_reads_every_row(written, make):
    layout, path = written[make.__name__]
    result = invoke("validate", str(path), *PERIOD_ARGS)
    assert result.exit_code == 0, result.output
    read = read_workbooks([path])
    assert read.errors == []
    assert _by_unit(read) == {layout.unit: Counter(k for _, _, k in layout.activities)}


def test_per_year_sheets_are_merged_and_issues_name_their_own_sheet(written, tmp_path):
    layout, path = written["per_year"]
    result = read_workbooks([path])
    frame = result.tables["activities"]
    assert sorted(set(frame["_sheet"])) == ["2020年", "2021年", "2022年"]
    assert frame["_row"].min() == 4  # title, blank row and header above
    (ignored,) = [i for i in result.warnings if "「统计」" in i.message]
    assert ignored.sheet is None
    assert "已忽略" in ignored.message
    layout.sheets["2021年"][5][3] = "主题党曰"
    bad = read_workbooks([layout.write(tmp_path)])
    (error,) = bad.errors
    assert (error.sheet, error.row, error.column) == ("2021年", 6, "活动类型")


def test_two_and_three_row_headers_read_as_one(written):
    _, path = written["two_row_header"]
    frame = read_workbooks([path]).tables["activities"]
    assert frame["_row"].iloc[0] == 3
    assert frame["expected"].iloc[0] == 10
    assert frame["present"].iloc[0] == 9
    _, path = written["three_row_header_late_start"]
    frame = read_workbooks([path]).tables["activities"]
    assert frame["_row"].iloc[0] == 5
    assert (frame["expected"].iloc[0], frame["present"].iloc[0], frame["hours"].iloc[0]) == (
        12,
        11,
        2,
    )


def test_header_merges_are_not_data_errors_but_merges_across_data_rows_are(tmp_path):
    layout = two_row_header()
    layout.merge["Sheet1"].append("C3:C4")  # 活动类型 merged over two data rows
    result = read_workbooks([layout.write(tmp_path)])
    (error,) = result.errors
    assert "合并单元格 C3:C4" in error.message
    assert error.row == 4


def test_the_unit_rule_is_a_note(written):
    notes = {}
    for name in ("per_unit_with_units_sheet", "two_row_header", "three_row_header_late_start"):
        result = read_workbooks([written[name][1]])
        (note,) = [i for i in result.issues if i.severity == "note"]
        notes[name] = note.message
    assert "「单位信息」表" in notes["per_unit_with_units_sheet"]
    assert "文件名" in notes["two_row_header"]
    assert "「丙局」" in notes["two_row_header"]
    assert "标题" in notes["three_row_header_late_start"]
    assert "「丁局」" in notes["three_row_header_late_start"]
    issues = json.loads(invoke("validate", "--json", str(written["two_row_header"][1])).stdout)
    assert {i["level"] for i in issues} >= {"note", "warning"}


def test_units_sheet_and_title_that_disagree_are_an_error(tmp_path):
    layout = per_unit_with_units_sheet()
    layout.sheets["台账"][0] = ["庚局党建工作台账"]
    path = layout.write(tmp_path)
    (error,) = read_workbooks([path]).errors
    assert error.row == 1
    assert "「庚局」" in error.message
    assert "「乙局」" in error.message
    explicit = read_workbooks([path], file_units={"乙局.xlsx": "乙局"})
    assert explicit.errors == []
    assert set(explicit.tables["activities"]["unit"]) == {"乙局"}
    params = tmp_path / "p.yaml"
    params.write_text("files:\n  乙局.xlsx: {unit: 乙局}\n", encoding="utf-8")
    assert invoke("validate", str(path), "--params", str(params)).exit_code == 0


def test_title_matched_against_known_units(tmp_path, written):
    layout = three_row_header_late_start()
    layout.sheets["活动"][0] = ["国家税务总局戊局机关2022年党建活动台账"]
    path = layout.write(tmp_path)
    alone = read_workbooks([path])
    assert set(alone.tables["activities"]["unit"]) == {"国家税务总局戊局机关"}
    with_classic = read_workbooks([written["classic_with_branch_lifetimes"][1], path])
    assert set(with_classic.tables["activities"]["unit"]) == {"戊局"}


# -------------------------------------------------------------------------------- contracts


def test_every_contract_is_recognised_by_its_header(tmp_path):
    sheets = {
        "Sheet1": [["单位", "机关工作人员总数", "专职党务工作人员数"], ["甲局", 200, 2]],
        "人员": [["姓名", "单位", "党员类别"], ["某甲", "甲局", "正式党员"]],
        "Sheet3": [["日期", "单位", "类别"], [dt.date(2021, 5, 1), "甲局", "表彰"]],
        "Sheet4": [["单位", "党支部", "成立日期"], ["甲局", "一支部", dt.date(2020, 1, 1)]],
        "Sheet5": [["日期", "单位", "活动类型"], [dt.date(2021, 5, 1), "甲局", "党课"]],
    }
    result = read_workbooks([Layout("all.xlsx", "甲局", sheets=sheets).write(tmp_path)])
    assert result.errors == []
    read = {table: set(frame["_sheet"]) for table, frame in result.tables.items()}
    assert read == {
        "units": {"Sheet1"},
        "members": {"人员"},
        "discipline": {"Sheet3"},
        "branches": {"Sheet4"},
        "activities": {"Sheet5"},
    }


def test_no_alias_maps_to_two_columns():
    for sheet in SHEETS:
        seen: dict[str, str] = {}
        for column in sheet.columns:
            for word in (column.header, *column.aliases):
                key = normalize_name(word)
                assert seen.setdefault(key, column.field) == column.field, (sheet.name, word)


def test_new_aliases_are_read():
    activities = SHEETS[0]
    expect = {
        "活动时间": "date",
        "开展时间": "date",
        "参会人数": "present",
        "出席人数": "present",
        "应参加人数": "expected",
        "党支部名称": "branch",
        "所在党组织": "branch",
        "主要内容": "topic",
    }
    read = {word: next(c.field for c in activities.columns if c.matches(word)) for word in expect}
    assert read == expect


def test_a_header_matching_two_contracts_is_an_error(tmp_path):
    rows = [["日期", "单位", "活动类型", "类别"], [dt.date(2021, 3, 5), "甲局", "党课", "表彰"]]
    layout = Layout("two.xlsx", "甲局", sheets={"Sheet1": rows})
    (error,) = read_workbooks([layout.write(tmp_path)]).errors
    assert "「活动台账」" in error.message
    assert "「奖惩记录」" in error.message
    layout.sheets = {"活动台账": rows}  # the sheet's name settles it
    assert read_workbooks([layout.write(tmp_path)]).errors == []


def test_shared_columns_alone_match_no_contract(tmp_path):
    """单位 and 党支部 are in several contracts: a log that lacks 活动类型 is not 支部信息."""
    rows = [["日期", "单位", "党支部", "主题"], [dt.date(2021, 3, 5), "甲局", "一支部", "学习"]]
    (error,) = read_workbooks(
        [Layout("a.xlsx", "甲局", sheets={"活动台账": rows}).write(tmp_path)]
    ).errors
    assert "缺少必填列 「活动类型」" in error.message
    assert error.sheet == "活动台账"
    (error,) = read_workbooks(
        [Layout("b.xlsx", "甲局", sheets={"2021年": rows}).write(tmp_path)]
    ).errors
    assert "没有可识别的工作表" in error.message


def _sheet(name: str) -> Sheet:
    return next(s for s in SHEETS if s.name == name)


def test_template_shows_optional_columns_and_accepted_layouts():
    book = build_template()
    assert "支部信息" in book.sheetnames
    text = "\n".join(
        str(cell) for row in book["说明"].iter_rows(values_only=True) for cell in row if cell
    )
    assert "选填" in text
    assert "每年一张表" in text
    assert "单独一个工作簿" in text
    assert [c.value for c in book["支部信息"][1]] == [c.header for c in _sheet("支部信息").columns]


# -------------------------------------------------------------------------------- params


def test_validate_and_ingest_take_params_and_p(tmp_path):
    layout = classic_with_branch_lifetimes()
    layout.sheets["活动台账"][1][3] = "读书班"
    path = layout.write(tmp_path)
    assert invoke("validate", str(path)).exit_code == 1
    params = tmp_path / "extra.yaml"
    params.write_text("vocabulary:\n  extra_types: {读书班: []}\n", encoding="utf-8")
    assert invoke("validate", str(path), "--params", str(params)).exit_code == 0
    assert invoke("validate", str(path), "-p", "vocabulary.extra_types.读书班", "[]").exit_code == 0
    out = tmp_path / "dataset"
    assert invoke("ingest", str(path), "--out", str(out)).exit_code == 1
    done = invoke("ingest", str(path), "--out", str(out), "--params", str(params))
    assert done.exit_code == 0
    from reportkit.data.dataset import load_tables

    assert "读书班" in set(load_tables(out)["activities"]["type"])


# ------------------------------------------------------------------------ lifetimes, coverage


def test_declared_founding_limits_the_periods_judged():
    frame = pd.DataFrame(
        {"date": pd.to_datetime([]), "branch": pd.Series([], dtype=str), "type": []}
    )
    norms = {
        "主题党日": {"per": "month", "min": 1},
        "党课": {"per": "quarter", "min": 1},
        "组织生活会": {"per": "year", "min": 1},
    }
    lives = {"三支部": (dt.date(2021, 3, 15), None)}
    entries = check_compliance(frame, ["一支部", "三支部"], PERIOD, norms, lifetimes=lives)
    first = {(e["branch"], e["rule"]): e["first_period"] for e in entries}
    assert first[("三支部", "主题党日")] == "2021-04"
    assert first[("三支部", "党课")] == "2021Q2"
    assert first[("三支部", "组织生活会")] == "2022"
    assert first[("一支部", "主题党日")] == "2020-01"
    dissolved = {"三支部": (None, dt.date(2022, 7, 1))}
    entries = check_compliance(frame, ["三支部"], PERIOD, norms, lifetimes=dissolved)
    assert {e["rule"]: e["last_period"] for e in entries} == {
        "主题党日": "2022-06",
        "党课": "2022Q2",
        "组织生活会": "2021",
    }


def test_dissolved_before_founded_is_an_error(tmp_path):
    layout = classic_with_branch_lifetimes()
    layout.sheets["支部信息"][2][3] = dt.date(2020, 1, 1)
    (error,) = read_workbooks([layout.write(tmp_path)]).errors
    assert (error.sheet, error.row, error.column) == ("支部信息", 3, "撤销日期")


def test_log_coverage_finds_late_starts_and_gaps():
    def coverage(days: list[str], gap: int = 3) -> dict:
        return log_coverage(pd.DataFrame({"date": pd.to_datetime(days)}), PERIOD, gap)

    monthly = [f"{y}-{m:02d}-10" for y in (2020, 2021, 2022) for m in range(1, 13)]
    assert coverage(monthly)["partial"] is False
    late = coverage(monthly[18:])
    assert late["late_start"]
    assert late["first_date"] == "2021-07-10"
    assert late["partial"]
    gap = coverage(monthly[:10] + monthly[15:])
    assert gap["gaps"] == [{"first": "2020-11", "last": "2021-03", "months": 5}]
    assert coverage(monthly[:10] + monthly[15:], gap=5)["partial"] is False


def test_gap_is_a_validate_warning(tmp_path):
    layout = two_row_header()
    del layout.sheets["Sheet1"][12:17]  # 2020-11 .. 2021-03
    result = invoke("validate", "--json", str(layout.write(tmp_path)), *PERIOD_ARGS)
    (warning,) = [i for i in json.loads(result.stdout) if i["level"] == "warning"]
    assert "2020-11 至 2021-03 共 5 个月无记录" in warning["message"]


def _report_text(path: Path, unit: str, part: str) -> str:
    from types import SimpleNamespace

    from reportkit.analysis.stats import compute_stats
    from reportkit.params import load_params, unit_params
    from reportkit.report import UnitReport

    tables = read_workbooks([path]).tables
    params = unit_params(load_params(), unit)
    stats = compute_stats(SimpleNamespace(unit=unit, **tables), PERIOD, params)
    blocks = UnitReport(stats, params, []).blocks(part)
    return "".join(b.get("text", "") for b in blocks)


def test_report_states_the_covered_span_and_branch_lives(tmp_path, written):
    layout = two_row_header()
    del layout.sheets["Sheet1"][12:17]
    text = _report_text(layout.write(tmp_path), "丙局", "title")
    assert "本报告依据的台账记录始于2020年1月10日、止于2022年12月10日" in text
    assert "其中2020年11月至2021年3月无记录，未覆盖报告期全程" in text
    assert "台账记录" not in _report_text(written["per_year"][1], "甲局", "title")
    lives = _report_text(written["classic_with_branch_lifetimes"][1], "戊局", "appendix")
    assert (
        "第三党支部于2021年3月15日成立，只核对其存续期内的完整月、季、年"
        "（按月自2021年4月起，按季度自2021年第2季度起，按年度自2022年起）。"
    ) in lives


def test_late_start_is_a_validate_warning(written):
    _, path = written["three_row_header_late_start"]
    result = invoke("validate", "--json", str(path), *PERIOD_ARGS)
    assert result.exit_code == 0
    (warning,) = [i for i in json.loads(result.stdout) if i["level"] == "warning"]
    assert "「丁局」" in warning["message"]
    assert "2021-07-10" in warning["message"]


# -------------------------------------------------------------------------------- .xls and .ods


@pytest.fixture(scope="module")
def converted(written, tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Every layout workbook as LibreOffice writes it: one batched soffice call per format."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice is not installed")
    folder = tmp_path_factory.mktemp("converted")
    sources = [str(path) for _, path in written.values()]
    found: dict[str, dict[str, Path]] = {}
    for fmt in ("xls", "ods"):
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{folder / 'profile'}",
                "--headless",
                "--convert-to",
                fmt,
                "--outdir",
                str(folder / fmt),
                *sources,
            ],
            capture_output=True,
            timeout=300,
        )
        for name, (_, path) in written.items():
            target = folder / fmt / f"{path.stem}.{fmt}"
            if not target.exists():
                pytest.skip("LibreOffice cannot convert spreadsheets here (Calc is not installed)")
            found.setdefault(name, {})[fmt] = target
    return found


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_layouts_written_by_libreoffice_read_the_same(written, converted, fmt):
    for name, (layout, _) in written.items():
        path = converted[name][fmt]
        result = read_workbooks([path])
        assert result.errors == [], (name, fmt, result.errors)
        assert _by_unit(result) == {layout.unit: Counter(k for _, _, k in layout.activities)}
    paths = [str(converted[name][fmt]) for name in written]
    assert invoke("validate", *paths, *PERIOD_ARGS).exit_code == 0


# -------------------------------------------------------------------------------- one mixed run


@pytest.mark.slow
def test_mixed_layouts_in_one_run(written, tmp_path):
    """Every layout in one `reportkit run`: each unit's stats.json counts equal its rows."""
    params = tmp_path / "params.yaml"
    params.write_text(
        "period: {start: 2020-01-01, end: 2022-12-31, label: 2020年以来}\n", encoding="utf-8"
    )
    paths = [str(path) for _, path in written.values()]
    run = subprocess.run(
        [REPORTKIT, "run", *paths, "--params", str(params), "--out", "out", "--jobs", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    units = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["units"]
    dirs = {u["unit"]: out / u["dir"] for u in units}
    for layout, _ in written.values():
        stats = json.loads((dirs[layout.unit] / "stats.json").read_text(encoding="utf-8"))
        counts = {t: n for t, n in stats["counts"].items() if n}
        assert counts == dict(layout.counts()), layout.unit

    stats = json.loads((dirs["戊局"] / "stats.json").read_text(encoding="utf-8"))
    first = {
        e["rule"]: e["first_period"] for e in stats["compliance"] if e["branch"] == "第三党支部"
    }
    assert (first["主题党日"], first["党课"], first["组织生活会"]) == ("2021-04", "2021Q2", "2022")
    html = (dirs["戊局"] / "report.html").read_text(encoding="utf-8")
    assert "第三党支部于2021年3月15日成立" in html
    assert "按月自2021年4月起" in html
    assert "本报告依据的台账记录" not in html

    late = (dirs["丁局"] / "report.html").read_text(encoding="utf-8")
    assert "本报告依据的台账记录始于2021年7月10日、止于2022年12月10日" in late
    late_stats = json.loads((dirs["丁局"] / "stats.json").read_text(encoding="utf-8"))
    assert late_stats["coverage"]["late_start"]
    assert late_stats["total_activities"] == 18
