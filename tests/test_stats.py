"""compute_stats and its sections on a small hand-computed unit."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportkit.analysis.norms import SHORT, UNIT_LEVEL
from reportkit.analysis.stats import (
    activity_types,
    branch_sort_key,
    compute_stats,
    display_name,
    imbalance,
    sessions,
)
from reportkit.data.vocabulary import ACTIVITY_TYPES
from reportkit.params import Period, load_params
from tests.helpers import Unit, activities

D = dt.date
PERIOD = Period(D(2018, 1, 1), D(2019, 12, 31), "测试期")


LOG = activities(
    [
        # Boundaries: start and end day count, the day before and after do not.
        {"date": "2017-12-31", "branch": "一支部", "type": "主题党日"},
        {
            "date": "2018-01-01",
            "branch": "一支部",
            "type": "主题党日",
            "expected": 10,
            "present": 8,
        },
        {"date": "2019-12-31", "branch": "二支部", "type": "主题党日", "expected": 5, "present": 5},
        {"date": "2020-01-01", "branch": "二支部", "type": "主题党日"},
        # An afternoon time on the last day still counts.
        {"date": "2019-12-31 15:30", "branch": "一支部", "type": "党课", "expected": 6},
        {"date": "2018-03-10", "type": "中心组学习", "topic": "学习十九大", "presenter": "张"},
        {"date": "2018-03-10", "branch": "", "type": "专题研讨", "topic": "研讨"},
        {"date": "2019-06-01", "branch": "一支部", "type": "调研"},
        {"date": "2018-07-01", "branch": "一支部", "type": "调研"},
        {"date": "2019-07-01", "branch": "一支部", "type": "调研", "expected": 4, "present": 3},
        {"date": "2019-02-01", "unit": "乙局", "branch": "一支部", "type": "主题党日"},
        # A branch seen only before the period is not a branch of this report.
        {"date": "2016-05-01", "branch": "旧支部", "type": "主题党日"},
    ]
)
UNITS = pd.DataFrame(
    {
        "unit": ["甲局"],
        "org_name": [None],
        "staff_total": pd.array([250], dtype="Int64"),
        "party_workers": pd.array([2], dtype="Int64"),
    }
)
MEMBERS = pd.DataFrame(
    {
        "unit": "甲局",
        "branch": ["一支部"] * 8 + ["三支部"] * 3,
        "category": ["正式党员"] * 7 + ["预备党员"] + ["正式党员"] * 3,
        "party_post": None,
        "full_time_party_worker": "否",
    }
)
DISCIPLINE = pd.DataFrame(
    {
        "date": pd.to_datetime(
            ["2017-12-31", "2018-01-01", "2018-06-01", "2019-03-01", "2019-05-01", "2019-12-31"]
        ),
        "unit": "甲局",
        "branch": "",
        "category": ["表彰", "表彰", "第一种形态", "第一种形态", "第二种形态", "第一种形态"],
        "reason": "",
    }
)


@pytest.fixture(scope="module")
def stats() -> dict:
    data = Unit("甲局", LOG, UNITS, MEMBERS, DISCIPLINE)
    return compute_stats(data, PERIOD, load_params())


def test_json_serialisable_with_string_keys(stats: dict) -> None:
    text = json.dumps(stats, ensure_ascii=False, allow_nan=False)
    assert json.loads(text) == stats

    def walk(value: object) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (str, int, float, bool)

    walk(stats)


def test_header_fields(stats: dict) -> None:
    assert stats["unit"] == "甲局"
    assert stats["org_name"] == "中共甲局委员会"  # 单位信息 gives no 党组织名称
    assert stats["period"] == {"start": "2018-01-01", "end": "2019-12-31", "label": "测试期"}


def test_org_name_from_units_row() -> None:
    units = UNITS.assign(org_name=["中共甲局机关委员会"])
    result = compute_stats(Unit("甲局", LOG, units), PERIOD, load_params())
    assert result["org_name"] == "中共甲局机关委员会"


def test_counts_boundaries_inclusive(stats: dict) -> None:
    counts = stats["counts"]
    assert list(counts) == list(ACTIVITY_TYPES)  # every canonical type, zeros included
    assert counts["主题党日"] == 2  # 2018-01-01 and 2019-12-31; not 2017-12-31, 2020-01-01, 乙局
    assert counts["党课"] == 1
    assert counts["中心组学习"] == 1
    assert counts["专题研讨"] == 1
    assert counts["调研"] == 3
    assert counts["支委会"] == 0
    assert stats["total_activities"] == 8


def test_counts_by_year(stats: dict) -> None:
    assert list(stats["counts_by_year"]) == ["2018", "2019"]
    y2018, y2019 = stats["counts_by_year"]["2018"], stats["counts_by_year"]["2019"]
    assert (y2018["主题党日"], y2019["主题党日"]) == (1, 1)
    assert (y2018["调研"], y2019["调研"]) == (1, 2)
    assert y2018["党课"] == 0
    assert y2019["党课"] == 1
    assert set(y2018) == set(ACTIVITY_TYPES)


def test_counts_by_branch_labels_unit_level(stats: dict) -> None:
    by_branch = stats["counts_by_branch"]
    assert list(by_branch) == [UNIT_LEVEL, "一支部", "二支部", "三支部"]
    assert by_branch[UNIT_LEVEL]["中心组学习"] == 1
    assert by_branch[UNIT_LEVEL]["专题研讨"] == 1
    assert by_branch["一支部"]["调研"] == 3
    assert by_branch["一支部"]["主题党日"] == 1
    assert sum(by_branch["三支部"].values()) == 0


def test_attendance(stats: dict) -> None:
    att = stats["attendance"]
    # Rows with both figures: 10/8, 5/5, 4/3 (党课 has no 实到, so it is left out).
    assert (att["rows"], att["expected"], att["present"]) == (3, 19, 16)
    assert att["rate"] == pytest.approx(16 / 19, abs=1e-6)
    theme_day = att["by_type"]["主题党日"]
    assert (theme_day["rows"], theme_day["expected"], theme_day["present"]) == (2, 15, 13)
    assert theme_day["rate"] == pytest.approx(13 / 15, abs=1e-6)
    assert att["by_type"]["党课"]["rate"] is None
    assert att["by_branch"]["一支部"]["expected"] == 14
    assert att["by_branch"]["三支部"] == {"rows": 0, "expected": 0, "present": 0, "rate": None}


def test_branches_union_of_log_and_roster(stats: dict) -> None:
    # 旧支部 appears only in 2016, before the period: not listed, not judged.
    assert stats["branches"] == [
        {"name": "一支部", "members": 8, "full_members": 7, "activities": 5, "lifetime": None},
        {
            "name": "二支部",
            "members": None,
            "full_members": None,
            "activities": 1,
            "lifetime": None,
        },
        {"name": "三支部", "members": 3, "full_members": 3, "activities": 0, "lifetime": None},
    ]


def test_compliance_and_summary(stats: dict) -> None:
    entries = stats["compliance"]
    assert {(e["branch"], e["rule"]) for e in entries if e["rule"] == "支委会"} == {
        ("一支部", "支委会"),
        ("二支部", "支委会"),
        ("三支部", "支委会"),
    }
    three = [e for e in entries if e["branch"] == "三支部"]
    # 三支部 has no activity at all: everything applicable is short; 支委会 (3 正式) and
    # 党小组会 (no groups) do not apply.
    statuses = {e["rule"]: e["status"] for e in three}
    assert statuses["支委会"] == "不适用"
    assert statuses["党小组会"] == "不适用"
    assert statuses["主题党日"] == SHORT
    assert statuses["谈心谈话"] == SHORT
    summary = stats["compliance_summary"]
    assert summary["支委会"]["branches_judged"] == 2
    assert summary["支委会"]["branches_met"] == 0
    assert summary["党小组会"]["branches_judged"] == 0
    assert stats["branches_short"] == ["一支部", "二支部", "三支部"]


def test_staffing_in_stats(stats: dict) -> None:
    staffing = stats["staffing"]
    assert (staffing["total"], staffing["party_workers"]) == (250, 2)
    assert staffing["ratio"] == pytest.approx(0.008)
    assert staffing["within_norm"] is False


def test_discipline(stats: dict) -> None:
    disc = stats["discipline"]
    # In period: 表彰 (2018-01-01), 第一种形态 ×3 (incl. 2019-12-31), 第二种形态 ×1.
    assert disc["counts"] == {
        "表彰": 1,
        "奖励": 0,
        "第一种形态": 3,
        "第二种形态": 1,
        "第三种形态": 0,
        "第四种形态": 0,
    }
    assert (disc["rewards"], disc["forms"]) == (1, 4)
    assert disc["forms_share"]["第一种形态"] == pytest.approx(0.75)
    assert disc["forms_share"]["第四种形态"] == 0
    assert disc["reward_to_discipline_ratio"] == pytest.approx(0.25)
    assert disc["counts_by_year"]["2018"]["第一种形态"] == 1
    assert disc["has_data"] is True


def test_discipline_without_forms_has_no_ratio() -> None:
    result = compute_stats(Unit("甲局", LOG), PERIOD, {})
    disc = result["discipline"]
    assert disc["has_data"] is False
    assert disc["forms"] == 0
    assert disc["reward_to_discipline_ratio"] is None
    assert disc["forms_share"]["第一种形态"] is None


def test_imbalance_in_stats(stats: dict) -> None:
    imb = stats["imbalance"]
    # Branch totals 5, 1, 0: mean 2, population variance (9 + 1 + 4) / 3 = 14/3.
    assert imb["by_branch"] == {"一支部": 5, "二支部": 1, "三支部": 0}
    assert imb["mean"] == pytest.approx(2.0)
    assert imb["std"] == pytest.approx(math.sqrt(14 / 3), abs=1e-6)
    assert imb["cv"] == pytest.approx(math.sqrt(14 / 3) / 2, abs=1e-6)
    assert (imb["max"], imb["max_branch"], imb["max_branches"]) == (5, "一支部", ["一支部"])
    assert (imb["min"], imb["min_branch"], imb["min_branches"]) == (0, "三支部", ["三支部"])
    assert imb["max_min_ratio"] is None  # the quietest branch held nothing
    assert imb["threshold"] == pytest.approx(1.0)
    assert imb["bottom"] == ["三支部"]  # 二支部's 1 is not below half the mean


def test_imbalance_numbers() -> None:
    imb = imbalance({"A": 8, "B": 4, "C": 2, "D": 1})
    # mean 15/4 = 3.75; squared deviations 18.0625 + 0.0625 + 3.0625 + 7.5625 = 28.75.
    assert imb["mean"] == 3.75
    assert imb["total"] == 15
    assert imb["std"] == pytest.approx(math.sqrt(28.75 / 4), abs=1e-6)
    assert imb["cv"] == pytest.approx(math.sqrt(28.75 / 4) / 3.75, abs=1e-6)
    assert imb["max_min_ratio"] == 8.0
    assert imb["bottom"] == ["D"]  # below 1.875
    tie = imbalance({"A": 3, "B": 3})
    assert (tie["min"], tie["min_branch"], tie["min_branches"]) == (3, "A", ["A", "B"])
    assert tie["cv"] == 0
    assert tie["max_min_ratio"] == 1.0
    empty = imbalance({})
    assert empty["mean"] is None
    assert empty["max_branch"] is None
    assert empty["bottom"] == []


def test_research(stats: dict) -> None:
    research = stats["research"]
    assert research["count"] == 3
    assert research["by_year"] == {"2018": 1, "2019": 2}
    assert research["by_branch"] == {"一支部": 3}
    assert research["per_year"] == pytest.approx(3 / (730 / 365.25), abs=1e-4)


def test_other_units_rows_are_ignored(stats: dict) -> None:
    # 乙局's 主题党日 on 2019-02-01 must not reach 甲局's counts or branch tallies.
    assert stats["counts_by_year"]["2019"]["主题党日"] == 1
    assert stats["branches"][0]["activities"] == 5


def test_empty_unit() -> None:
    empty = LOG.iloc[0:0]
    result = compute_stats(Unit("丙局", empty), PERIOD, load_params())
    assert result["counts"]["主题党日"] == 0
    assert result["branches"] == []
    assert result["compliance"] == []
    assert result["imbalance"]["cv"] is None
    assert result["attendance"]["rate"] is None
    json.dumps(result, allow_nan=False)


def test_extra_types_and_display_names() -> None:
    params = load_params()
    params["vocabulary"]["extra_types"] = {"志愿服务": ["志愿活动"]}
    log = activities([{"date": "2019-01-01", "branch": "一支部", "type": "志愿服务"}])
    result = compute_stats(Unit("甲局", log), PERIOD, params)
    assert activity_types(params)[-1] == "志愿服务"
    assert result["counts"]["志愿服务"] == 1
    assert result["counts_by_year"]["2018"]["志愿服务"] == 0
    assert display_name("党课", params) == "专题党课"
    assert display_name("调研", params) == "调研"
    assert display_name("党课", None) == "党课"
    assert result["display_names"]["中心组学习"] == "党委理论学习中心组学习"


def test_sessions_for_appendix() -> None:
    rows = sessions(LOG, PERIOD)
    assert rows == [
        {
            "date": "2018-03-10",
            "type": "中心组学习",
            "topic": "学习十九大",
            "presenter": "张",
            "branch": "",
        },
        {"date": "2018-03-10", "type": "专题研讨", "topic": "研讨", "presenter": "", "branch": ""},
        {"date": "2019-12-31", "type": "党课", "topic": "", "presenter": "", "branch": "一支部"},
    ]
    assert [r["type"] for r in sessions(LOG, PERIOD, types=("党课",))] == ["党课"]
    assert sessions(LOG.iloc[0:0], PERIOD) == []


def test_branch_natural_order() -> None:
    names = ["第十党支部", "第二党支部", "第十一党支部", "第一党支部", "机关党支部", "第3党支部"]
    assert sorted(names, key=branch_sort_key) == [
        "机关党支部",
        "第一党支部",
        "第二党支部",
        "第3党支部",
        "第十党支部",
        "第十一党支部",
    ]


# --------------------------------------------------------------------------- grouped counts

#: Rows for the property test: a few branches (blank = unit level), canonical and unexpected types
#: (an empty or missing type too), dates either side of PERIOD, so groups tie and some are empty.
LOG_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "date": st.dates(D(2017, 11, 1), D(2020, 2, 28)).map(D.isoformat),
            "branch": st.sampled_from(["一支部", "二支部", "第十支部", "", None]),
            "type": st.sampled_from(["主题党日", "党课", "支委会", "调研", "自定义活动", "", None]),
        }
    ),
    max_size=40,
)


def _value_counts(types: pd.Series) -> list[tuple[str, int]]:
    """What each group's counts must equal: pandas value_counts, order included."""
    return [(str(t), int(n)) for t, n in types.value_counts().items()]


