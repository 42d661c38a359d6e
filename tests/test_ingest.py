"""Reading workbooks: forgiving about form, strict about meaning, exact about where.

Every workbook here is a real file written by openpyxl (or by hand for .ods), read back
through python-calamine exactly as a user's would be.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest

from reportkit.data import dataset as dataset_module
from reportkit.data.dataset import (
    ingest_to_dataset,
    load_tables,
    load_unit,
    read_part,
    unit_fingerprint,
)
from reportkit.data.dataset_meta import TABLES, list_units, read_meta
from reportkit.data.ingest import IngestResult, read_workbooks
from reportkit.data.schema import ACTIVITIES
from reportkit.errors import Issue, UsageError, ValidationFailed

HEADER = [column.header for column in ACTIVITIES.columns]
MARCH_5 = pd.Timestamp("2019-03-05")


def act(
    date=dt.date(2019, 3, 5),
    unit="甲局",
    branch="一支部",
    kind="主题党日",
    topic="学习",
    expected=10,
    present=9,
    hours=1.5,
    presenter=None,
    note=None,
) -> list:
    """One activity row in HEADER order."""
    return [date, unit, branch, kind, topic, expected, present, hours, presenter, note]


def read_one(write_xlsx, rows, name="log.xlsx", sheet="活动台账", **kwargs) -> IngestResult:
    return read_workbooks([write_xlsx(name, {sheet: rows})], **kwargs)


def at(
    result: IngestResult, row: int | None, column: str | None = None, severity: str = "error"
) -> list[Issue]:
    return [
        i
        for i in result.issues
        if i.row == row and (column is None or i.column == column) and i.severity == severity
    ]


def only_error(result: IngestResult) -> Issue:
    assert len(result.errors) == 1, [str(i) for i in result.issues]
    return result.errors[0]


# --------------------------------------------------------------------------------------------
# Headers and names


def test_clean_sheet_reads_typed_columns(write_xlsx):
    result = read_one(write_xlsx, [HEADER, act(), act(unit="乙局", kind="党课", hours=2)])
    assert result.issues == []
    frame = result.tables["activities"]
    assert list(frame.columns) == [
        "date",
        "unit",
        "branch",
        "type",
        "topic",
        "expected",
        "present",
        "hours",
        "presenter",
        "note",
        "_file",
        "_sheet",
        "_row",
    ]
    assert str(frame["date"].dtype) == "datetime64[ns]"
    assert str(frame["expected"].dtype) == "Int64"
    assert str(frame["hours"].dtype) == "Float64"
    assert frame["unit"].dtype == "str"
    assert frame["_row"].tolist() == [2, 3]
    assert frame["_sheet"].tolist() == ["活动台账"] * 2
    assert frame["_file"].iloc[0].endswith("log.xlsx")
    assert result.units == ["甲局", "乙局"]
    assert set(result.tables) == {"activities", "units", "members", "discipline", "branches"}
    assert result.tables["units"].empty
    assert "unit" in result.tables["units"].columns
    assert "活动台账 2 行" in result.summary()
    assert "共 2 个单位" in result.summary()


def test_headers_normalised_full_width_spaces_and_aliases(write_xlsx):
    header = [
        "活动 日期",
        "　单位名称 ",
        "支部",
        "活动类别",
        "学习内容",
        "应到",
        "实到",
        "时长（小时）",
        "主讲人",
        "备　注",
    ]
    path = write_xlsx("log.xlsx", {" 活动记录　": [header, act()]})
    result = read_workbooks([path])
    assert result.errors == []
    assert result.warnings == []
    row = result.tables["activities"].iloc[0]
    assert (row["unit"], row["branch"], row["type"], row["hours"]) == (
        "甲局",
        "一支部",
        "主题党日",
        1.5,
    )
    assert row["_sheet"] == " 活动记录　"  # as in the workbook


def test_values_normalised_nfkc_and_trimmed(write_xlsx):
    rows = [
        HEADER,
        act(
            unit="　甲局 ",
            branch=" 第１支部",
            kind=" 主题党日活动 ",
            topic="ＡＢＣ 学习　",
            expected="１０",
            present=" 9 ",
            presenter="Ｘ书记",
        ),
    ]
    result = read_one(write_xlsx, rows)
    assert result.errors == []
    row = result.tables["activities"].iloc[0]
    assert row["unit"] == "甲局"
    assert row["branch"] == "第1支部"
    assert row["type"] == "主题党日"
    assert row["topic"] == "ABC 学习"  # inner space kept, outer trimmed
    assert row["expected"] == 10
    assert row["present"] == 9
    assert row["presenter"] == "X书记"


def test_title_rows_blank_rows_and_exact_row_numbers(write_xlsx):
    rows = [
        None,  # Excel row 1 left empty: calamine would skip it without skip_empty_area=False
        ["2019年度党建工作台账"],
        [None, "填报单位：某局"],
        None,
        HEADER,  # row 5
        act(),  # row 6
        None,  # row 7 blank
        [None, "   ", None],  # row 8 whitespace only: blank
        act(kind="不存在的活动"),  # row 9
    ]
    result = read_one(write_xlsx, rows)
    assert result.tables["activities"]["_row"].tolist() == [6, 9]
    error = only_error(result)
    assert (error.row, error.column, error.value) == (9, "活动类型", "不存在的活动")


def test_header_missing_required_column_names_it_and_the_candidate_row(write_xlsx):
    rows = [["某局台账"], ["日期", "单位", "主题"], act()[:3]]
    error = only_error(read_one(write_xlsx, rows))
    assert error.row == 2
    assert "「活动类型」" in error.message
    error = only_error(read_one(write_xlsx, [["只有标题"], ["x", "y"]], name="b.xlsx"))
    assert error.row is None
    assert "找不到表头" in error.message


def test_unknown_column_warned_and_kept(write_xlsx):
    result = read_one(write_xlsx, [[*HEADER, "联系电话"], [*act(), "123"]])
    assert result.errors == []
    warning = at(result, 1, "联系电话", "warning")
    assert warning
    assert "未知的列" in warning[0].message
    assert result.tables["activities"]["联系电话"].tolist() == ["123"]


def test_column_with_data_but_no_header_is_warned(write_xlsx):
    result = read_one(write_xlsx, [HEADER, [*act(), None, "孤立值"]])
    assert result.errors == []
    assert any(i.column == "L 列" and i.row == 2 for i in result.warnings)


def test_duplicate_columns_for_one_field_are_an_error(write_xlsx):
    error = only_error(read_one(write_xlsx, [[*HEADER, "活动日期"], [*act(), dt.date(2019, 1, 1)]]))
    assert error.row == 1
    assert error.column == "活动日期"
    assert "「日期」" in error.message


def test_unknown_sheets_ignored_and_no_known_sheet_is_an_error(write_xlsx):
    path = write_xlsx("a.xlsx", {"说明": [["填表说明"]], "活动台账": [HEADER, act()]})
    result = read_workbooks([path])
    assert result.errors == []
    assert "「说明」" in result.warnings[0].message
    path = write_xlsx("b.xlsx", {"Sheet1": [["序号", "情况"], [1, "x"]]})
    error = only_error(read_workbooks([path]))
    assert error.file == str(path)
    assert error.sheet is None
    assert "活动台账" in error.message
    assert "单位信息" in error.message
    assert "Sheet1" in error.message


def test_empty_known_sheet_is_a_warning_only(write_xlsx):
    path = write_xlsx("a.xlsx", {"活动台账": [HEADER, act()], "奖惩记录": []})
    result = read_workbooks([path])
    assert result.errors == []
    assert any(i.sheet == "奖惩记录" for i in result.warnings)


# --------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    "value",
    [
        dt.date(2019, 3, 5),
        dt.datetime(2019, 3, 5, 14, 30),
        43529,
        43529.75,
        "2019-3-5",
        "2019-03-05",
        "2019/03/05",
        "2019.3.5",
        "2019年3月5日",
        "２０１９年３月５日",
        "２０１９－０３－０５",
        "2019-03-05 14:30",
        "2019年3月5日 14:30",
        "2019年3月5日14时30分",
        "2019-03-05T14:30:00",
        "20190305",
        20190305,
    ],
)
def test_date_forms(write_xlsx, value):
    result = read_one(write_xlsx, [HEADER, act(date=value)])
    assert result.errors == [], [str(i) for i in result.issues]
    assert result.tables["activities"]["date"].iloc[0] == MARCH_5


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2019-02-30", "日期不存在"),
        ("1899-12-31", "超出 1950–2099"),
        ("2101-01-01", "超出 1950–2099"),
        (dt.date(1900, 1, 1), "超出 1950–2099"),  # what Excel shows for a 1 typed into a date
        ("2100-06-01", "超出 1950–2099"),
        ("明天", "无法识别的日期"),
        ("2019年3月", "无法识别的日期"),
        ("2019-03-05 25:00", "时间无法识别"),
        (2019, "只填了年份"),
        (123, "不像日期"),
        (99999999, "不像日期"),
    ],
)
def test_bad_dates(write_xlsx, value, fragment):
    error = only_error(read_one(write_xlsx, [["台账"], HEADER, act(), act(date=value)]))
    assert (error.row, error.column) == (4, "日期")
    assert fragment in error.message


def test_rows_out_of_any_period_are_kept(write_xlsx):
    rows = [HEADER, act(date=dt.date(2005, 1, 1)), act(date=dt.date(2099, 12, 31))]
    result = read_one(write_xlsx, rows)
    assert result.errors == []
    assert len(result.tables["activities"]) == 2


# --------------------------------------------------------------------------------------------
# Numbers, vocabularies, required values, cross-column checks


def test_counts_integers_and_distinct_messages(write_xlsx):
    rows = [
        HEADER,
        act(expected=10.0, present="9人"),
        act(expected=1.5),
        act(expected=-1),
        act(expected="abc"),
        act(hours=-2),
        act(hours="半天"),
        act(hours="1.5小时"),
    ]
    result = read_one(write_xlsx, rows)
    frame = result.tables["activities"]
    assert frame["expected"].iloc[0] == 10
    assert frame["present"].iloc[0] == 9
    messages = {(i.row, i.column): i.message for i in result.errors}
    assert "不是整数" in messages[(3, "应到人数")]
    assert "不能为负数" in messages[(4, "应到人数")]
    assert "不是数字" in messages[(5, "应到人数")]
    assert len({messages[(r, "应到人数")] for r in (3, 4, 5)}) == 3
    assert "不能为负数" in messages[(6, "时长")]
    assert "不是数字" in messages[(7, "时长")]
    assert frame["hours"].iloc[-1] == 1.5
    assert len(result.errors) == 5


def test_present_above_expected_is_an_error_on_present(write_xlsx):
    error = only_error(read_one(write_xlsx, [HEADER, act(), act(expected=5, present=6)]))
    assert (error.row, error.column, error.value) == (3, "实到人数", "6")
    assert "大于应到人数" in error.message


def test_activity_type_aliases_and_unknown_with_suggestion(write_xlsx):
    rows = [
        HEADER,
        act(kind="专题党课"),
        act(kind="理论学习中心组学习"),
        act(kind="党员大会"),
        act(kind="主题党曰"),
        act(kind="打篮球"),
    ]
    result = read_one(write_xlsx, rows)
    assert result.tables["activities"]["type"].iloc[:3].tolist() == [
        "党课",
        "中心组学习",
        "支部党员大会",
    ]
    messages = {i.row: i.message for i in result.errors}
    assert messages[5] == "未知的活动类型，是否应为「主题党日」？"
    assert messages[6].startswith("未知的活动类型，可选值：中心组学习、")
    assert set(messages) == {5, 6}


def test_extra_types_extend_the_vocabulary(write_xlsx):
    rows = [HEADER, act(kind="读书会")]
    assert read_one(write_xlsx, rows).errors
    result = read_one(write_xlsx, rows, name="b.xlsx", extra_types={"读书班": ["读书会"]})
    assert result.errors == []
    assert result.tables["activities"]["type"].iloc[0] == "读书班"


def test_required_values_missing(write_xlsx):
    rows = [HEADER, act(unit=None), act(date=None, kind=None)]
    result = read_one(write_xlsx, rows)
    assert {(i.row, i.column) for i in result.errors} == {(2, "单位"), (3, "日期"), (3, "活动类型")}
    assert all("为空" in i.message for i in result.errors)


def test_merged_cells_blank_below_the_top_left_cell(write_xlsx):
    path = write_xlsx(
        "m.xlsx", {"活动台账": [HEADER, act(), act(unit=None)]}, merge={"活动台账": ["B2:B3"]}
    )
    error = only_error(read_workbooks([path]))
    assert (error.row, error.column) == (3, "单位")


def test_excel_error_values_are_named_by_cell(write_xlsx):
    rows = [
        HEADER,
        act(expected="#DIV/0!"),
        act(date="#REF!"),
        act(note="#N/A"),
        act(present="=1/0"),
    ]  # openpyxl writes formulas without a cached value: named as never calculated
    result = read_one(write_xlsx, rows)
    errors = {(i.row, i.column): i for i in result.errors}
    assert set(errors) == {(2, "应到人数"), (3, "日期"), (4, "备注"), (5, "实到人数")}
    assert errors[(3, "日期")].value == "#REF!"
    assert "#REF!" in errors[(3, "日期")].message
    assert "Excel 错误值" in errors[(2, "应到人数")].message
    assert errors[(5, "实到人数")].value == "=1/0"
    assert "没有它的计算结果" in errors[(5, "实到人数")].message


def test_cached_formula_values_are_used(tmp_path):
    """openpyxl writes no cached values, so write the cell XML a saved Excel file would hold."""
    src = tmp_path / "plain.xlsx"
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "活动台账"
    book.active.append(HEADER)
    book.active.append(act(expected=7))
    book.save(src)
    out = tmp_path / "formula.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b'<c r="F2" t="n"><v>7</v></c>', b'<c r="F2"><f>3+4</f><v>7</v></c>'
                )
                data = data.replace(
                    b'<c r="G2" t="n"><v>9</v></c>', b'<c r="G2" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
                )
                assert b"<f>3+4</f>" in data
                assert b"<f>1/0</f>" in data
            zout.writestr(item, data)
    result = read_workbooks([out])
    assert result.tables["activities"]["expected"].iloc[0] == 7
    error = only_error(result)
    assert (error.row, error.column, error.value) == (2, "实到人数", "#DIV/0!")


# --------------------------------------------------------------------------------------------
# Many files, units and roster


UNIT_HEADER = ["单位", "党组织名称", "机关工作人员总数", "专职党务工作人员数"]
MEMBER_HEADER = ["姓名", "单位", "党支部", "党员类别", "党内职务", "是否专职党务"]
DISCIPLINE_HEADER = ["日期", "单位", "党支部", "类别", "对象", "事由"]


def test_many_files_subsets_of_sheets_and_units(write_xlsx):
    a = write_xlsx(
        "a.xlsx",
        {"单位信息": [UNIT_HEADER, ["乙局", None, 100, 1], ["甲局", "中共甲局党组", 200, 3]]},
    )
    b = write_xlsx(
        "b.xlsx",
        {
            "台账": [HEADER, act(unit="甲局"), act(unit="丙局")],
            "名册": [MEMBER_HEADER, ["张某", "甲局", "一支部", "正式", "书记", "是"]],
            "奖惩": [DISCIPLINE_HEADER, ["2019.5.1", "甲局", None, "一种形态", "某", "x"]],
        },
    )
    result = read_workbooks([a, b])
    assert result.units == ["乙局", "甲局", "丙局"]
    units = result.tables["units"].set_index("unit")
    assert units.loc["乙局", "org_name"] == "中共乙局委员会"
    assert units.loc["甲局", "org_name"] == "中共甲局党组"
    assert units.loc["甲局", "staff_total"] == 200
    members = result.tables["members"]
    assert "name" not in members.columns
    assert members.iloc[0][["category", "full_time_party_worker"]].tolist() == ["正式党员", "是"]
    discipline = result.tables["discipline"]
    assert "subject" not in discipline.columns
    assert discipline.iloc[0]["category"] == "第一种形态"
    assert discipline.iloc[0]["date"] == pd.Timestamp("2019-05-01")
    missing = [i for i in result.warnings if "单位信息表中没有" in i.message]
    assert [(i.file, i.row, i.value) for i in missing] == [(str(b), 3, "丙局")]
    assert result.errors == []
    assert "读取 2 个文件" in result.summary()


def test_units_listed_twice(write_xlsx):
    same = write_xlsx(
        "same.xlsx", {"单位信息": [UNIT_HEADER, ["甲局", None, 100, 1], ["甲局", None, 100, 1]]}
    )
    result = read_workbooks([same])
    assert result.errors == []
    assert len(result.tables["units"]) == 1
    assert at(result, 3, severity="warning")
    differ = write_xlsx(
        "differ.xlsx",
        {
            "单位信息": [
                ["单位表"],
                UNIT_HEADER,
                ["甲局", None, 100, 1],
                ["乙局", None, 50, 1],
                ["甲局", None, 120, 1],
            ]
        },
    )
    error = only_error(read_workbooks([differ]))
    assert error.row == 5
    assert "第 3 行" in error.message
    assert "数据不同" in error.message


def test_vocab_errors_in_roster_and_discipline(write_xlsx):
    path = write_xlsx(
        "r.xlsx",
        {
            "党员名册": [MEMBER_HEADER, ["张某", "甲局", None, "发展对象", None, "也许"]],
            "奖惩记录": [DISCIPLINE_HEADER, ["2019-1-1", "甲局", None, "警告", "某", None]],
        },
    )
    result = read_workbooks([path])
    messages = {(i.sheet, i.column): i.message for i in result.errors}
    assert messages[("党员名册", "党员类别")].startswith("未知的党员类别")
    assert messages[("党员名册", "是否专职党务")] == "应填写「是」或「否」"
    assert messages[("奖惩记录", "类别")].startswith("未知的奖惩类别")


def test_duplicate_activity_rows_across_files_warned_with_both_places(write_xlsx):
    a = write_xlsx("a.xlsx", {"活动台账": [HEADER, act(), act(kind="党课")]})
    b = write_xlsx("b.xlsx", {"活动台账": [["标题"], HEADER, act(kind="党课")]})
    result = read_workbooks([a, b])
    assert result.errors == []
    (warning,) = [i for i in result.warnings if "重复" in i.message]
    assert (warning.file, warning.row) == (str(b), 3)
    assert str(a) in warning.message
    assert "第 3 行" in warning.message


def test_presenters_who_are_members_become_their_post(write_xlsx):
    path = write_xlsx(
        "p.xlsx",
        {
            "活动台账": [
                HEADER,
                act(presenter="张三丰"),
                act(presenter="李 四光", kind="党课"),
                act(presenter="外请专家", kind="专题研讨"),
                act(unit="乙局", presenter="张三丰"),  # on 甲局's roster only
                act(kind="党课", presenter="张三丰、外请专家"),
                act(kind="党课", presenter="书记张三丰"),
            ],
            "党员名册": [
                MEMBER_HEADER,
                ["张三丰", "甲局", None, "正式党员", "党委书记", "否"],
                ["李四光", "甲局", None, "正式党员", None, "否"],
            ],
        },
    )
    result = read_workbooks([path])
    assert result.errors == []
    assert result.tables["activities"]["presenter"].tolist() == [
        "党委书记",
        "党员",
        "外请专家",
        "党员",  # names from any unit's roster never reach a report
        "党委书记、外请专家",
        "党委书记",
    ]


# --------------------------------------------------------------------------------------------
# Formats and broken files


def _write_ods(path: Path, sheet: str, rows: list[list]) -> Path:
    """A minimal OpenDocument spreadsheet, written by hand (no odfpy here)."""

    def cell(value) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, dt.date):
            iso = value.isoformat()
            return (
                f'<table:table-cell office:value-type="date" office:date-value="{iso}">'
                f"<text:p>{iso}</text:p></table:table-cell>"
            )
        if isinstance(value, int | float):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
            "</table:table-cell>"
        )

    body = "".join(
        f"<table:table-row>{''.join(cell(v) for v in row) or cell(None)}</table:table-row>"
        for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "mimetype",
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return path


def test_ods_workbook(tmp_path):
    rows = [
        [None],
        ["台账"],
        HEADER,
        act(),
        act(date="2019年3月5日", kind="专题党课"),
        act(kind="未知类"),
    ]
    path = _write_ods(tmp_path / "log.ods", "活动台账", rows)
    result = read_workbooks([path])
    frame = result.tables["activities"]
    assert frame["_row"].tolist() == [4, 5, 6]
    assert frame["date"].iloc[:2].tolist() == [MARCH_5, MARCH_5]
    assert frame["type"].iloc[1] == "党课"
    assert frame["expected"].iloc[0] == 10
    error = only_error(result)
    assert (error.row, error.column) == (6, "活动类型")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_xls_workbook_converted_by_libreoffice(write_xlsx, tmp_path):
    src = write_xlsx(
        "log.xlsx", {"活动台账": [["台账"], HEADER, act(), act(expected=5, present=6)]}
    )
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "xls",
            "--outdir",
            str(tmp_path / "xls"),
            str(src),
        ],
        capture_output=True,
        timeout=180,
    )
    xls = tmp_path / "xls" / "log.xls"
    if not xls.exists():  # e.g. only libreoffice-writer is installed, without Calc
        pytest.skip("LibreOffice cannot convert spreadsheets here (Calc is not installed)")
    result = read_workbooks([xls])
    assert result.tables["activities"]["date"].iloc[0] == MARCH_5
    error = only_error(result)
    assert (error.row, error.column) == (4, "实到人数")


def test_workbook_with_the_wrong_extension_is_read_by_content(write_xlsx, tmp_path):
    src = write_xlsx("real.xlsx", {"活动台账": [HEADER, act()]})
    renamed = tmp_path / "renamed.xls"
    shutil.copy(src, renamed)
    result = read_workbooks([renamed])
    assert result.errors == []
    assert len(result.tables["activities"]) == 1


def _file_error(path: Path) -> Issue:
    result = read_workbooks([path])
    assert len(result.issues) == 1, [str(i) for i in result.issues]
    issue = result.issues[0]
    assert issue.severity == "error"
    assert issue.file == str(path)
    assert issue.sheet is None
    assert issue.row is None
    return issue


def test_file_level_failures_give_one_clear_error(tmp_path, write_xlsx):
    assert "不存在" in _file_error(tmp_path / "missing.xlsx").message
    folder = tmp_path / "folder.xlsx"
    folder.mkdir()
    assert "文件夹" in _file_error(folder).message
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert "空的" in _file_error(empty).message
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"this is not a workbook at all")
    assert "不是有效的工作簿" in _file_error(junk).message
    csv = tmp_path / "log.csv"
    csv.write_text("日期,单位\n2019-03-05,甲局\n", encoding="utf-8")
    assert "另存为" in _file_error(csv).message
    assert ".xlsx" in _file_error(csv).message
    other = tmp_path / "notes.docx"
    other.write_bytes(b"PK\x03\x04")
    assert "不支持的文件类型" in _file_error(other).message
    html = tmp_path / "export.xls"
    html.write_text("<html><table><tr><td>日期</td></tr></table></html>", encoding="utf-8")
    assert "网页" in _file_error(html).message


def test_corrupt_zip(tmp_path, write_xlsx):
    src = write_xlsx("good.xlsx", {"活动台账": [HEADER, act()]})
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(src.read_bytes()[:300])
    assert "已损坏" in _file_error(broken).message


def test_encrypted_xlsx(tmp_path):
    """Excel saves a password-protected .xlsx as an OLE2 container with an EncryptionInfo stream."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    directory = bytearray(512)
    name = "EncryptionInfo".encode("utf-16-le")
    directory[: len(name)] = name
    path = tmp_path / "secret.xlsx"
    path.write_bytes(bytes(header) + bytes(directory) + bytes(1024))
    assert "已加密" in _file_error(path).message


