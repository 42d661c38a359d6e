"""Report text is true for any data: rendered over a matrix of data shapes and re-derived.

Each shape is a unit built here (periods of a month, a quarter, a year and seven years; missing
activity types; one branch; every or no branch compliant; ties). Its body text, up to the 附件
note, must state no zero as a figure, never write 相差…倍, and every 为主, 倍, 最多/最少/最为集中
and 均 claim must agree with `check_claims`, which re-derives it from stats.json alone, without
reportkit.analysis.claims. Golden texts for three shapes are kept in tests/fixtures; set
REPORTKIT_UPDATE_GOLDEN=1 to rewrite them after a deliberate wording change, then read them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reportkit.analysis import claims
from reportkit.analysis.stats import compute_stats, sessions
from reportkit.data.dataset import ingest_to_dataset
from reportkit.data.dataset_meta import list_units
from reportkit.data.vocabulary import ACTIVITY_TYPES
from reportkit.params import Period, load_params, unit_params
from reportkit.render.outline import percent
from reportkit.render.summary import PARTS as SUMMARY_PARTS
from reportkit.render.summary import Summary
from reportkit.report import UnitReport
from reportkit.resources import DEMO_WORKBOOK
from tests.helpers import Unit, activities, write_workbook

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent
BODY_PARTS = ("title", "part1", "part2", "part3")
STUDY = ("中心组学习", "专题研讨", "大课堂", "主题党日", "党课")
PERIODS = {
    "month": ("2023-03-01", "2023-03-31", "2023年3月"),
    "quarter": ("2023-01-01", "2023-03-31", "2023年第一季度"),
    "year": ("2023-01-01", "2023-12-31", "2023年度"),
    "seven_years": ("2018-01-01", "2024-12-31", "2018年以来"),
}

# --------------------------------------------------------------------------- data shapes


def _months(start: str, end: str) -> list[dt.date]:
    """The 10th of every month the period touches, clipped into the period."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    days, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        days.append(min(max(dt.date(year, month, 10), first), last))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


def branch_rows(name: str, kind: str, start: str, end: str, extra: int = 0) -> list[dict]:
    """A branch's log: "full" meets every norm, "short" holds only 谈心谈话 each month."""
    rows = []
    for day in _months(start, end):
        types = ["谈心谈话"]
        if kind == "full":
            types = ["主题党日", "支委会", "党小组会"]
            types += ["支部党员大会", "党课"] if day.month % 3 == 1 else []
            types += ["组织生活会", "民主评议党员", "谈心谈话"] if day.month == 11 else []
        types += ["主题党日"] * extra
        rows += [
            {"date": str(day), "branch": name, "type": t, "expected": 10, "present": 9}
            for t in types
        ]
    return rows


UNIT_LEVEL_PLAN = {
    "中心组学习": (1, 3, 5, 7, 9, 11),
    "专题研讨": (3, 6, 9, 12),
    "大课堂": (6,),
    "调研": (3, 5, 9),
    "监督检查": (7,),
    "走访慰问": (1,),
    "突击队": (8,),
    "示范岗": (4,),
    "品牌创建": (12,),
}


def unit_rows(start: str, end: str) -> list[dict]:
    """Unit-level rows (empty 党支部): 中心组学习, 调研 and the rest on fixed months."""
    return [
        {"date": str(day), "branch": None, "type": t}
        for day in _months(start, end)
        for t, months in UNIT_LEVEL_PLAN.items()
        if day.month in months
    ]


def discipline(start: str, categories: Iterable[str]) -> pd.DataFrame:
    categories = list(categories)
    return pd.DataFrame(
        {
            "date": pd.to_datetime([start] * len(categories)),
            "unit": "甲局",
            "branch": "",
            "category": categories,
            "reason": "",
        }
    )


def roster_of(branches: Iterable[str]) -> pd.DataFrame:
    """Eight 正式党员 in each branch named (a roster can name a branch with no activity)."""
    names = [b for b in branches for _ in range(8)]
    return pd.DataFrame(
        {"unit": "甲局", "branch": names, "category": "正式党员", "party_post": None},
        columns=["unit", "branch", "category", "party_post"],
    )


