"""Bad input: a corpus of generated files, each run through the real console script.

Every case is a real file that this module writes (openpyxl, the demo's streaming writer,
zipfile, msoffcrypto or raw bytes) and then feeds, as a user would, to both
`reportkit validate FILE` and `reportkit run FILE --out OUT --formats html`. For each case:

* the exit code is 1 for bad data and 2 for wrong usage;
* stderr holds a Chinese message that names the file, and the sheet, the Excel row and the column
  where a cell is at fault (checked against the exact line prefix reportkit prints);
* stderr holds no traceback (only `--debug` shows one);
* nothing is written: OUT does not exist afterwards, and neither does the dataset cache.

Exit codes, decided once for every command:
* 2 (usage): the command line itself is wrong: no PATHS for validate, an unknown option, an option
  value out of range, an unknown output format, an unreadable parameter value.
* 1 (data): everything about the files named on the command line, including a path that does not
  exist, a FIFO or a file that cannot be read. These are reported like bad cells, in the same
  list, so one run names every problem in every file at once. (A folder means the workbooks in
  it, and an empty one is a usage error: tests/test_sources.py.)
* 0: warnings only (a unit missing from 单位信息, the same unit in two files, exact duplicate
  rows). Warnings never stop a run; the issue's "exit 1" applies to the error cases.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from reportkit.cli import main
from reportkit.data.dataset import load_tables
from reportkit.data.demo import _SheetSpec
from reportkit.data.demo import write_xlsx as write_fast_xlsx
from reportkit.data.schema import ACTIVITIES
from tests.conftest import write_workbook

BIN = Path(sys.executable).parent
REPORTKIT = BIN / "reportkit"
CHINESE = re.compile(r"[\u4e00-\u9fff]")

HEADER = [column.header for column in ACTIVITIES.columns]
COLUMN = {name: i for i, name in enumerate(HEADER)}
UNIT_HEADER = ["单位", "党组织名称", "机关工作人员总数", "专职党务工作人员数"]
MEMBER_HEADER = ["姓名", "单位", "党支部", "党员类别", "党内职务", "是否专职党务"]
DISCIPLINE_HEADER = ["日期", "单位", "党支部", "类别", "对象", "事由"]
TITLE = ["2019年度党建工作台账"]


def act(**changes: Any) -> list[Any]:
    """One good activity row in HEADER order; keyword arguments replace columns by header."""
    row: list[Any] = [dt.date(2019, 3, 5), "甲局", "一支部", "主题党日", "学习党章", 10, 9, 1.5]
    row += [None, None]
    for name, value in changes.items():
        row[COLUMN[name]] = value
    return row


xlsx = write_workbook


def patch_cells(path: Path, cells: Mapping[str, str]) -> Path:
    """Replace whole <c> elements in the first sheet's XML, e.g. with a formula and its cached
    value as Excel saves them (openpyxl itself writes formulas without cached values)."""
    data = {}
    with zipfile.ZipFile(path) as archive:
        for item in archive.infolist():
            data[item.filename] = archive.read(item.filename)
    sheet = data["xl/worksheets/sheet1.xml"]
    for ref, element in cells.items():
        pattern = re.compile(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', re.S)
        sheet, count = pattern.subn(element.encode(), sheet)
        assert count == 1, f"cell {ref} not found"
    data["xl/worksheets/sheet1.xml"] = sheet
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in data.items():
            archive.writestr(name, content)
    return path


def log_with_bad_row(bad: list[Any]) -> dict[str, list[Any]]:
    """A title row, the header (row 2), one good row (row 3) and the bad one at Excel row 4."""
    return {"活动台账": [TITLE, HEADER, act(), bad]}


# --------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class Where:
    """Where an issue must be reported, and a fragment of its Chinese message."""

    file: str  # the file's name; the full path is what reportkit prints
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    severity: str = "错误"


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], list[Path]]  # writes the case's files into a folder
    expect: tuple[Where, ...]
    exit_code: int = 1


def _one(name: str, build: Callable[[Path], Any]) -> Callable[[Path], list[Path]]:
    def make(folder: Path) -> list[Path]:
        path = folder / name
        build(path)
        return [path]

    return make


def _sheets(name: str, sheets: Mapping[str, Any], merge: Any = None) -> Callable:
    return _one(name, lambda p: xlsx(p, sheets, merge))


def _good_bytes() -> bytes:
    buffer = io.BytesIO()
    book = Workbook()
    book.active.title = "活动台账"
    for row in (HEADER, act(), act(活动类型="党课")):
        book.active.append(row)
    book.save(buffer)
    return buffer.getvalue()


def _encrypted(path: Path) -> None:
    """A genuinely password-protected .xlsx (ECMA-376 agile encryption), as Excel saves one."""
    msoffcrypto = pytest.importorskip("msoffcrypto", reason="msoffcrypto-tool is not installed")
    from msoffcrypto.format.ooxml import OOXMLFile

    with path.open("wb") as out:
        OOXMLFile(io.BytesIO(_good_bytes())).encrypt("密码123", out)
    assert msoffcrypto.olefile.isOleFile(str(path))


def _not_a_workbook_zip(path: Path) -> None:
    """A Word document's skeleton saved under an .xlsx name: a valid zip, not a workbook."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")


