"""The blank template and the demo workbook, checked as real files read back from disk."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine as calamine
import yaml

from reportkit.data.demo import (
    DEMO_PARAMS,
    DEMO_WORKBOOK,
    PERIOD_END,
    PERIOD_START,
    _SheetSpec,
    write_demo,
    write_xlsx,
)
from reportkit.data.schema import ACTIVITIES, DISCIPLINE, MEMBERS, SHEETS, UNITS, Kind
from reportkit.data.vocabulary import (
    ACTIVITY_TYPES,
    DISCIPLINE_CATEGORIES,
    MEMBER_CATEGORIES,
    YES_NO,
    activity_vocabulary,
)
from reportkit.data.workbook_template import (
    INSTRUCTIONS_SHEET,
    VOCABULARY_SHEET,
    safe_cell_value,
    write_template,
)
from reportkit.errors import UsageError

EXPECTED_LISTS = {
    Kind.ACTIVITY_TYPE: tuple(ACTIVITY_TYPES),
    Kind.DISCIPLINE_CATEGORY: tuple(DISCIPLINE_CATEGORIES),
    Kind.MEMBER_CATEGORY: tuple(MEMBER_CATEGORIES),
    Kind.YES_NO: tuple(YES_NO),
}
RANGE = re.compile(
    r"^'?(?P<sheet>[^'!]+)'?!\$(?P<col>[A-Z]+)\$(?P<first>\d+):\$[A-Z]+\$(?P<last>\d+)$"
)
JUDGED_MONTHS = 74  # 2018-11 .. 2024-12: whole months after the norms came into force


# --------------------------------------------------------------------------- helpers


def _sheet_rows(path: Path, name: str) -> list[list[Any]]:
    book = calamine.CalamineWorkbook.from_path(str(path))
    try:
        return book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    finally:
        book.close()


def _records(path: Path, name: str, marker: str) -> list[dict[str, Any]]:
    """Rows below the first row holding `marker`, as dicts keyed by header; blank rows skipped."""
    rows = _sheet_rows(path, name)
    at = next(i for i, row in enumerate(rows) if marker in row)
    header = [str(h) for h in rows[at]]
    return [
        dict(zip(header, [None if v == "" else v for v in row], strict=False))
        for row in rows[at + 1 :]
        if any(v not in (None, "") for v in row)
    ]


def _date(value: Any) -> dt.date:
    """Any date form the contract accepts, as the test's own independent parser."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float):
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    text = unicodedata.normalize("NFKC", str(value))
    y, m, d = re.match(r"\s*(\d{4})\D+(\d{1,2})\D+(\d{1,2})", text).groups()
    return dt.date(int(y), int(m), int(d))


def _activities(path: Path) -> list[dict[str, Any]]:
    vocab = activity_vocabulary()
    out = []
    for r in _records(path, ACTIVITIES.name, "活动类型"):
        out.append(
            {
                "date": _date(r["活动日期"]),
                "unit": unicodedata.normalize("NFKC", r["单位"]).strip(),
                "branch": r["党支部"] or "",
                "type": vocab.resolve(r["活动类型"]),
                "expected": r["应到人数"],
                "present": r["实到人数"],
                "presenter": r["主持人"],
            }
        )
    return out