UNITS = pd.DataFrame(
    {
        "unit": ["甲局"],
        "org_name": ["中共甲局委员会"],
        "staff_total": pd.array([150], dtype="Int64"),
        "party_workers": pd.array([1], dtype="Int64"),
    }
)
MIXED = {"第一党支部": ("full", 1), "第二党支部": ("full", 0), "第三党支部": ("short", 0)}
REWARDS_AND_FORMS = ["表彰"] * 2 + ["第一种形态"] * 5


def shape(
    period: str = "year",
    branches: Mapping[str, tuple[str, int]] = MIXED,
    without: Iterable[str] = (),
    categories: Iterable[str] = REWARDS_AND_FORMS,
    units: pd.DataFrame | None = UNITS,
    unit_level: bool = True,
    roster: Iterable[str] = (),
    added: Iterable[tuple[str, str]] = (),
    keep_central: Callable[[str], bool] = lambda day: True,
) -> tuple[Unit, Period]:
    start, end, label = PERIODS[period]
    rows = unit_rows(start, end) if unit_level else []
    for name, (kind, extra) in branches.items():
        rows += branch_rows(name, kind, start, end, extra)
    rows += [{"date": day, "branch": "第一党支部", "type": t} for day, t in added]
    rows = [r for r in rows if r["type"] not in set(without)]
    rows = [r for r in rows if r["type"] != "中心组学习" or keep_central(r["date"])]
    frame = activities(rows) if rows else activities([{"date": start, "type": "其他"}]).iloc[:0]
    data = Unit(
        "甲局",
        frame,
        units if units is not None else pd.DataFrame(),
        members=roster_of(roster),
        discipline=discipline(start, categories),
    )
    period_ = Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end), label)
    return data, period_


SHAPES: dict[str, tuple[Unit, Period]] = {
    **{f"{p}-mixed": shape(p) for p in PERIODS},
    **{f"{p}-single-branch": shape(p, {"机关党支部": ("full", 0)}) for p in PERIODS},
    **{
        f"{p}-all-compliant": shape(p, {"甲支部": ("full", 0), "乙支部": ("full", 2)})
        for p in PERIODS
    },
    **{
        f"{p}-none-compliant": shape(p, {"甲支部": ("short", 0), "乙支部": ("short", 1)})
        for p in PERIODS
    },
    **{
        f"{p}-ties": shape(
            p,
            {
                "一支部": ("full", 0),
                "二支部": ("short", 0),
                "三支部": ("full", 0),
                "四支部": ("short", 0),
            },
        )
        for p in PERIODS
    },
    **{f"year-without-{t}": shape("year", without=[t]) for t in ACTIVITY_TYPES},
    **{
        f"seven_years-without-{t}": shape("seven_years", without=[t])
        for t in ("中心组学习", "调研", "民主评议党员", "组织生活会")
    },
    "seven_years-peak-2021": shape("seven_years", added=[("2021-05-05", "主题党日")] * 4),
    "seven_years-peak-tie": shape(
        "seven_years", added=[("2020-05-05", "党课"), ("2022-05-05", "党课")]
    ),
    "seven_years-central-none-2019": shape(
        "seven_years", keep_central=lambda day: not day.startswith("2019")
    ),
    "seven_years-central-rare": shape("seven_years", keep_central=lambda day: day < "2019"),
    "seven_years-central-low-tie": shape(
        "seven_years", keep_central=lambda day: day[:4] not in ("2020", "2022") or day[5:7] < "04"
    ),
    "year-equal-branches": shape("year", {"甲支部": ("full", 0), "乙支部": ("full", 0)}),
    "year-close-branches": shape("year", {"甲支部": ("full", 1), "乙支部": ("full", 0)}),
    "year-no-branch": shape("year", {}),
    "year-idle-branch-on-roster": shape("year", roster=["第一党支部", "第四党支部"]),
    "year-no-unit-level": shape("year", unit_level=False),
    "year-empty-log": shape("year", {}, unit_level=False, categories=()),
    "year-no-discipline": shape("year", categories=()),
    "year-punish-a-little-more": shape("year", categories=["奖励"] * 4 + ["第二种形态"] * 5),
    "year-forms-no-rewards": shape("year", categories=["第一种形态", "第三种形态"]),
    "year-no-staffing": shape("year", units=None),
    "year-no-worker-count": shape(
        "year", units=UNITS.assign(party_workers=pd.array([None], dtype="Int64"))
    ),
    "year-no-party-worker": shape(
        "year", units=UNITS.assign(party_workers=pd.array([0], dtype="Int64"))
    ),
}


