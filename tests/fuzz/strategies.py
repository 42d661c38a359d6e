"""Hypothesis strategies for hostile activity-log workbooks, and the model the tests check against.

A `Book` is what a test generated: the cells of every sheet as openpyxl writes them (after
merges), plus which rows hold a known unit. Expected figures are computed from this model alone,
never with reportkit's code.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.utils import get_column_letter

from reportkit.data.schema import ACTIVITIES
from reportkit.data.vocabulary import ACTIVITY_TYPES

#: What the fuzz tests ran, for the terminal summary (tests/fuzz/conftest.py).
STATS: dict[str, Any] = {"read": 0, "cli": 0, "run": 0, "kept": {}}
#: Bounds for CI: at most 50 rows × 15 columns of cells per sheet.
MAX_ROWS, MAX_COLUMNS = 50, 15
#: Units are fixed names per example so several examples can share one `run`.
UNITS = ("甲局", "乙局", "丙局")
TYPES = tuple(ACTIVITY_TYPES)
REQUIRED = [c.header for c in ACTIVITIES.required]
OPTIONAL = [c.header for c in ACTIVITIES.columns if not c.required]
ERRORS = ("#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # openpyxl refuses these in cells

# --------------------------------------------------------------------------------------------
# Cell values


def _legal(text: str) -> str:
    return _ILLEGAL.sub("", text)


_SPECIAL_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\u200f",  # RTL mark
        "\u202e甲局",  # RTL override
        "e\u0301\u0301\u0301",  # combining marks
        "👨‍👩‍👧‍👦🇨🇳",  # emoji sequences
        "_x0000_",
        "_x0001_甲局_x001F_",
        "_xD800_",
        "NaN",
        "inf",
        "-Infinity",
        "1e309",
        "=1/0",
        "<b>x</b>",
        "\ufeff",
        "\u3000",
        "合计",
    ]
)
_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40).map(_legal),
    _SPECIAL_TEXT,
    st.sampled_from([32_767, 32_768]).map(lambda n: "长" * n),
)
_NUMBER = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-1, 0, 1, 60, 18263, 73051, 2_958_466, 1e308, -1e-308, 5e-324]),
)
_DATE = st.one_of(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.times(),
)


@dataclass(frozen=True)
class Rich:
    """A rich-text cell: runs of text with fonts; Excel shows the concatenation."""

    parts: tuple[str, ...]

    def cell(self) -> CellRichText:
        return CellRichText(
            *(TextBlock(InlineFont(b=i % 2 == 0), p) for i, p in enumerate(self.parts))
        )


@dataclass(frozen=True)
class Raw:
    """A cell written as raw sheet XML (what other producers write): a `<c>` body."""

    xml: str


_RAW = st.sampled_from(
    [
        Raw('t="e"><v>#N/A</v>'),
        Raw('t="n"><v>NaN</v>'),
        Raw('t="n"><v>1e400</v>'),
        Raw('t="n"><v>-0</v>'),
        Raw('t="b"><v>2</v>'),
        Raw('t="d"><v>not a date</v>'),
        Raw('t="d"><v>9999-12-31T23:59:59</v>'),
        Raw('t="str"><f>NA()</f><v>#N/A</v>'),
        Raw('t="inlineStr"><is><t>_x0000_</t></is>'),
        Raw('t="inlineStr"><is><r><t>甲</t></r><r><t>局</t></r></is>'),
        Raw('t="s"><v>99999</v>'),
        Raw('s="999"><v>43831</v>'),
    ]
)

#: Everything a cell can hold.
HOSTILE = st.one_of(
    st.none(),
    _TEXT,
    _NUMBER,
    st.booleans(),
    st.sampled_from(ERRORS),
    _DATE,
    st.lists(_TEXT.filter(bool), min_size=1, max_size=3).map(lambda p: Rich(tuple(p))),
    _RAW,
)


# --------------------------------------------------------------------------------------------
# Workbooks


@dataclass
class Sheet:
    name: str
    rows: list[list[Any]]  # rows[0] is Excel row 1; after merges (merged-away cells are None)
    merges: list[str] = field(default_factory=list)
    hidden_rows: list[int] = field(default_factory=list)
    hidden: bool = False


@dataclass
class Book:
    sheets: list[Sheet]
    #: (unit, activity type) of every log row whose required cells were generated clean
    clean: list[tuple[str, str]] = field(default_factory=list)

    def counts(self, unit: str) -> dict[str, int]:
        """Activities per type for one unit, computed from the generated rows alone."""
        result: dict[str, int] = {}
        for u, t in self.clean:
            if u == unit:
                result[t] = result.get(t, 0) + 1
        return result


def _clean_row(draw: st.DrawFn, units: tuple[str, ...]) -> dict[str, Any]:
    expected = draw(st.integers(0, 60))
    return {
        "日期": draw(
            st.one_of(
                st.dates(dt.date(2018, 1, 1), dt.date(2023, 12, 31)),
                st.dates(dt.date(2018, 1, 1), dt.date(2023, 12, 31)).map(
                    lambda d: f"{d.year}年{d.month}月{d.day}日"
                ),
            )
        ),
        "单位": draw(st.sampled_from(units)),
        "活动类型": draw(st.sampled_from(TYPES)),
        "党支部": draw(st.sampled_from(["一支部", "二支部", None])),
        "主题": draw(_TEXT),
        "应到人数": expected,
        "实到人数": draw(st.integers(0, expected)),
        "时长": draw(st.sampled_from([0.5, 1, 1.5, 2, "2小时", None])),
        "主持人": draw(st.sampled_from([None, "张三"])),
        "备注": draw(_TEXT),
    }


@st.composite
def books(draw: st.DrawFn, prefix: str = "", max_rows: int = MAX_ROWS) -> Book:
    """A workbook with one activity log, hostile cells, and optional other sheets."""
    units = tuple(prefix + u for u in UNITS)
    optional = draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=len(OPTIONAL)))
    header: list[Any] = REQUIRED + optional
    if draw(st.booleans()):  # an unknown column with a hostile header
        header.append(draw(_TEXT.filter(lambda t: t.strip() != "")))
    if draw(st.integers(0, 9)) == 0:  # the same column twice
        header.append(draw(st.sampled_from(header[:3])))
    header = draw(st.permutations(header))[:MAX_COLUMNS]
    titles = draw(st.integers(0, 2))
    rows: list[list[Any]] = [["2019年度党建工作台账"] if t == 0 else [] for t in range(titles)]
    rows.append(list(header))
    book = Book([])
    hostile_rate = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    for _ in range(draw(st.integers(0, max_rows - len(rows)))):
        if draw(st.integers(0, 9)) == 0:
            rows.append([])  # a blank row
            continue
        values = _clean_row(draw, units)
        row = []
        dirty = set()
        for name in header:
            hostile = hostile_rate and draw(st.floats(0, 1)) < hostile_rate
            row.append(draw(HOSTILE) if hostile else values.get(name))
            if hostile:
                dirty.add(name)
        rows.append(row)
        if not dirty & set(REQUIRED):
            book.clean.append((values["单位"], values["活动类型"]))
    log = Sheet(draw(st.sampled_from(["活动台账", "台账", " 活动台账 "])), rows)
    width = len(header)
    for _ in range(draw(st.integers(0, 2))):  # merged ranges, within a row or across rows
        top = draw(st.integers(1, len(rows)))
        left = draw(st.integers(1, width))
        bottom = draw(st.integers(top, min(top + 2, len(rows))))
        right = draw(st.integers(left, min(left + 2, width)))
        if (bottom, right) != (top, left):
            log.merges.append(f"{get_column_letter(left)}{top}:{get_column_letter(right)}{bottom}")
    if rows and draw(st.booleans()):
        log.hidden_rows = draw(st.lists(st.integers(1, len(rows)), max_size=3))
    book.sheets.append(log)
    if draw(st.booleans()):  # the units sheet, clean
        book.sheets.append(
            Sheet("单位信息", [["单位", "党组织名称"], *([u, f"中共{u}委员会"] for u in units)])
        )
    if draw(st.booleans()):  # a junk sheet, perhaps hidden
        junk = draw(st.lists(st.lists(HOSTILE, max_size=MAX_COLUMNS), max_size=5))
        book.sheets.append(Sheet("说明", junk, hidden=draw(st.booleans())))
    return book


def _anchor_only(sheet: Sheet) -> None:
    """Clear merged-away cells in the model, as openpyxl does in the file."""
    for ref in sheet.merges:
        first, last = ref.split(":")
        (c1, r1), (c2, r2) = (_split(first), _split(last))
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1) and r <= len(sheet.rows) and c <= len(sheet.rows[r - 1]):
                    sheet.rows[r - 1][c - 1] = None


def _split(ref: str) -> tuple[int, int]:
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    letters, row = coordinate_from_string(ref)
    return column_index_from_string(letters), row


def write(book: Book, path: Path) -> Path:
    """Save the book with openpyxl, then patch in the raw-XML cells."""
    wb = Workbook()
    wb.remove(wb.active)
    raw: dict[int, dict[str, str]] = {}
    for index, spec in enumerate(book.sheets):
        _anchor_only(spec)
        ws = wb.create_sheet(spec.name)
        for r, row in enumerate(spec.rows, start=1):
            for c, value in enumerate(row, start=1):
                if isinstance(value, Raw):
                    ref = f"{get_column_letter(c)}{r}"
                    ws[ref] = "RAW"  # a placeholder the patch replaces
                    raw.setdefault(index, {})[ref] = f'<c r="{ref}" {value.xml}</c>'
                elif isinstance(value, Rich):
                    ws.cell(r, c).value = value.cell()
                elif value is not None:
                    ws.cell(r, c).value = value
        for ref in spec.merges:
            ws.merge_cells(ref)
        for r in spec.hidden_rows:
            ws.row_dimensions[r].hidden = True
        if spec.hidden:
            ws.sheet_state = "hidden"
    if all(s.hidden for s in book.sheets):
        wb.worksheets[0].sheet_state = "visible"
        book.sheets[0].hidden = False
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_patch(buffer.getvalue(), raw))
    return path


def _patch(data: bytes, raw: dict[int, dict[str, str]]) -> bytes:
    if not raw:
        return data
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", item.filename)
            if match and int(match.group(1)) - 1 in raw:
                for ref, element in raw[int(match.group(1)) - 1].items():
                    pattern = re.compile(
                        rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', re.S
                    )
                    content = pattern.sub(element.encode().replace(b"\\", b"\\\\"), content, 1)
            target.writestr(item, content)
    return out.getvalue()