def _hundred_thousand_rows(path: Path) -> None:
    """100,000 distinct good rows (Excel rows 2..100,001) and one bad date in the last row."""
    start = dt.date(2018, 1, 1)
    rows: list[list[Any]] = [HEADER]
    for i in range(100_000):
        day = start + dt.timedelta(days=i % 2500)
        rows.append(
            [day, f"单位{i % 7}", f"第{i % 13}支部", "主题党日", f"学习{i}", 10, 9, 1.5, None, None]
        )
    rows[-1][0] = "2019-13-45"
    write_fast_xlsx(path, [_SheetSpec("活动台账", rows, 1, [12] * len(HEADER))])


def _megabyte_cell(path: Path) -> None:
    """openpyxl cuts text at Excel's 32,767 characters; the demo's writer does not."""
    rows = [HEADER, act(), act(主题="长" * 1_000_000)]
    write_fast_xlsx(path, [_SheetSpec("活动台账", rows, 1, [12] * len(HEADER))])


def _formulas(path: Path) -> None:
    """Formulas whose cached results are Excel error values, as a saved workbook holds them."""
    rows = {"活动台账": [TITLE, HEADER, act(), act(日期="X"), act(应到人数="X")]}
    xlsx(path, rows)
    patch_cells(
        path,
        {
            "A4": '<c r="A4" t="e"><f>#REF!+1</f><v>#REF!</v></c>',
            "F5": '<c r="F5" t="e"><f>10/0</f><v>#DIV/0!</v></c>',
        },
    )


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _units_twice(path: Path) -> None:
    xlsx(
        path,
        {
            "活动台账": [HEADER, act()],
            "单位信息": [UNIT_HEADER, ["甲局", None, 100, 1], ["甲局", None, 120, 2]],
        },
    )


def _good_and_bad(folder: Path) -> list[Path]:
    good = xlsx(folder / "good.xlsx", {"活动台账": [HEADER, act(), act(单位="乙局")]})
    bad = xlsx(folder / "bad.xlsx", {"活动台账": [HEADER, act(), act(活动类型="打篮球")]})
    return [good, bad]


def _value_case(
    id: str, column: str, value: Any, message: str
) -> Case:  # one wrong value kind at Excel row 4
    return Case(
        id,
        _sheets(f"{id}.xlsx", log_with_bad_row(act(**{column: value}))),
        (Where(f"{id}.xlsx", message, "活动台账", 4, column),),
    )


def _roster_case(id: str, sheet: str, rows: list[list[Any]], column: str, message: str) -> Case:
    header = MEMBER_HEADER if sheet == "党员名册" else DISCIPLINE_HEADER
    sheets = {"活动台账": [HEADER, act()], sheet: [header, *rows]}
    return Case(
        id,
        _sheets(f"{id}.xlsx", sheets),
        (Where(f"{id}.xlsx", message, sheet, 1 + len(rows), column),),
    )