@given(rows=LOG_ROWS)
@settings(max_examples=60, deadline=None)
def test_grouped_counts_equal_value_counts_per_group(rows: list[dict]) -> None:
    """Counts by month, year and branch, taken in one pass, are each group's value_counts."""
    log = activities(rows) if rows else LOG.iloc[0:0]
    result = compute_stats(Unit("甲局", log), PERIOD, load_params())
    inside = log[(log["date"] >= "2018-01-01") & (log["date"] <= "2019-12-31")]
    months = inside["date"].dt.strftime("%Y-%m")
    assert {m: list(c.items()) for m, c in result["counts_by_month"].items()} == {
        m: _value_counts(inside.loc[months == m, "type"]) for m in sorted(months.unique())
    }
    assert list(result["counts_by_month"]) == sorted(months.unique())
    types = result["types"]
    years = inside["date"].dt.year.astype(str)
    for year, counts in result["counts_by_year"].items():
        found = dict(_value_counts(inside.loc[years == year, "type"]))
        assert [(t, n) for t, n in counts.items() if t in types] == [
            (t, found.get(t, 0)) for t in types
        ]
        assert [(t, n) for t, n in counts.items() if t not in types] == [
            (t, n) for t, n in found.items() if t and t not in types
        ]
    branch = inside["branch"].fillna("").str.strip()
    for name, counts in result["counts_by_branch"].items():
        rows_of = inside.loc[branch == ("" if name == UNIT_LEVEL else name), "type"]
        assert sum(counts.values()) == sum(n for t, n in _value_counts(rows_of) if t)