def test_unreadable_file(tmp_path, write_xlsx, monkeypatch):
    path = write_xlsx("locked.xlsx", {"活动台账": [HEADER, act()]})
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        path.chmod(0)
        try:
            assert "权限" in _file_error(path).message
        finally:
            path.chmod(0o644)
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    assert "权限" in _file_error(path).message


def test_one_bad_file_does_not_hide_the_others(tmp_path, write_xlsx):
    good = write_xlsx("good.xlsx", {"活动台账": [HEADER, act(kind="不对")]})
    result = read_workbooks([tmp_path / "missing.xlsx", good])
    assert [i.file for i in result.errors] == [str(tmp_path / "missing.xlsx"), str(good)]


# --------------------------------------------------------------------------------------------
# Dataset


def _two_unit_workbook(write_xlsx, name="log.xlsx", topic="学习", roster=True):
    sheets = {
        "单位信息": [UNIT_HEADER, ["乙局", None, 100, 1], ["甲局", None, 200, 3]],
        "活动台账": [
            HEADER,
            act(unit="甲局", presenter="张三丰", topic=topic),
            act(unit="乙局"),
            act(unit="甲局", kind="党课", presenter="李四光"),
            act(unit="乙局", kind="支委会"),
        ],
    }
    if roster:
        sheets["党员名册"] = [
            [*MEMBER_HEADER, "身份证号"],
            ["张三丰", "甲局", "一支部", "正式党员", "党委书记", "是", "110101195001011234"],
            ["李四光", "甲局", "一支部", "预备党员", None, "否", None, None, "钱八九"],
            ["王五一", "乙局", None, "正式党员", None, "否"],
        ]
        sheets["奖惩记录"] = [
            DISCIPLINE_HEADER,
            ["2019-6-1", "乙局", None, "表彰", "赵六七", "先进"],
        ]
    return write_xlsx(name, sheets)


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file in a dataset folder, by its path inside it."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_dataset_holds_no_personal_names(write_xlsx, tmp_path):
    out = tmp_path / "ds"
    ingest_to_dataset([_two_unit_workbook(write_xlsx)], out)
    # Names, an unknown roster column (身份证号) and a cell under no header in the roster.
    private = ("张三丰", "李四光", "王五一", "赵六七", "110101195001011234", "钱八九")
    blob = b"".join(files_of(out).values())
    for value in private:
        assert value.encode() not in blob
    assert "党委书记".encode() in blob  # the check can see strings: this one must be there
    tables = load_tables(out)
    text = "".join(tables[t].astype(str).to_csv() for t in TABLES)
    assert not any(value in text for value in private)
    assert len(read_meta(out)["warnings"]) == 2  # the unknown and the headerless roster column
    assert "name" not in tables["members"].columns
    assert "subject" not in tables["discipline"].columns


