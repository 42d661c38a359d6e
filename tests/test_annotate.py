"""`reportkit validate --annotate`: a marked copy of each workbook, read back with openpyxl."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import python_calamine as calamine
from openpyxl import load_workbook

from reportkit.data.annotate import RED, SUMMARY_HEADER, SUMMARY_SHEET, YELLOW
from tests.test_bad_input import HEADER, TITLE, act, reportkit, xlsx

#: The five bad cells of `five_errors` and a fragment of each one's message.
FIVE = {
    "A4": "日期不存在",
    "D5": "未知的活动类型",
    "F6": "不是数字",
    "G7": "实到人数大于应到人数",
    "B8": "必填项「单位」为空",
}


def five_errors(path: Path, topic: str = "学习党章") -> Path:
    def row(**changes: object) -> list:
        return act(主题=topic, **changes)

    rows = [
        TITLE,
        HEADER,
        row(),
        row(日期="2019-02-30"),
        row(活动类型="打篮球"),
        row(应到人数="很多"),
        row(应到人数=5, 实到人数=6),
        row(单位=None),
        row(日期=dt.date(2019, 6, 1)),
    ]
    return xlsx(path, {"活动台账": rows})


def filled(sheet, color: str) -> set[str]:
    return {
        cell.coordinate
        for row in sheet.iter_rows()
        for cell in row
        if cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == color
    }


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_five(copy: Path, original: Path, issues: list[dict]) -> None:
    """Exactly the five cells red, each with its message; 校验结果 first with five links."""
    book = load_workbook(copy)
    assert book.sheetnames == [SUMMARY_SHEET, "活动台账"]
    assert book.active.title == SUMMARY_SHEET
    sheet = book["活动台账"]
    assert filled(sheet, RED) == set(FIVE) and filled(sheet, YELLOW) == set()
    comments = {c.coordinate: c.comment.text for row in sheet.iter_rows() for c in row if c.comment}
    assert set(comments) == set(FIVE)
    for ref, fragment in FIVE.items():
        assert comments[ref].startswith("错误：") and fragment in comments[ref]
    # The cells themselves hold what the analyst typed.
    before = load_workbook(original)["活动台账"]
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [
        [c.value for c in r] for r in before.iter_rows()
    ]

    summary = book[SUMMARY_SHEET]
    rows = list(summary.iter_rows(values_only=True))
    assert rows[0] == SUMMARY_HEADER and len(rows) == 6
    by_message = {i["message"]: i for i in issues}
    for number, row in enumerate(summary.iter_rows(min_row=2), start=1):
        values = [c.value for c in row]
        assert values[0] == number and values[1] == "错误" and values[2] == "活动台账"
        ref, issue = values[3], by_message[values[7]]
        assert (values[4], values[5]) == (issue["row"], issue["column"])
        assert FIVE[ref] in values[7]
        assert row[3].hyperlink.location == f"'活动台账'!{ref}"
    assert {r[3] for r in rows[1:]} == set(FIVE)


def test_five_bad_cells_are_marked_and_listed(tmp_path: Path) -> None:
    original = five_errors(tmp_path / "data" / "log.xlsx")
    before, mtime = digest(original), original.stat().st_mtime_ns
    proc = reportkit("validate", "data", "--annotate", "checked", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "已生成标注副本：checked/log.校验.xlsx（错误 5 处，警告 0 处）"
    assert (digest(original), original.stat().st_mtime_ns) == (before, mtime)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["log.xlsx"]
    issues = json.loads(reportkit("validate", "--json", original, cwd=tmp_path).stdout)
    assert len(issues) == 5
    check_five(tmp_path / "checked" / "log.校验.xlsx", original, issues)


def test_warnings_are_yellow_and_a_clean_workbook_loses_its_stale_copy(tmp_path: Path) -> None:
    rows = [HEADER + ["额外列"], act() + ["x"]]
    path = xlsx(tmp_path / "w.xlsx", {"活动台账": rows})
    proc = reportkit("validate", path, "--annotate", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # warnings alone
    copy = tmp_path / "out" / "w.校验.xlsx"
    sheet = load_workbook(copy)["活动台账"]
    assert filled(sheet, YELLOW) == {"K1"} and filled(sheet, RED) == set()
    assert sheet["K1"].comment.text.startswith("警告：未知的列")

    xlsx(path, {"活动台账": [HEADER, act()]})  # fixed; a period the one-row log covers
    period = ["-p", "period.start", "2019-03-05", "-p", "period.end", "2019-03-05"]
    proc = reportkit("validate", path, "--annotate", "out", *period, cwd=tmp_path)
    assert proc.returncode == 0
    assert "已无问题，已删除旧的标注副本" in proc.stdout
    assert not copy.exists()


def test_merged_cells_formulas_and_two_sheets(tmp_path: Path) -> None:
    """A merged range is marked at its top-left cell; a formula quoted in 校验结果 stays text;
    links reach the right sheet."""
    path = xlsx(
        tmp_path / "m.xlsx",
        {
            "活动台账": [HEADER, act(), act(), act(日期="=DATE(2019,3,5)")],
            "活动记录": [HEADER, act(活动类型="打篮球")],
        },
        merge={"活动台账": ["B2:B3"]},
    )
    proc = reportkit("validate", path, "--annotate", "out", cwd=tmp_path)
    assert proc.returncode == 1
    book = load_workbook(tmp_path / "out" / "m.校验.xlsx")
    assert filled(book["活动台账"], RED) == {"B2", "A4"}
    assert "合并单元格 B2:B3" in book["活动台账"]["B2"].comment.text
    assert book["活动台账"]["A4"].value == "=DATE(2019,3,5)"  # the original formula, kept
    assert filled(book["活动记录"], RED) == {"D2"}
    summary = book[SUMMARY_SHEET]
    values = {row[6].value: row[6] for row in summary.iter_rows(min_row=2)}
    assert values["=DATE(2019,3,5)"].data_type == "s"  # shown as text, never evaluated
    links = {row[3].hyperlink.location for row in summary.iter_rows(min_row=2)}
    assert links == {"'活动台账'!B3", "'活动台账'!A4", "'活动记录'!D2"}


def soffice(*args: str | Path, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_copy_and_ods_input_is_copied_as_xlsx(tmp_path: Path) -> None:
    """An .ods made by LibreOffice from the five-error workbook gets the same marks as .xlsx;
    LibreOffice then converts both annotated copies (it opens them)."""
    profile = tmp_path / "lo-profile"
    original = five_errors(tmp_path / "data" / "log.xlsx")
    other = five_errors(tmp_path / "src" / "log.xlsx", topic="学习党史")  # no duplicate rows
    proc = soffice("--convert-to", "ods", "--outdir", tmp_path / "data", other, profile=profile)
    ods = tmp_path / "data" / "log.ods"
    assert ods.exists(), proc.stderr
    before = digest(ods)
    proc = reportkit("validate", "data", "--annotate", "checked", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines == [  # log.ods sorts first and takes the plain name
        "已生成标注副本：checked/log.校验.xlsx（错误 5 处，警告 0 处）；"
        "原文件为 .ods 格式，副本另存为 .xlsx，只保留单元格内容",
        "已生成标注副本：checked/log-2.校验.xlsx（错误 5 处，警告 0 处）",
    ]
    assert digest(ods) == before
    issues = json.loads(reportkit("validate", "--json", original, cwd=tmp_path).stdout)
    check_five(tmp_path / "checked" / "log.校验.xlsx", other, issues)
    check_five(tmp_path / "checked" / "log-2.校验.xlsx", original, issues)

    copies = sorted((tmp_path / "checked").glob("*.xlsx"))
    proc = soffice("--convert-to", "ods", "--outdir", tmp_path / "lo", *copies, profile=profile)
    for copy in copies:
        converted = tmp_path / "lo" / f"{copy.stem}.ods"
        assert converted.exists(), proc.stderr
        book = calamine.CalamineWorkbook.from_path(str(converted))
        assert book.sheet_names == [SUMMARY_SHEET, "活动台账"]
        listed = book.get_sheet_by_name(SUMMARY_SHEET).to_python()
        assert [row[3] for row in listed[1:]] == [*FIVE]