def build(data: Any, period: Period) -> UnitReport:
    params = load_params()
    params["_render"] = {"png": False}
    unit_stats = compute_stats(data, period, params)
    return UnitReport(unit_stats, params, sessions(data.activities, period))


@cache
def rendered(name: str) -> tuple[str, dict[str, Any]]:
    """Body text and stats of one shape, rendered once for all the tests that read it."""
    report = build(*SHAPES[name])
    return body_text(report), report.stats


def body_text(report: UnitReport) -> str:
    """Headings and paragraphs of the body (title to 三、, before the 附件 note), tables as
    their captions: the text a reader reads as the committee's words."""
    lines = []
    for part in BODY_PARTS:
        for block in report.blocks(part):
            if block["kind"] in ("title", "heading", "paragraph"):
                lines.append((block.get("lead") or "") + block["text"])
            elif block["kind"] == "table":
                lines.append(f"［表］{block['caption']}（{len(block['rows'])}行）")
            elif block["kind"] == "figure":
                lines.append(f"［图］{block['caption']}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the checker

ZERO = re.compile(r"(?<![\d.])0(?:\.0+)?(?![\d.])")


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _whole_years(stats: Mapping[str, Any]) -> list[str]:
    start, end = stats["period"]["start"], stats["period"]["end"]
    return [
        str(y)
        for y in range(int(start[:4]), int(end[:4]) + 1)
        if start <= f"{y}-01-01" and f"{y}-12-31" <= end
    ]


def _type_of(stats: Mapping[str, Any], shown: str) -> str:
    inverse = {v: k for k, v in stats["display_names"].items()}
    return inverse.get(shown, shown)


class _ClaimChecks:
    """One check per kind of claim, each re-deriving the claim's figures from stats.json."""

    def __init__(self, stats: Mapping[str, Any]) -> None:
        self.stats = stats
        self.counts = stats["counts"]
        self.years = _whole_years(stats)
        self.by_year = stats["counts_by_year"]

    def year_total(self, year: str, types: Iterable[str]) -> int:
        return sum(self.by_year[year].get(t, 0) for t in types)

    def learning_share(self, m: re.Match) -> None:
        kinds = [_type_of(self.stats, m[i]) for i in (1, 2, 3)]
        main = _type_of(self.stats, m[4])
        values = {k: self.counts.get(k, 0) for k in kinds}
        assert main == "中心组学习"
        assert all(values[main] > v for k, v in values.items() if k != main)
        assert int(m[5]) == int(100 * values[main] / sum(values.values()) + 0.5)

    def branches_times(self, m: re.Match) -> None:
        per_branch = self.stats["imbalance"]["by_branch"]
        assert len(per_branch) >= 2
        top, low = max(per_branch.values()), min(per_branch.values())
        assert m[1].split("、") == [b for b, v in per_branch.items() if v == top]
        assert m[3].split("、") == [b for b, v in per_branch.items() if v == low]
        assert (int(m[2]), int(m[4])) == (top, low)
        assert low > 0
        assert top / low >= 1.5
        assert m[5] == _fmt(top / low)

    def branches_more(self, m: re.Match) -> None:
        per_branch = self.stats["imbalance"]["by_branch"]
        top, low = max(per_branch.values()), min(per_branch.values())
        assert m[1].split("、") == [b for b, v in per_branch.items() if v == top]
        assert m[3].split("、") == [b for b, v in per_branch.items() if v == low]
        assert (int(m[2]), int(m[4])) == (top, low)
        assert 0 < low < top < 1.5 * low
        assert int(m[5]) == top - low

    def branches_none(self, m: re.Match) -> None:
        per_branch = self.stats["imbalance"]["by_branch"]
        top = max(per_branch.values())
        assert len(per_branch) >= 2
        assert int(m[2]) == top
        assert m[1].split("、") == [b for b, v in per_branch.items() if v == top]
        assert m[3].split("、") == [b for b, v in per_branch.items() if v == 0]

    def forms_times(self, m: re.Match) -> None:
        forms, rewards = self.stats["discipline"]["forms"], self.stats["discipline"]["rewards"]
        assert (int(m[1]), int(m[2])) == (forms, rewards)
        assert rewards
        assert forms / rewards >= 1.5
        assert m[3] == _fmt(forms / rewards)

    def study_peak(self, m: re.Match) -> None:
        assert len(self.years) >= 2
        totals = {y: self.year_total(y, STUDY) for y in self.years}
        top = max(totals.values())
        leaders = [y for y in self.years if totals[y] == top]
        assert len(set(totals.values())) > 1
        assert len(leaders) <= len(self.years) // 2
        assert sum(totals.values()) >= len(self.years)
        assert m[1].split("年、") == [y for y in self.years if totals[y] == top]
        assert int(m[2]) == top

    def compliance(self, m: re.Match) -> None:
        judged: dict[str, bool] = {}
        for e in self.stats["compliance"]:
            if e["scope"] == "branch" and e["status"] != "不适用":
                met_rule = e["status"] == "达到一般要求"
                judged[e["branch"]] = judged.get(e["branch"], True) and met_rule
        met = sum(judged.values())
        phrase = m[0]
        if phrase.startswith("该党支部"):
            assert len(judged) == 1
            assert met == 1
        elif "中有" in phrase:
            assert (int(m["n"]), int(m["m"])) == (len(judged), met)
            assert 1 <= met < len(judged)
        elif "均存在" in phrase:
            assert int(m["n"]) == len(judged) >= 2
            assert met == 0
        else:
            assert int(m["n"]) == len(judged) >= 2
            assert met == len(judged)

    def central_average(self, m: re.Match) -> tuple[float, dict[str, int]]:
        central = {y: self.year_total(y, ("中心组学习",)) for y in self.years}
        assert len(self.years) >= 2
        mean = sum(central.values()) / len(self.years)
        assert m["avg"] == (_fmt(mean) if mean >= 1 else None)
        return mean, central

    def central_even(self, m: re.Match) -> None:
        mean, central = self.central_average(m)
        assert all(v >= 0.75 * mean for v in central.values())

    def central_low(self, m: re.Match) -> None:
        mean, central = self.central_average(m)
        low = [y for y, v in central.items() if v < 0.75 * mean]
        lowest = min(central[y] for y in low)
        assert m["years"].split("年、") == [y for y in low if central[y] == lowest]
        assert (int(m["n"]) if m["n"] else 0) == lowest

    def central_rare(self, m: re.Match) -> None:
        idle = [y for y in self.years if not self.year_total(y, ("中心组学习",))]
        assert (int(m[1]), int(m[2])) == (len(self.years), len(idle))
        assert 2 * len(idle) > len(self.years)

    def research_average(self, m: re.Match) -> None:
        assert len(self.years) >= 2
        assert int(m[1]) == self.stats["research"]["count"]
        by = self.stats["research"]["by_year"]
        mean = sum(by.get(y, 0) for y in self.years) / len(self.years)
        assert mean >= 1
        assert m[2] == _fmt(mean)

    def attendance(self, m: re.Match) -> None:
        rate = self.stats["attendance"]["present"] / self.stats["attendance"]["expected"]
        assert int(m[1]) == int(100 * rate + 0.5) > 0


def check_claims(text: str, stats: Mapping[str, Any]) -> None:
    """Re-derive every 为主, 倍, 最多/最少/最为集中 and 均 claim in `text` from stats.json.

    Each recognised claim is checked and then blanked out; whatever claim word is left over
    is a claim the checker cannot confirm, and fails.
    """
    assert not ZERO.search(text), f"a zero stated as a figure: {ZERO.search(text)}"
    assert not re.search(r"相差[^。；]*倍", text)
    check = _ClaimChecks(stats)
    name = r"[^，。；、]+?"
    names = rf"{name}(?:、{name})*"
    checks = [
        (
            rf"在({name})、({name})和({name})中，({name})占(\d+)%，学习形式仍以中心组学习为主",
            check.learning_share,
        ),
        (
            rf"活动最多的({names})各?开展(\d+)次，最少的({names})各?仅(\d+)次，前者是后者的([\d.]+)倍",
            check.branches_times,
        ),
        (rf"活动最多的({names})各?开展(\d+)次，({names})未开展活动", check.branches_none),
        (
            rf"活动最多的({names})各?开展(\d+)次，最少的({names})各?开展(\d+)次，前者比后者多(\d+)次",
            check.branches_more,
        ),
        (r"运用“四种形态”处理(\d+)人次，是表彰奖励(\d+)人次的([\d.]+)倍", check.forms_times),
        (r"其中(\d{4})年学习教育活动最为集中，共(\d+)次", check.study_peak),
        (r"其中((?:\d{4}年、)+\d{4})年学习教育活动并列最多，各(\d+)次", check.study_peak),
        (r"该党支部各项(?:组织生活)?制度均达到一般要求", check.compliance),
        (r"(?P<n>\d+)个党支部中有(?P<m>\d+)个各项制度均达到一般要求", check.compliance),
        (r"(?P<n>\d+)个党支部均(?:达到一般要求|存在未达到一般要求的情况)", check.compliance),
        (r"中心组学习各完整年度开展次数大体均衡，年均(?P<avg>[\d.]+)次", check.central_even),
        (
            r"中心组学习在各年度间不够均衡，(?P<years>\d{4}(?:年、\d{4})*)年"
            r"(?:各?仅开展(?P<n>\d+)次|未开展)(?:，而完整年度年均(?P<avg>[\d.]+)次)?",
            check.central_low,
        ),
        (r"共开展调研(\d+)次，完整年度年均([\d.]+)次", check.research_average),
        (r"中心组学习开展不经常，(\d+)个完整年度中有(\d+)个年度未开展", check.central_rare),
        (r"党员参加组织生活的平均出勤率为(\d+)%", check.attendance),
    ]
    for pattern, verify in checks:
        for m in re.finditer(pattern, text):
            verify(m)
        text = re.sub(pattern, "〇", text)
    for word in ("为主", "倍", "最多", "最少", "最为", "均"):
        where = text.find(word)
        assert where < 0, f"an unchecked claim with {word}: {text[where - 40 : where + 40]}"


# --------------------------------------------------------------------------- tests


HEADINGS = (FIXTURES / "outline_headings.txt").read_text(encoding="utf-8").split()


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_claim_holds_for_the_data(name: str) -> None:
    text, stats = rendered(name)
    check_claims(text, stats)
    lines = text.splitlines()
    titles = [h for h in HEADINGS if not h.endswith("。")]
    leads = [h for h in HEADINGS if h.endswith("。")]
    assert [line for line in lines if line in titles] == titles  # every one, in order
    assert [x[: x.index("。") + 1] for x in lines if x[:2] in ("一是", "二是", "三是")] == leads


def test_the_shapes_exercise_each_claim() -> None:
    """The matrix is only worth as much as the claims it makes the wording choose between."""
    texts = {name: rendered(name)[0] for name in SHAPES}
    joined = "\n".join(texts.values())
    for phrase in (
        "学习形式仍以中心组学习为主",
        "前者是后者的",
        "前者比后者多",
        "未开展活动",
        "学习教育活动最为集中",
        "个党支部中有",
        "个党支部均达到一般要求",
        "个党支部均存在未达到一般要求的情况",
        "该党支部各项制度均达到一般要求",
        "大体均衡",
        "中心组学习开展不经常，7个完整年度中有6个年度未开展",
        "不够均衡",
        "完整年度年均",
        "报告期内未开展基层调研",
        "且报告期内未开展民主评议党员",
        "未开展党委理论学习中心组学习",
        "的2.5倍，罚多奖少",
        "多1人次，罚多奖少",
        "未记录表彰奖励",
        "未配备专职党务工作人员",
        "台账未提供机关工作人员总数和专职党务工作人员数，无法核对1%～2%的配备比例",
        "台账未提供专职党务工作人员数，无法核对",
        "［表］分年度学习教育活动情况",
        "［表］分季度学习教育活动情况",
        "［表］分月份学习教育活动情况",
        "［图］图1 分年度学习教育活动情况",
    ):
        assert phrase in joined, phrase
    ties = texts["seven_years-ties"]
    assert "活动最多的一支部、三支部各开展" in ties
    assert "最少的二支部、四支部各仅" in ties
    # A single month: no by-time table, no yearly figures, no superlative over one year.
    month = texts["month-mixed"]
    assert "［表］分" not in month
    assert "年均" not in month
    assert "最为集中" not in month
    # One year: no per-year table or chart, no average over a single year.
    year = texts["year-mixed"]
    assert "分年度" not in year
    assert "年均" not in year
    assert "［表］分季度学习教育活动情况（次）（4行）" in year
    assert "最为集中" not in texts["year-mixed"]


def test_zero_items_are_left_out_and_absences_that_break_a_norm_move_to_part_two() -> None:
    text = rendered("seven_years-without-民主评议党员")[0]
    part1, part2 = text.split("二、存在的主要问题及原因分析")
    assert "民主评议党员" not in part1.split("（二）聚焦固本强基")[1].split("。", 1)[1]
    assert "且报告期内未开展民主评议党员，制度落实还不够严格" in part2
    # 突击队 has no norm: gone from 一、（三）, and no problem is made of it.
    text = rendered("year-without-突击队")[0]
    assert "突击队" not in text.split("坚持党建与业务同谋划")[1].split("（四）")[0]
    assert "未开展突击队" not in text


def test_checker_rejects_false_claims() -> None:
    """The checker itself can fail: hand it wording that the data does not support."""
    text, stats = rendered("seven_years-ties")
    for wrong in (
        "开展民主评议党员0次。",
        "最多的一支部开展10次，最少的二支部仅8次，相差1.3倍。",
        "其中2023年学习教育活动最为集中，共5次。",
        "4个党支部均达到一般要求。",
        "学习形式仍以专题研讨为主。",
        "活动最多的一支部开展9次，最少的二支部仅3次，前者是后者的3倍。",
    ):
        with pytest.raises(AssertionError):
            check_claims(text + wrong, stats)


# --------------------------------------------------------------------------- golden texts

#: A realistic sparse log: three units, a few rows a year, over the whole default period.
SPARSE = {
    "甲局": [
        ("2018-03-15", "", "中心组学习"),
        ("2018-06-20", "", "中心组学习"),
        ("2018-07-01", "第一党支部", "主题党日"),
        ("2019-04-12", "", "中心组学习"),
        ("2019-07-01", "第一党支部", "党课"),
        ("2019-11-20", "第二党支部", "组织生活会"),
        ("2020-05-08", "", "调研"),
        ("2021-06-30", "第一党支部", "主题党日"),
        ("2021-07-01", "第二党支部", "主题党日"),
        ("2022-03-10", "", "专题研讨"),
        ("2023-02-21", "", "中心组学习"),
        ("2023-05-16", "第一党支部", "支部党员大会"),
        ("2023-07-01", "第三党支部", "主题党日"),
        ("2023-09-12", "", "中心组学习"),
        ("2023-12-26", "第二党支部", "组织生活会"),
        ("2024-04-18", "", "中心组学习"),
    ],
    "乙局": [
        ("2019-03-05", "", "中心组学习"),
        ("2020-07-01", "机关党支部", "主题党日"),
        ("2023-06-15", "机关党支部", "党课"),
    ],
    "丙局": [
        ("2018-12-01", "综合党支部", "支委会"),
        ("2023-04-01", "综合党支部", "谈心谈话"),
        ("2024-11-11", "业务党支部", "主题党日"),
    ],
}


def sparse_sheets() -> dict[str, list[list[Any]]]:
    """The sparse log as workbook sheets, as an analyst would type them."""
    rows: list[list[Any]] = [["日期", "单位", "党支部", "活动类型", "主题", "应到人数", "实到人数"]]
    for unit, entries in SPARSE.items():
        for day, branch, kind in entries:
            rows.append([dt.date.fromisoformat(day), unit, branch or None, kind, "学习", 12, 10])
    return {
        "活动台账": rows,
        "单位信息": [
            ["单位", "党组织名称", "机关工作人员总数", "专职党务工作人员数"],
            ["甲局", "中共甲局委员会", 120, 1],
            ["乙局", "中共乙局委员会", 60, 0],
            ["丙局", None, None, None],
        ],
    }


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:

    root = tmp_path_factory.mktemp("claims")
    sparse = write_workbook(root / "sparse.xlsx", sparse_sheets())
    out = {}
    for name, source in (("sparse", sparse), ("demo", DEMO_WORKBOOK)):
        out[name] = root / name
        ingest_to_dataset([source], out[name])
    return out


GOLDEN = {
    "sparse_full_period": ("sparse", "甲局", "2017-10-18", "2024-12-31", "党的十九大以来"),
    "sparse_one_year": ("sparse", "甲局", "2023-01-01", "2023-12-31", "2023年度"),
    "demo_dense": ("demo", None, "2017-10-18", "2024-12-31", "党的十九大以来"),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_texts(name: str, datasets: dict[str, Path]) -> None:
    source, unit, start, end, label = GOLDEN[name]
    dataset = datasets[source]
    unit = unit or list_units(dataset)[0]
    params = unit_params(load_params(), unit) | {"_render": {"png": False}}
    report = UnitReport.build(dataset, unit, start, end, label, params)
    text = body_text(report)
    check_claims(text, report.stats)
    path = FIXTURES / f"golden_{name}.txt"
    if os.environ.get("REPORTKIT_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("unit", list(SPARSE))
def test_every_sparse_unit_and_period_reads_true(unit: str, datasets: dict[str, Path]) -> None:
    for start, end, label in [*PERIODS.values(), ("2017-10-18", "2024-12-31", "党的十九大以来")]:
        params = unit_params(load_params(), unit) | {"_render": {"png": False}}
        report = UnitReport.build(datasets["sparse"], unit, start, end, label, params)
        check_claims(body_text(report), report.stats)


# --------------------------------------------------------------------------- summary


def summary_text(names: Iterable[str]) -> tuple[str, list[dict[str, Any]]]:
    units = []
    for i, name in enumerate(names):
        stats = dict(rendered(name)[1], unit=f"单位{i + 1}")
        units.append(stats)
    summary = Summary(units, "党建工作汇总", {"_render": {"png": False}})
    text = "\n".join(
        b["text"] for part in SUMMARY_PARTS for b in summary.blocks(part) if "text" in b
    )
    return text, units


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            ["year-mixed", "year-all-compliant"],
            "2个单位中有1个存在党支部未达到一般要求的情况，共涉及1个党支部",
        ),
        (["year-all-compliant", "year-single-branch"], "2个单位核对的党支部均达到一般要求"),
        (
            ["year-none-compliant", "year-mixed"],
            "2个单位均存在党支部未达到一般要求的情况，共涉及3个党支部",
        ),
        (["year-single-branch"], "该单位核对的党支部各项制度均达到一般要求"),
        (["month-none-compliant"], "该单位有2个党支部未达到一般要求"),
        (["year-empty-log"], "统计期间台账未记录党建活动"),
    ],
)
def test_summary_wording_follows_the_data(names: list[str], expected: str) -> None:
    text, units = summary_text(names)
    assert expected in text
    assert not ZERO.search(text), text
    short = [u for u in units if u["branches_short"]]
    if "均达到" in text:
        assert not short
    if "均存在" in text:
        assert len(short) == len(units) >= 2