def _fill_template(path: Path) -> None:
    """Type a few rows into the template the way an analyst would."""
    wb = openpyxl.load_workbook(path)
    unit = "国家税务总局某市税务局机关"
    log = wb[ACTIVITIES.name]
    for row in (
        [
            dt.date(2019, 3, 5),
            unit,
            None,
            "中心组学习",
            "学习贯彻党的十九届四中全会精神",
            9,
            9,
            2,
            "党委书记",
            None,
        ],
        [
            "2019年3月20日",
            unit,
            "办公室党支部",
            "主题党日",
            "重温入党誓词",
            18,
            16,
            2.5,
            "支部书记",
            None,
        ],
        [
            "2019.3.18",
            unit,
            "办公室党支部",
            "支部委员会",
            "研究3月支部工作安排",
            3,
            3,
            1,
            "支部书记",
            None,
        ],
        [
            dt.date(2019, 4, 2),
            unit,
            "办公室党支部",
            "专题党课",
            "=不是公式",
            18,
            17,
            1.5,
            "支部书记",
            "@备注",
        ],
    ):
        log.append([None] * len(row))
        for col, value in enumerate(row, start=1):
            safe_cell_value(log.cell(row=log.max_row, column=col), value)
    wb[UNITS.name].append([unit, "中共国家税务总局某市税务局机关委员会", 300, 4])
    wb[MEMBERS.name].append(["党员甲0001", unit, "办公室党支部", "正式党员", "支部书记", "否"])
    wb[MEMBERS.name].append(["党员甲0002", unit, "办公室党支部", "预备", None, "是"])
    wb[DISCIPLINE.name].append(
        [dt.date(2019, 6, 28), unit, "办公室党支部", "表彰", "党员甲0001", "优秀共产党员"]
    )
    wb.save(path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    paths = write_demo(out)
    assert paths == [out / DEMO_WORKBOOK, out / DEMO_PARAMS]
    return out / DEMO_WORKBOOK


@pytest.fixture(scope="module")
def demo_log(demo: Path) -> list[dict[str, Any]]:
    return _activities(demo)


# --------------------------------------------------------------------------- template


def test_template_has_every_sheet_with_schema_headers(tmp_path: Path) -> None:
    path = write_template(tmp_path / "台账模板.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == INSTRUCTIONS_SHEET
    assert wb.sheetnames[-1] == VOCABULARY_SHEET
    assert wb[VOCABULARY_SHEET].sheet_state == "hidden"
    for sheet in SHEETS:
        ws = wb[sheet.name]
        assert [c.value for c in ws[1]] == [c.header for c in sheet.columns]
        assert ws.freeze_panes == "A2"
        assert all(c.font.b for c in ws[1])
        assert ws.max_row == 1  # blank: no sample rows that would be read as data
        for i, column in enumerate(sheet.columns, start=1):
            letter = openpyxl.utils.get_column_letter(i)
            assert ws.column_dimensions[letter].width >= 8
            if column.kind is Kind.DATE:
                assert ws.column_dimensions[letter].number_format == "yyyy-mm-dd"
    text = "\n".join(
        str(v) for row in wb[INSTRUCTIONS_SHEET].iter_rows(values_only=True) for v in row if v
    )
    for name, aliases in ACTIVITY_TYPES.items():
        assert name in text and all(a in text for a in aliases)
    assert "2019年3月5日" in text and "不显示任何姓名" in text


def test_template_dropdowns_come_from_the_vocabulary(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx"))
    found: dict[Kind, tuple[str, ...]] = {}
    for sheet in SHEETS:
        ws = wb[sheet.name]
        validations = ws.data_validations.dataValidation
        for i, column in enumerate(sheet.columns, start=1):
            if column.kind not in EXPECTED_LISTS:
                continue
            letter = openpyxl.utils.get_column_letter(i)
            dv = next(v for v in validations if f"{letter}2:" in str(v.sqref))
            assert dv.type == "list" and len(dv.formula1) <= 255
            match = RANGE.match(dv.formula1)
            assert match and match["sheet"] == VOCABULARY_SHEET, dv.formula1
            vocab = wb[match["sheet"]]
            values = tuple(
                vocab[f"{match['col']}{r}"].value
                for r in range(int(match["first"]), int(match["last"]) + 1)
            )
            found[column.kind] = values
            assert values == EXPECTED_LISTS[column.kind]
    assert set(found) == set(EXPECTED_LISTS)


def test_template_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"analyst's work")
    with pytest.raises(UsageError, match="已存在"):
        write_template(path)
    assert path.read_bytes() == b"analyst's work"
    write_template(path, force=True)
    assert zipfile.is_zipfile(path)
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]  # no temp file left behind


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+1", "@SUM(A1:A2)", '=HYPERLINK("x")'])
def test_formula_like_text_stays_literal(tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    cell = safe_cell_value(wb.active["A1"], text)
    assert cell.data_type == "s"
    wb.save(path)
    back = openpyxl.load_workbook(path).active["A1"]
    assert back.value == text and back.data_type == "s" and back.quotePrefix
    assert _sheet_rows(path, wb.active.title)[0][0] == text
    with zipfile.ZipFile(path) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()

    # The demo's own writer follows the same rule.
    demo_path = tmp_path / "d.xlsx"
    write_xlsx(demo_path, [_SheetSpec("s", [["标题"], [text, "普通文本"]], 1, [10, 10])])
    back = openpyxl.load_workbook(demo_path).active["A2"]
    assert back.value == text and back.data_type == "s" and back.quotePrefix
    assert not openpyxl.load_workbook(demo_path).active["B2"].quotePrefix


def test_filled_template_validates_clean(tmp_path: Path) -> None:
    from reportkit.data.ingest import read_workbooks

    path = write_template(tmp_path / "t.xlsx")
    _fill_template(path)
    result = read_workbooks([path])
    assert result.errors == []
    assert len(result.tables["activities"]) == 4
    assert set(result.tables["activities"]["type"]) == {"中心组学习", "主题党日", "支委会", "党课"}
    assert "=不是公式" in set(result.tables["activities"]["topic"])


# --------------------------------------------------------------------------- demo


def test_demo_params_match_the_workbook(demo: Path) -> None:
    params = yaml.safe_load((demo.parent / DEMO_PARAMS).read_text(encoding="utf-8"))
    start, end = dt.date(2017, 10, 18), dt.date(2024, 12, 31)
    assert params["period"] == {"start": start, "end": end, "label": "党的十九大以来"}
    assert params["report_date"] == end


def test_demo_is_deterministic(demo: Path, tmp_path: Path) -> None:
    again = write_demo(tmp_path / "again")[0]
    assert again.read_bytes() == demo.read_bytes()
    other = write_demo(tmp_path / "other", seed=7)[0]
    assert _sheet_rows(other, ACTIVITIES.name) != _sheet_rows(demo, ACTIVITIES.name)
    props = openpyxl.load_workbook(demo).properties
    assert props.created == props.modified == dt.datetime(2024, 12, 31)


def test_demo_refuses_to_overwrite(tmp_path: Path) -> None:
    write_demo(tmp_path, units=2, rows=60)
    before = (tmp_path / DEMO_WORKBOOK).read_bytes()
    with pytest.raises(UsageError, match="已存在"):
        write_demo(tmp_path, units=3, rows=80)
    assert (tmp_path / DEMO_WORKBOOK).read_bytes() == before
    write_demo(tmp_path, units=3, rows=80, force=True)
    assert (tmp_path / DEMO_WORKBOOK).read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEMO_WORKBOOK, DEMO_PARAMS]


def test_demo_validates_clean(demo: Path) -> None:
    from reportkit.data.ingest import read_workbooks

    result = read_workbooks([demo])
    assert result.errors == []
    assert len(result.tables["activities"]) == 10_000
    assert len(result.units) == 6


def test_small_demo_truncates_and_still_validates(tmp_path: Path) -> None:
    from reportkit.data.ingest import read_workbooks

    path = write_demo(tmp_path, units=2, rows=50)[0]
    assert len(_activities(path)) == 50
    assert read_workbooks([path]).errors == []


def test_demo_rows_and_every_type(demo_log: list[dict[str, Any]]) -> None:
    assert len(demo_log) == 10_000
    assert {r["type"] for r in demo_log} == set(ACTIVITY_TYPES)
    assert all(PERIOD_START <= r["date"] <= PERIOD_END for r in demo_log)
    central = [r for r in demo_log if r["type"] == "中心组学习"]
    assert central and all(r["branch"] == "" for r in central)


def test_demo_branches_mostly_meet_norms_some_short(demo_log: list[dict[str, Any]]) -> None:
    months: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)
    branches: set[tuple[str, str]] = set()
    for r in demo_log:
        if r["branch"]:
            branches.add((r["unit"], r["branch"]))
        if r["type"] == "主题党日" and r["branch"] and r["date"] >= dt.date(2018, 11, 1):
            months[(r["unit"], r["branch"])].add((r["date"].year, r["date"].month))
    per_unit = Counter(unit for unit, _ in branches)
    assert all(2 <= n <= 8 for n in per_unit.values())
    covered = {b: len(months[b]) for b in branches}
    short = [b for b, n in covered.items() if n < JUDGED_MONTHS]
    assert 1 <= len(short) <= len(branches) // 2
    assert min(covered.values()) <= JUDGED_MONTHS // 3  # one branch hardly active at all