CASES: list[Case] = [
    # -- files that are not workbooks ------------------------------------------------------
    Case(
        "empty_file",
        _one("empty.xlsx", lambda p: p.write_bytes(b"")),
        (Where("empty.xlsx", "文件是空的"),),
    ),
    Case(
        "random_bytes",
        _one("random.xlsx", lambda p: p.write_bytes(random.Random(1).randbytes(4096))),
        (Where("random.xlsx", "不是有效的工作簿"),),
    ),
    Case(
        "html_saved_as_xls",
        _one(
            "export.xls",
            lambda p: p.write_text(
                "<html><table><tr><td>日期</td></tr></table></html>", encoding="utf-8"
            ),
        ),
        (Where("export.xls", "网页"),),
    ),
    Case(
        "truncated_xlsx",
        _one("cut.xlsx", lambda p: p.write_bytes(_good_bytes()[:1500])),
        (Where("cut.xlsx", "已损坏"),),
    ),
    Case(
        "zip_that_is_no_workbook",
        _one("word.xlsx", _not_a_workbook_zip),
        (Where("word.xlsx", "已损坏"),),
    ),
    Case(
        "workbook_renamed_csv",
        _one("log.csv", lambda p: p.write_bytes(_good_bytes())),
        (Where("log.csv", "内容是 Excel 工作簿"),),
    ),
    Case(
        "csv_text",
        _one("log.csv", lambda p: p.write_text("日期,单位\n2019-03-05,甲局\n", encoding="utf-8")),
        (Where("log.csv", "另存为"),),
    ),
    Case(
        "unsupported_suffix",
        _one("log.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n")),
        (Where("log.pdf", "不支持的文件类型"),),
    ),
    Case("encrypted_xlsx", _one("secret.xlsx", _encrypted), (Where("secret.xlsx", "已加密"),)),
    # -- paths that are no readable file -----------------------------------------------------
    Case(
        "path_does_not_exist",
        lambda folder: [folder / "missing.xlsx"],
        (Where("missing.xlsx", "文件不存在"),),
    ),
    Case("path_is_a_fifo", _one("pipe.xlsx", _fifo), (Where("pipe.xlsx", "不是普通文件"),)),
    # -- sheets and headers --------------------------------------------------------------------
    Case(
        "no_known_sheet",
        _sheets("sheet1.xlsx", {"Sheet1": [["序号", "情况"], [1, "x"]]}),
        (Where("sheet1.xlsx", "没有可识别的工作表"),),
    ),
    Case(
        "no_header_row",
        _sheets("noheader.xlsx", {"活动台账": [TITLE, ["序号", "情况"], [1, "x"]]}),
        (Where("noheader.xlsx", "找不到表头", "活动台账"),),
    ),
    Case(
        "missing_required_column",
        _sheets(
            "missing.xlsx", {"活动台账": [TITLE, ["日期", "单位", "主题"], act()[:2] + ["学习"]]}
        ),
        (Where("missing.xlsx", "缺少必填列 「活动类型」", "活动台账", 2),),
    ),
    Case(
        "duplicate_columns",
        _sheets("dup.xlsx", {"活动台账": [HEADER + ["活动日期"], act() + [dt.date(2019, 3, 6)]]}),
        (Where("dup.xlsx", "都对应「日期」", "活动台账", 1, "活动日期"),),
    ),
    # -- every wrong value kind, at Excel row 4 ---------------------------------------------------
    _value_case("date_unreadable", "日期", "明天", "无法识别的日期"),
    _value_case("date_nonexistent", "日期", "2019-02-30", "日期不存在"),
    _value_case("date_time_only", "日期", dt.time(14, 30), "只有时间"),
    _value_case("date_year_only", "日期", 2019, "只填了年份"),
    _value_case("date_boolean", "日期", True, "不是日期"),
    _value_case("date_in_1900", "日期", dt.date(1900, 1, 1), "超出 1950–2099 年"),
    _value_case("date_in_2100", "日期", dt.date(2100, 6, 1), "超出 1950–2099 年"),
    _value_case("count_text", "应到人数", "十人", "不是数字"),
    _value_case("count_fraction", "应到人数", 9.5, "不是整数"),
    _value_case("count_negative", "应到人数", -3, "不能为负数"),
    _value_case("hours_text", "时长", "两小时", "不是数字"),
    _value_case("present_above_expected", "实到人数", 12, "实到人数大于应到人数"),
    _value_case("activity_type_unknown", "活动类型", "主题党曰", "是否应为「主题党日」"),
    _value_case("required_value_blank", "单位", None, "必填项「单位」为空"),
    _roster_case(
        "member_category_unknown",
        "党员名册",
        [["某甲", "甲局", "一支部", "积极分子", None, "否"]],
        "党员类别",
        "未知的党员类别",
    ),
    _roster_case(
        "yes_no_unknown",
        "党员名册",
        [["某甲", "甲局", "一支部", "正式党员", None, "可能"]],
        "是否专职党务",
        "「是」或「否」",
    ),
    _roster_case(
        "discipline_category_unknown",
        "奖惩记录",
        [[dt.date(2019, 5, 1), "甲局", None, "记大功", "某乙", "x"]],
        "类别",
        "未知的奖惩类别",
    ),
    Case(
        "unit_listed_twice_with_different_figures",
        _one("units.xlsx", _units_twice),
        (Where("units.xlsx", "列出两次且数据不同", "单位信息", 3),),
    ),
    # -- layout and formulas ---------------------------------------------------------------------
    Case(
        "merged_cells_across_data_rows",
        _sheets(
            "merged.xlsx",
            {"活动台账": [TITLE, HEADER, act(), act(日期=None), act(日期=None)]},
            {"活动台账": ["A3:A5"]},
        ),
        (Where("merged.xlsx", "合并单元格 A3:A5", "活动台账", 4, "日期"),),
    ),
    Case(
        "formula_error_values",
        _one("formulas.xlsx", _formulas),
        (
            Where("formulas.xlsx", "#REF!", "活动台账", 4, "日期"),
            Where("formulas.xlsx", "#DIV/0!", "活动台账", 5, "应到人数"),
        ),
    ),
    # -- size ---------------------------------------------------------------------------------
    Case(
        "hundred_thousand_rows_bad_last_cell",
        _one("big.xlsx", _hundred_thousand_rows),
        (Where("big.xlsx", "日期不存在", "活动台账", 100_001, "日期"),),
    ),
    Case(
        "megabyte_text_cell",
        _one("long.xlsx", _megabyte_cell),
        (Where("long.xlsx", "内容过长（1000000 个字符）", "活动台账", 3, "主题"),),
    ),
    # -- several files: the bad one is named, the good one produces nothing either -------------
    Case(
        "one_good_one_bad_file",
        _good_and_bad,
        (Where("bad.xlsx", "未知的活动类型", "活动台账", 3, "活动类型"),),
    ),
]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Case], list[Path]]:
    """Each case's files, written once per module (the 100,000-row one takes a few seconds)."""
    root = tmp_path_factory.mktemp("corpus")
    cache: dict[str, list[Path]] = {}

    def build(case: Case) -> list[Path]:
        if case.id not in cache:
            folder = root / case.id
            folder.mkdir()
            cache[case.id] = case.make(folder)
        return cache[case.id]

    return build