def test_load_unit_reads_only_that_unit(write_xlsx, tmp_path):
    out = tmp_path / "ds"
    ingest_to_dataset([_two_unit_workbook(write_xlsx)], out)
    assert list_units(out) == ["乙局", "甲局"]
    data = load_unit(out, "甲局")
    assert data.unit == "甲局"
    for table in TABLES:
        frame = getattr(data, table)
        assert set(frame["unit"]) <= {"甲局"}
    assert len(data.activities) == 2
    assert len(data.units) == 1
    assert len(data.members) == 2
    assert data.discipline.empty
    assert "category" in data.discipline.columns
    assert data.activities["presenter"].tolist() == ["党委书记", "党员"]
    assert str(data.activities["date"].dtype) == "datetime64[ns]"
    assert str(data.activities["expected"].dtype) == "Int64"
    assert data.activities["_row"].tolist() == [2, 4]
    # One part per unit and table: a unit's notebook opens no file holding another unit's rows.
    parts = read_meta(out)["parts"]["activities"]
    for unit in ("甲局", "乙局"):
        rows = read_part(out / "activities" / parts[unit]).column("unit").to_pylist()
        assert set(rows) == {unit}
    with pytest.raises(UsageError):
        load_unit(out, "丁局")


def test_dataset_does_not_need_the_workbooks(write_xlsx, tmp_path):
    path = _two_unit_workbook(write_xlsx)
    out = tmp_path / "ds"
    ingest_to_dataset([path], out)
    path.unlink()
    assert len(load_unit(out, "乙局").activities) == 2