def test_demo_has_seasonal_dips(demo_log: list[dict[str, Any]]) -> None:
    by_month = Counter(r["date"].month for r in demo_log if 2019 <= r["date"].year <= 2024)
    average = sum(by_month.values()) / 12
    assert by_month[2] < average and by_month[5] < average


def test_demo_attendance_and_presenters(demo_log: list[dict[str, Any]]) -> None:
    posts = {
        "党委书记",
        "党委副书记",
        "党委委员",
        "纪检组长",
        "机关党委书记",
        "机关纪委书记",
        "支部书记",
        "支部副书记",
        "组织委员",
        "宣传委员",
        "党小组长",
        "特邀专家",
        "党校教师",
        "业务骨干",
        None,
    }
    assert {r["presenter"] for r in demo_log} <= posts
    counted = [r for r in demo_log if r["expected"] is not None]
    assert counted and all(0 <= r["present"] <= r["expected"] for r in counted)


def test_demo_units_roster_and_discipline(demo: Path) -> None:
    units = _records(demo, UNITS.name, "单位")
    ratios = [u["专职党务工作人员数"] / u["机关工作人员总数"] for u in units]
    assert any(r < 0.01 for r in ratios) and any(0.01 <= r <= 0.02 for r in ratios)
    assert all(u["专职党务工作人员数"] >= 1 for u in units)

    roster = _records(demo, MEMBERS.name, "姓名")
    assert all(re.fullmatch(r"党员[甲乙丙丁戊己庚辛壬癸]\d*\d{4}", m["姓名"]) for m in roster)
    assert {m["党员类别"] for m in roster} == set(MEMBER_CATEGORIES)
    assert {"支部书记", "组织委员", "党小组长"} <= {m["党内职务"] for m in roster}
    workers = Counter(m["单位"] for m in roster if m["是否专职党务"] == "是")
    assert workers == {u["单位"]: int(u["专职党务工作人员数"]) for u in units}

    discipline = _records(demo, DISCIPLINE.name, "类别")
    categories = Counter(d["类别"] for d in discipline)
    assert set(categories) <= set(DISCIPLINE_CATEGORIES)
    assert categories["表彰"] and categories["奖励"] and categories["第一种形态"]