def reportkit(*args: str | Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real console script, as a user runs it."""
    if not REPORTKIT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    return subprocess.run(
        [str(REPORTKIT), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def prefix(where: Where, paths: Sequence[Path]) -> str:
    """The exact start of the line reportkit prints for an issue (see errors.Issue.__str__)."""
    path = next(str(p) for p in paths if p.name == where.file)
    parts = [path]
    if where.sheet:
        parts.append(f"工作表「{where.sheet}」")
    if where.row is not None:
        parts.append(f"第 {where.row} 行")
    if where.column:
        parts.append(f"「{where.column}」列")
    return f"{where.severity}：{'，'.join(parts)}："


def assert_named(stderr: str, case: Case, paths: Sequence[Path]) -> None:
    lines = stderr.splitlines()
    for where in case.expect:
        start = prefix(where, paths)
        hits = [line for line in lines if line.startswith(start) and where.message in line]
        assert hits, f"no line starts with {start!r} and holds {where.message!r}:\n{stderr}"


def assert_clean_failure(proc: subprocess.CompletedProcess, case: Case) -> None:
    assert proc.returncode == case.exit_code, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert CHINESE.search(proc.stderr), proc.stderr
    assert len(proc.stderr) < 20_000  # a 1 MB cell or 100,000 rows never flood the terminal


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_names_the_problem(case: Case, built, tmp_path: Path) -> None:
    paths = built(case)
    proc = reportkit("validate", *paths, cwd=tmp_path)
    assert_clean_failure(proc, case)
    assert_named(proc.stderr, case, paths)
    errors = sum(1 for line in proc.stderr.splitlines() if line.startswith("错误："))
    assert proc.stderr.splitlines()[-1] == (
        f"reportkit：台账校验发现 {errors} 处错误，未生成报告。请按提示修改后重试。"
    )
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []  # validate writes nothing


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_run_writes_nothing(case: Case, built, tmp_path: Path) -> None:
    paths = built(case)
    proc = reportkit(
        "run", *paths, "--out", "OUT", "--formats", "html", "--cache-dir", "cache", cwd=tmp_path
    )
    assert_clean_failure(proc, case)
    assert_named(proc.stderr, case, paths)
    out = tmp_path / "OUT"
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "cache").exists()  # no dataset cache either
    assert "完成" not in proc.stdout


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_validate_json_gives_the_exact_cell(case: Case, built) -> None:
    """`validate --json` (in process): the same places as structured fields."""
    paths = built(case)
    result = CliRunner().invoke(main, ["validate", "--json", *map(str, paths)])
    assert result.exit_code == 1, result.output
    issues = json.loads(result.stdout)
    for where in case.expect:
        path = next(str(p) for p in paths if p.name == where.file)
        place = {"file": path, "sheet": where.sheet, "row": where.row, "column": where.column}
        hits = [i for i in issues if {k: i[k] for k in place} == place]
        assert any(where.message in i["message"] for i in hits), (place, issues)


def test_long_values_are_clipped_in_messages(built) -> None:
    case = next(c for c in CASES if c.id == "megabyte_text_cell")
    result = CliRunner().invoke(main, ["validate", "--json", *map(str, built(case))])
    (issue,) = json.loads(result.stdout)
    assert issue["value"].startswith("长" * 80) and issue["value"].endswith("（共 1000000 个字符）")
    assert len(issue["value"]) < 120


# --------------------------------------------------------------------------------------------
# Usage errors: exit 2, no traceback, the offending option named


USAGE = [
    pytest.param(["validate"], "PATHS", id="validate_without_paths"),
    pytest.param(["validate", "--no-such-option", "GOOD"], "--no-such-option", id="unknown_option"),
    pytest.param(["validat", "GOOD"], "validat", id="unknown_command"),
    pytest.param(["run", "GOOD", "--jobs", "-1"], "--jobs", id="jobs_out_of_range"),
    pytest.param(["run", "GOOD", "--formats", "gif"], "不支持的输出格式：gif", id="unknown_format"),
    pytest.param(["run", "GOOD", "--period-start", "明年"], "不是有效日期", id="bad_period_date"),
    *(
        pytest.param(
            ["run", "GOOD", "--period-start", day],
            "不是有效日期",
            id=f"impossible_period_date_{day}",
        )
        for day in ("2019-13-01", "2019-02-30")
    ),
    pytest.param(
        ["run", "GOOD", "--period-start", "2020-01-01", "--period-end", "2019-01-01"],
        "参数 period.end（-p period.end）：2019-01-01 早于 period.start",
        id="period_ends_before_it_starts",
    ),
    pytest.param(["run", "GOOD", "-p", ".", "x"], "参数名为空", id="empty_parameter_name"),
    pytest.param(["run", "GOOD", "--params", "nope.yaml"], "参数文件不存在", id="no_params_file"),
]


@pytest.mark.parametrize(("args", "named"), USAGE)
def test_usage_errors_exit_2(args: list[str], named: str, tmp_path: Path) -> None:
    good = xlsx(tmp_path / "good.xlsx", {"活动台账": [HEADER, act()]})
    args = [str(good) if a == "GOOD" else a for a in args]
    proc = reportkit(*args, "--out", "OUT", cwd=tmp_path) if args[0] == "run" else None
    if proc is None:
        proc = reportkit(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert named in proc.stderr
    if CHINESE.search(named):  # reportkit's own usage errors are Chinese; click's are English
        assert proc.stderr.startswith("reportkit：")
    assert not (tmp_path / "OUT").exists()


# --------------------------------------------------------------------------------------------
# Files that cannot be read: a permission error where it is raised


def test_permission_denied_is_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, for whom chmod 000 blocks nothing, and the venv's interpreter is not
    reachable by an unprivileged user here; so the open() itself is made to fail in process, the
    way Windows does for a workbook open in Excel (a sharing violation) and Unix for mode 000."""
    path = xlsx(tmp_path / "locked.xlsx", {"活动台账": [HEADER, act()]})
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    monkeypatch.chdir(tmp_path)
    for args in (["validate", str(path)], ["run", str(path), "--out", "OUT"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert f"错误：{path}：没有读取该文件的权限" in result.stderr
        assert "Traceback" not in result.output
        assert not (tmp_path / "OUT").exists() and not (tmp_path / "build").exists()


# --------------------------------------------------------------------------------------------
# --debug: a traceback for an internal error, and only with --debug

INTERNAL_ERROR = textwrap.dedent(
    """
    import sys
    import reportkit.data.ingest as ingest

    def boom(self, path):
        raise RuntimeError("boom in ingest")

    ingest._Reader.read_file = boom
    from reportkit.cli import main
    sys.argv = ["reportkit", *sys.argv[1:]]
    main()
    """
)


def test_internal_error_shows_a_traceback_only_with_debug(tmp_path: Path) -> None:
    good = xlsx(tmp_path / "good.xlsx", {"活动台账": [HEADER, act()]})

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", INTERNAL_ERROR, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    quiet = call("run", str(good), "--out", "OUT")
    assert quiet.returncode == 1
    assert "内部错误" in quiet.stderr and "--debug" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = call("--debug", "run", str(good), "--out", "OUT")
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr and "RuntimeError: boom in ingest" in loud.stderr
    assert not (tmp_path / "OUT").exists()


def test_debug_shows_the_traceback_of_a_data_error(built, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "empty_file")
    proc = reportkit("--debug", "validate", *built(case), cwd=tmp_path)
    assert proc.returncode == 1  # validate reports errors itself, --debug changes nothing
    assert "Traceback" not in proc.stderr
    proc = reportkit("--debug", "run", *built(case), "--out", "OUT", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ValidationFailed" in proc.stderr
    assert not (tmp_path / "OUT").exists()


# --------------------------------------------------------------------------------------------
# Warnings only: exit 0, every warning placed, and the rows still count


def _two_files(folder: Path) -> list[Path]:
    a = xlsx(
        folder / "a.xlsx",
        {
            "活动台账": [HEADER, act(), act(活动类型="党课"), act(日期=dt.date(2019, 4, 2))],
            "单位信息": [UNIT_HEADER, ["甲局", None, 100, 1]],
        },
    )
    b = xlsx(
        folder / "b.xlsx",
        {
            "活动台账": [
                ["乙表"],
                HEADER,
                act(日期=dt.date(2019, 5, 7)),
                act(活动类型="党课"),  # the same as a.xlsx row 3
                act(日期=dt.date(2019, 6, 4), 党支部="二支部"),
            ]
        },
    )
    return [a, b]


def test_unit_missing_from_units_sheet_is_a_warning(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "log.xlsx",
        {
            "活动台账": [HEADER, act(), act(单位="丙局")],
            "单位信息": [UNIT_HEADER, ["甲局", None, 100, 1]],
        },
    )
    proc = reportkit("validate", path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"警告：{path}，工作表「活动台账」，第 3 行：单位「丙局」出现在活动台账中" in proc.stderr
    assert "Traceback" not in proc.stderr and "错误" not in proc.stderr
    assert "共 2 个单位" in proc.stdout


def test_same_unit_in_two_files_rows_merge_and_duplicates_are_warned(tmp_path: Path) -> None:
    a, b = _two_files(tmp_path)
    proc = reportkit("validate", a, b, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (
        f"警告：{b}，工作表「活动台账」，第 4 行：与 {a} 工作表「活动台账」第 3 行完全相同，"
        "可能重复登记"
    ) in proc.stderr
    assert "活动台账 6 行" in proc.stdout and "共 1 个单位" in proc.stdout
    proc = reportkit("ingest", a, b, "--out", "ds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = load_tables(tmp_path / "ds")["activities"]
    assert len(rows) == 6 and set(rows["unit"]) == {"甲局"}
    assert sorted(zip(rows["_file"], rows["_row"], strict=True)) == sorted(
        [(str(a), 2), (str(a), 3), (str(a), 4), (str(b), 3), (str(b), 4), (str(b), 5)]
    )


@pytest.mark.slow
def test_same_unit_in_two_files_counts_add_up_in_the_report(tmp_path: Path) -> None:
    """One real run (kernels and all): the unit's stats count the rows of both files."""
    a, b = _two_files(tmp_path)
    proc = reportkit(
        "run", a, b, "--out", "OUT", "--formats", "html", "--jobs", "1", cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    manifest = json.loads((tmp_path / "OUT" / "manifest.json").read_text(encoding="utf-8"))
    (unit,) = manifest["units"]
    stats = json.loads((tmp_path / "OUT" / unit["dir"] / "stats.json").read_text("utf-8"))
    assert stats["unit"] == "甲局"
    assert stats["counts"]["主题党日"] == 4 and stats["counts"]["党课"] == 2
    assert sum(stats["counts"].values()) == 6
    assert "完全相同" in (tmp_path / "OUT" / "run.log").read_text(encoding="utf-8")


def test_cached_formula_values_are_used(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "f.xlsx", {"活动台账": [HEADER, act(应到人数="X", 实到人数="X")]})
    patch_cells(
        path,
        {
            "F2": '<c r="F2"><f>SUM(3,4)</f><v>7</v></c>',
            "G2": '<c r="G2"><f>F2-1</f><v>6</v></c>',
        },
    )
    proc = reportkit("ingest", path, "--out", "ds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = load_tables(tmp_path / "ds")["activities"]
    assert (rows["expected"].iloc[0], rows["present"].iloc[0]) == (7, 6)


def test_control_characters_are_removed_from_values(tmp_path: Path) -> None:
    """Excel stores a NUL or a bell as _x0000_ / _x0007_, which calamine decodes: they never
    reach the dataset, a folder name or a DOCX (where XML forbids them)."""
    path = xlsx(tmp_path / "c.xlsx", {"活动台账": [HEADER, act(单位="UNITNAME", 主题="TOPIC")]})
    with zipfile.ZipFile(path) as archive:
        data = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    for name, content in data.items():
        content = content.replace(b"UNITNAME", b"\xe7\x94\xb2_x0000_\xe5\xb1\x80")  # 甲_x0000_局
        data[name] = content.replace(b"TOPIC", b"_x0007_\xe5\xad\xa6_x001B_\xe4\xb9\xa0")
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in data.items():
            archive.writestr(name, content)
    proc = reportkit("ingest", path, "--out", "ds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = load_tables(tmp_path / "ds")["activities"]
    assert (rows["unit"].iloc[0], rows["topic"].iloc[0]) == ("甲局", "学习")