def test_fingerprint_changes_only_with_that_units_values(write_xlsx, tmp_path):
    out = tmp_path / "ds"
    ingest_to_dataset([_two_unit_workbook(write_xlsx)], out)
    before = {u: unit_fingerprint(out, u) for u in ("甲局", "乙局")}
    assert before == {u: unit_fingerprint(out, u) for u in ("甲局", "乙局")}
    ingest_to_dataset([_two_unit_workbook(write_xlsx, name="log.xlsx", topic="新主题")], out)
    after = {u: unit_fingerprint(out, u) for u in ("甲局", "乙局")}
    assert after["甲局"] != before["甲局"]
    assert after["乙局"] == before["乙局"]
    # Same values from a differently named file: provenance is not part of the fingerprint.
    ingest_to_dataset([_two_unit_workbook(write_xlsx, name="other.xlsx", topic="新主题")], out)
    assert unit_fingerprint(out, "乙局") == before["乙局"]


def test_ingest_is_cached_on_file_content(write_xlsx, tmp_path, monkeypatch):
    path = _two_unit_workbook(write_xlsx)
    out = tmp_path / "ds"
    first = ingest_to_dataset([path], out)
    stamp = (out / "meta.json").stat().st_mtime_ns
    assert read_meta(out)["sources"][0]["sha256"]

    def no_parse(*args, **kwargs):
        raise AssertionError("the workbook was parsed again")

    monkeypatch.setattr(dataset_module, "read_workbooks", no_parse)
    again = ingest_to_dataset([path], out)
    assert (out / "meta.json").stat().st_mtime_ns == stamp
    assert again.units == first.units
    assert again.summary() == first.summary()
    assert [i.message for i in again.warnings] == [i.message for i in first.warnings]
    with pytest.raises(AssertionError, match="parsed again"):
        ingest_to_dataset([path], out, force=True)
    with pytest.raises(AssertionError, match="parsed again"):
        ingest_to_dataset([path], out, extra_types={"读书班": []})
    monkeypatch.undo()
    _two_unit_workbook(write_xlsx, topic="改过")  # same name, new content
    ingest_to_dataset([path], out)
    assert (out / "meta.json").stat().st_mtime_ns != stamp


