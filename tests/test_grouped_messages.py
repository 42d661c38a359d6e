"""The terminal groups the same problem over row ranges; --json still lists every cell.

Also: formula cells that were never calculated (a workbook written by a program) get their own
message, one line per column.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from reportkit.data.ingest import UNCACHED_FORMULA, read_workbooks
from reportkit.data.messages import MAX_LINES, row_ranges
from tests.test_bad_input import HEADER, TITLE, act, reportkit, xlsx


def issue_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("错误：", "警告："))]


def test_row_ranges() -> None:
    assert row_ranges([12, 6, 7, 8, 9]) == "6–9、12"
    assert row_ranges([3]) == "3"
    assert row_ranges([5, 5, 6]) == "5–6"
    assert row_ranges(range(2, 100, 2), limit=3) == "2、4、6 等"


def test_500_bad_rows_are_a_few_lines_and_json_lists_all_500(tmp_path: Path) -> None:
    """Rows 3–502 hold 500 bad cells: dates that do not exist (two spellings) in 400 rows,
    text counts in 100 rows, all in one block but for row 102."""
    rows: list[list] = [TITLE, HEADER]
    for i in range(500):
        if i % 5 == 4:
            rows.append(act(应到人数="十"))
        else:
            rows.append(act(日期="2019-02-30" if i % 2 else "2019年2月31日"))
    rows.insert(102, act())  # a good row at Excel row 103 splits the ranges
    path = xlsx(tmp_path / "many.xlsx", {"活动台账": rows})
    proc = reportkit("validate", path, cwd=tmp_path)
    assert proc.returncode == 1
    lines = issue_lines(proc.stderr)
    assert len(lines) == 2, proc.stderr
    date_line = next(line for line in lines if "「日期」列" in line)
    assert date_line.startswith(f"错误：{path}，工作表「活动台账」，第 3–6、8–11、13–16")
    assert "行，「日期」列：日期不存在（请检查月份和日）（共 400 处，值如 " in date_line
    assert "2019-02-30" in date_line and "2019年2月31日" in date_line
    count_line = next(line for line in lines if "「应到人数」列" in line)
    assert count_line.startswith(f"错误：{path}，工作表「活动台账」，第 7、12、17、")
    assert "（共 100 处，值：十）" in count_line
    assert proc.stderr.splitlines()[-1] == (
        "reportkit：台账校验发现 500 处错误，未生成报告。请按提示修改后重试。"
    )

    proc = reportkit("validate", "--json", path, cwd=tmp_path)
    issues = json.loads(proc.stdout)
    assert len(issues) == 500
    cells = {(i["row"], i["column"]) for i in issues}
    assert len(cells) == 500 and (103, "日期") not in cells
    assert {r for r, c in cells if c == "应到人数"} == {
        r + 3 + (r >= 100) for r in range(500) if r % 5 == 4
    }


def test_at_most_50_lines_then_a_count_and_a_pointer(tmp_path: Path) -> None:
    """60 different messages (实到 above 应到 names the 应到 figure) and a warning."""
    rows = [HEADER + ["额外列"]]
    rows += [act(应到人数=n, 实到人数=n + 1) + ["x"] for n in range(1, 61)]
    path = xlsx(tmp_path / "sixty.xlsx", {"活动台账": rows})
    for command in (["validate"], ["run", "--out", "OUT"]):
        proc = reportkit(*command, path, cwd=tmp_path)
        assert proc.returncode == 1
        lines = issue_lines(proc.stderr)
        assert len(lines) == MAX_LINES
        assert all(line.startswith("错误：") for line in lines)  # errors before warnings
        assert "实到人数大于应到人数（50）" in lines[-1]
        more = proc.stderr.splitlines()[-2]
        assert more.startswith("……另有 11 条（11 处）未显示。完整列表：")
        assert "reportkit validate --json" in more and "--annotate" in more


def test_uncalculated_formulas_get_their_own_message_once_per_column(tmp_path: Path) -> None:
    """openpyxl writes formulas with no cached value, as any program does that never runs Excel."""
    rows = [TITLE, HEADER]
    rows += [act(日期=f"=DATE(2019,3,{day})", 应到人数="=5+5") for day in range(1, 21)]
    rows.append(act(日期=dt.date(2019, 4, 1)))  # a typed value in between
    rows += [act(日期="=DATE(2019,5,1)")]
    path = xlsx(tmp_path / "generated.xlsx", {"活动台账": rows})
    proc = reportkit("validate", path, cwd=tmp_path)
    assert proc.returncode == 1
    lines = issue_lines(proc.stderr)
    assert len(lines) == 2, proc.stderr
    date_line, count_line = lines
    assert date_line.startswith(f"错误：{path}，工作表「活动台账」，第 3–22、24 行，「日期」列：")
    assert count_line.startswith(f"错误：{path}，工作表「活动台账」，第 3–22 行，「应到人数」列：")
    for line in lines:
        assert "单元格是公式，但文件中没有它的计算结果" in line
        assert "程序生成" in line and "Excel/WPS" in line
        assert "请用 Excel 或 WPS 打开该文件，保存后再试" in line
    assert "共 21 处" in date_line and "=DATE(2019,3,1)" in date_line
    assert "共 20 处，值：=5+5" in count_line
    assert "为空" not in proc.stderr  # the old, false "必填项「日期」为空"

    issues = json.loads(reportkit("validate", "--json", path, cwd=tmp_path).stdout)
    assert len(issues) == 41
    assert {(i["row"], i["value"]) for i in issues if i["column"] == "日期"} == {
        *((r + 2, f"=DATE(2019,3,{r})") for r in range(1, 21)),
        (24, "=DATE(2019,5,1)"),
    }


def test_an_uncalculated_title_above_the_header_is_only_a_warning(tmp_path: Path) -> None:
    """A title is no data: a formula there cannot change a figure, so it never stops a run."""
    path = xlsx(tmp_path / "title.xlsx", {"活动台账": [['="2019年"&"台账"'], HEADER, act()]})
    result = read_workbooks([path])
    assert not result.errors
    (warning,) = result.warnings
    assert (warning.row, warning.column, warning.value) == (1, "A 列", '="2019年"&"台账"')
    assert warning.message == UNCACHED_FORMULA