def test_demo_carries_the_mess_the_contract_accepts(demo: Path) -> None:
    rows = _sheet_rows(demo, ACTIVITIES.name)
    assert rows[0][0].startswith("国家税务总局") and not any(rows[1])  # title, blank
    assert rows[2][0] == "活动日期" and "时长（小时）" in rows[2]  # alias headers
    dates = [r[0] for r in rows[3:] if any(r)]
    texts = [d for d in dates if isinstance(d, str)]
    assert any("年" in d for d in texts) and any("." in d for d in texts)
    assert any(isinstance(d, int | float) for d in dates)  # an Excel serial typed as a number
    assert any(unicodedata.normalize("NFKC", d) != d for d in texts)  # full-width digits
    types = {r[3] for r in rows[3:] if any(r)}
    assert types - set(ACTIVITY_TYPES)  # some aliases
    assert sum(1 for r in rows[3:] if not any(r)) >= 1  # a blank row inside the data


def test_demo_scales(tmp_path: Path) -> None:
    path = write_demo(tmp_path, units=30, rows=20_000)[0]
    log = _activities(path)
    assert len(log) == 20_000
    assert len({r["unit"] for r in log}) == 30


# --------------------------------------------------------------------------- formula neutralisation


def test_workbooks_the_cli_writes_hold_no_formula(tmp_path: Path) -> None:
    """Every cell of `reportkit template` and `reportkit demo` output: no formula element, and
    any text starting with = + - @ is a string cell that Excel shows as typed."""
    from click.testing import CliRunner

    from reportkit.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["template", str(tmp_path / "t.xlsx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["demo", "--out", str(tmp_path), "--units", "2", "--rows", "400"])
    assert result.exit_code == 0, result.output
    for path in (tmp_path / "t.xlsx", tmp_path / DEMO_WORKBOOK):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.startswith("xl/worksheets/"):
                    assert not re.search(rb"<(\w+:)?f[ >]", archive.read(name)), (path, name)
        book = openpyxl.load_workbook(path)
        cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
        assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
        for cell in cells:
            if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                assert cell.data_type == "s" and cell.quotePrefix, (path, cell.coordinate)