def test_cached_result_keeps_warnings(write_xlsx, tmp_path):
    path = write_xlsx("w.xlsx", {"活动台账": [[*HEADER, "额外"], [*act(), "x"]]})
    out = tmp_path / "ds"
    first = ingest_to_dataset([path], out)
    second = ingest_to_dataset([path], out)
    assert first.warnings
    assert second.warnings == first.warnings
    assert json.loads((out / "meta.json").read_text(encoding="utf-8"))["warnings"]


def test_nothing_written_on_errors(write_xlsx, tmp_path):
    bad = write_xlsx("bad.xlsx", {"活动台账": [HEADER, act(kind="不存在")]})
    out = tmp_path / "ds"
    with pytest.raises(ValidationFailed) as caught:
        ingest_to_dataset([bad], out)
    assert caught.value.issues[0].row == 2
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xlsx"]
    # An existing dataset survives a failed ingest untouched.
    good = _two_unit_workbook(write_xlsx)
    ingest_to_dataset([good], out)
    before = files_of(out)
    with pytest.raises(ValidationFailed):
        ingest_to_dataset([bad], out)
    assert files_of(out) == before


def test_crash_while_writing_leaves_the_old_dataset(write_xlsx, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    ingest_to_dataset([_two_unit_workbook(write_xlsx)], out)
    before = files_of(out)
    calls = []

    def crash(table, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        path.write_bytes(b"partial")

    monkeypatch.setattr(dataset_module, "write_part", crash)
    with pytest.raises(Exception, match="写入数据集"):
        ingest_to_dataset([_two_unit_workbook(write_xlsx, topic="新")], out)
    assert files_of(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "log.xlsx"]


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(write_xlsx, tmp_path):
    path = _two_unit_workbook(write_xlsx)
    with pytest.raises(Exception, match="不是 reportkit 数据集"):
        ingest_to_dataset([path], tmp_path)
    assert path.exists()