# --------------------------------------------------------------------------- the predicates


def test_predicates_on_edge_values() -> None:
    assert claims.compare(388, 296) == {"times": None, "more": "92"}
    assert claims.compare(450, 300) == {"times": "1.5", "more": None}
    assert claims.compare(3, 0) == {"times": None, "more": "3"}
    assert claims.compare(2, 2) is None
    assert claims.main_share({"a": 0, "b": 0}, ["a", "b"]) is None
    assert claims.main_share({"a": 2, "b": 2, "c": 1}, ["a", "b", "c"]) is None
    assert claims.main_share({"a": 2, "b": 1}, ["a", "b"]) == {
        "key": "a",
        "count": 2,
        "percent": 67,
        "only": False,
    }
    assert claims.extremes({"a": 5}) is None
    assert claims.peak({"2019": 3, "2020": 3, "2021": 1}) is None  # most share the top
    assert claims.peak({"2019": 1, "2020": 0, "2021": 0}) is None  # mostly empty years
    assert claims.peak({"2019": 4, "2020": 1, "2021": 1})["max"] == ["2019"]
    assert claims.whole_years("2017-10-18", "2024-12-31") == [str(y) for y in range(2018, 2025)]
    assert claims.whole_years("2023-01-02", "2023-12-31") == []
    assert claims.yearly_average({"2023": 5}, ["2023"]) is None
    assert claims.stated_average({"2022": 1, "2023": 0}, ["2022", "2023"]) is None
    assert claims.compliance({}) is None
    assert claims.compliance({"甲": True, "乙": False})["kind"] == "some"
    granularity = {
        ("2023-03-01", "2023-03-31"): None,
        ("2023-01-01", "2023-03-31"): "month",
        ("2023-01-01", "2023-12-31"): "quarter",
        ("2023-07-01", "2024-06-30"): "quarter",
        ("2017-10-18", "2024-12-31"): "year",
    }
    for (start, end), per in granularity.items():
        assert claims.table_granularity(start, end) == per, (start, end)
    assert claims.period_keys("2023-11-15", "2024-02-01", "quarter") == ["2023Q4", "2024Q1"]
    assert percent(0.125) == "13%"
    assert percent(0.9549) == "95%"
