"""Calendar windows, branch compliance and staffing, on small hand-computed fixtures."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportkit.analysis.norms import (
    MET,
    NOT_APPLICABLE,
    SHORT,
    UNIT_LEVEL,
    branches_with_groups,
    check_compliance,
    check_staffing,
    judged_periods,
    period_key,
    period_label_zh,
    whole_periods,
)
from reportkit.errors import UsageError
from reportkit.params import Period, load_params

D = dt.date


def acts(rows: list[tuple[str, str | None, str]]) -> pd.DataFrame:
    """Activities frame from (date, branch, type) rows, typed as the dataset types them."""
    return pd.DataFrame(
        {
            "date": pd.to_datetime([r[0] for r in rows]),
            "unit": "甲局",
            "branch": pd.Series([r[1] for r in rows], dtype="str"),
            "type": pd.Series([r[2] for r in rows], dtype="str"),
        }
    )


def roster(spec: dict[str, tuple[int, int]], posts: dict[str, str] | None = None) -> pd.DataFrame:
    """Roster with (正式, 预备) counts per branch; `posts` gives one member a 党内职务."""
    rows = []
    for branch, (full, probation) in spec.items():
        rows += [{"branch": branch, "category": "正式党员"}] * full
        rows += [{"branch": branch, "category": "预备党员"}] * probation
    frame = pd.DataFrame(rows).assign(unit="甲局", party_post=None, full_time_party_worker="否")
    for branch, post in (posts or {}).items():
        frame.loc[frame.index[frame["branch"] == branch][0], "party_post"] = post
    return frame


NORMS = {
    "支部党员大会": {"per": "quarter", "min": 1, "scope": "branch", "since": "2018-10-28"},
    "支委会": {
        "per": "month",
        "min": 1,
        "scope": "branch",
        "since": "2018-10-28",
        "min_full_members": 7,
    },
    "党小组会": {
        "per": "month",
        "min": 1,
        "scope": "branch",
        "since": "2018-10-28",
        "only_with_groups": True,
    },
    "组织生活会": {"per": "year", "min": 1, "scope": "branch", "since": "2018-10-28"},
    "中心组学习": {"per": "year", "min": None, "scope": "unit"},
}
PERIOD = Period(D(2018, 1, 1), D(2019, 12, 31), "测试期")


def by(entries: list[dict], branch: str, rule: str) -> dict:
    [entry] = [e for e in entries if e["branch"] == branch and e["rule"] == rule]
    return entry


# --------------------------------------------------------------------------- calendar


def test_period_keys_and_chinese_labels() -> None:
    assert period_key(D(2019, 3, 5), "month") == "2019-03"
    assert period_key(D(2019, 6, 30), "quarter") == "2019Q2"
    assert period_key(D(2019, 10, 1), "quarter") == "2019Q4"
    assert period_key(D(2020, 2, 29), "year") == "2020"
    assert period_label_zh("2019-03") == "2019年3月"
    assert period_label_zh("2019Q2") == "2019年第2季度"
    assert period_label_zh("2020") == "2020年"


def test_partial_months_at_both_ends_are_not_judged() -> None:
    # 2017-10 starts on the 18th and 2018-03 ends on the 15th: both partial.
    assert whole_periods(D(2017, 10, 18), D(2018, 3, 15), "month") == [
        "2017-11",
        "2017-12",
        "2018-01",
        "2018-02",
    ]


def test_whole_month_with_exact_boundaries_is_judged() -> None:
    assert whole_periods(D(2019, 3, 1), D(2019, 3, 31), "month") == ["2019-03"]
    assert whole_periods(D(2019, 3, 1), D(2019, 3, 30), "month") == []
    assert whole_periods(D(2019, 3, 2), D(2019, 3, 31), "month") == []
    assert whole_periods(D(2020, 2, 1), D(2020, 2, 29), "month") == ["2020-02"]  # leap year


def test_partial_quarters_at_both_ends_are_not_judged() -> None:
    # 2017Q4 starts 10-18 (partial), 2019Q1 ends 03-30 (partial).
    assert whole_periods(D(2017, 10, 18), D(2019, 3, 30), "quarter") == [
        "2018Q1",
        "2018Q2",
        "2018Q3",
        "2018Q4",
    ]
    assert whole_periods(D(2018, 4, 1), D(2018, 6, 30), "quarter") == ["2018Q2"]
    assert whole_periods(D(2018, 4, 2), D(2018, 9, 29), "quarter") == []


def test_partial_years_are_not_judged() -> None:
    assert whole_periods(D(2017, 10, 18), D(2024, 12, 31), "year") == [
        str(y) for y in range(2018, 2025)
    ]
    assert whole_periods(D(2017, 10, 18), D(2024, 12, 30), "year") == [
        str(y) for y in range(2018, 2024)
    ]


def test_rule_coming_into_force_mid_period() -> None:
    since = D(2018, 10, 28)
    months = judged_periods(D(2018, 1, 1), D(2019, 12, 31), "month", since)
    assert months[0] == "2018-11"
    assert months[-1] == "2019-12"
    assert len(months) == 14
    quarters = judged_periods(D(2018, 1, 1), D(2019, 12, 31), "quarter", since)
    assert quarters == ["2019Q1", "2019Q2", "2019Q3", "2019Q4"]
    assert judged_periods(D(2018, 1, 1), D(2019, 12, 31), "year", since) == ["2019"]


def test_rule_until_limits_the_window() -> None:
    quarters = judged_periods(D(2018, 1, 1), D(2019, 12, 31), "quarter", None, D(2018, 6, 30))
    assert quarters == ["2018Q1", "2018Q2"]
    assert judged_periods(D(2018, 1, 1), D(2018, 12, 31), "month", D(2019, 1, 1)) == []


def test_unknown_per_is_rejected() -> None:
    with pytest.raises(UsageError):
        whole_periods(D(2018, 1, 1), D(2018, 12, 31), "week")
    with pytest.raises(UsageError):
        check_compliance(acts([]), ["A"], PERIOD, {"x": {"per": "month", "min": 1, "since": "x"}})


# --------------------------------------------------------------------------- compliance


def test_quarterly_rule_met_and_short() -> None:
    # Judged quarters 2019Q1..Q4 (rule since 2018-10-28). Branch A meets every quarter; branch
    # B misses 2019Q3. The 2018-11-05 meeting lies in the partial 2018Q4 and is not judged.
    log = acts(
        [
            ("2018-11-05", "B", "支部党员大会"),
            ("2019-01-01", "A", "支部党员大会"),
            ("2019-04-10", "A", "支部党员大会"),
            ("2019-08-31", "A", "支部党员大会"),
            ("2019-12-31", "A", "支部党员大会"),
            ("2019-03-31", "B", "支部党员大会"),
            ("2019-06-01", "B", "支部党员大会"),
            ("2019-10-01", "B", "支部党员大会"),
        ]
    )
    norms = {"支部党员大会": NORMS["支部党员大会"]}
    entries = check_compliance(log, ["A", "B"], PERIOD, norms)
    a, b = by(entries, "A", "支部党员大会"), by(entries, "B", "支部党员大会")
    assert a["status"] == MET
    assert (a["periods_judged"], a["periods_met"], a["shortfall_periods"]) == (4, 4, [])
    assert a["per"] == "quarter"
    assert a["min"] == 1
    assert b["status"] == SHORT
    assert (b["periods_judged"], b["periods_met"], b["shortfall_periods"]) == (4, 3, ["2019Q3"])
    assert b["activities"] == 3  # the 2018Q4 meeting is outside the judged quarters
    assert "未达到" in b["reason"]


def test_min_above_one_counts_per_period() -> None:
    log = acts(
        [("2019-01-05", "A", "党课"), ("2019-02-05", "A", "党课"), ("2019-05-05", "A", "党课")]
    )
    norms = {"党课": {"per": "quarter", "min": 2, "scope": "branch"}}
    period = Period(D(2019, 1, 1), D(2019, 6, 30), "半年")
    [entry] = check_compliance(log, ["A"], period, norms)
    assert entry["shortfall_periods"] == ["2019Q2"]
    assert entry["periods_met"] == 1


def test_branch_with_no_activity_is_short_on_every_applicable_rule() -> None:
    log = acts([("2019-01-05", "A", "支部党员大会")])
    members = roster({"A": (9, 0), "Z": (10, 0)}, posts={"Z": "党小组长"})
    entries = check_compliance(log, ["A", "Z"], PERIOD, NORMS, members)
    z = [e for e in entries if e["branch"] == "Z"]
    # Every branch-scope rule with a numeric min applies to Z (10 正式党员, has groups).
    assert [e["rule"] for e in z] == ["支部党员大会", "支委会", "党小组会", "组织生活会"]
    assert all(e["status"] == SHORT for e in z)
    assert by(entries, "Z", "支委会")["periods_judged"] == 14
    assert by(entries, "Z", "支委会")["shortfall_periods"][:2] == ["2018-11", "2018-12"]
    assert by(entries, "Z", "组织生活会")["shortfall_periods"] == ["2019"]


def test_committee_rule_skipped_for_small_branch() -> None:
    # S: 6 正式 + 3 预备 = 9 members but fewer than 7 正式党员 -> no 支委会.
    # L: exactly 7 正式党员 -> judged. N: not on the roster -> judged (unknown size).
    members = roster({"S": (6, 3), "L": (7, 0)})
    entries = check_compliance(acts([]), ["S", "L", "N"], PERIOD, NORMS, members)
    small = by(entries, "S", "支委会")
    assert small["status"] == NOT_APPLICABLE
    assert small["reason"] == "支部正式党员不足7人，不设支委会"
    assert small["periods_judged"] == 0
    assert small["shortfall_periods"] == []
    assert by(entries, "L", "支委会")["status"] == SHORT
    assert by(entries, "N", "支委会")["status"] == SHORT
    # Without any roster the rule applies to every branch.
    assert by(check_compliance(acts([]), ["S"], PERIOD, NORMS), "S", "支委会")["status"] == SHORT


def test_party_group_rule_only_for_branches_with_groups() -> None:
    log = acts([("2019-02-01", "G2", "党小组会")])
    members = roster({"G1": (8, 0), "G2": (8, 0), "N": (8, 0)}, posts={"G1": "第一党小组组长"})
    assert branches_with_groups(log, members) == {"G1", "G2"}
    entries = check_compliance(log, ["G1", "G2", "N"], PERIOD, NORMS, members)
    assert by(entries, "G1", "党小组会")["status"] == SHORT
    g2 = by(entries, "G2", "党小组会")
    assert g2["status"] == SHORT
    assert g2["periods_met"] == 1
    assert "2019-02" not in g2["shortfall_periods"]
    none = by(entries, "N", "党小组会")
    assert none["status"] == NOT_APPLICABLE
    assert "未设党小组" in none["reason"]


def test_no_whole_period_is_not_applicable_with_reason() -> None:
    period = Period(D(2019, 1, 15), D(2019, 3, 20), "短期")
    entries = check_compliance(acts([]), ["A"], period, NORMS)
    quarterly = by(entries, "A", "支部党员大会")
    assert quarterly["status"] == NOT_APPLICABLE
    assert quarterly["reason"] == "报告期内无完整季度"
    assert by(entries, "A", "支委会")["periods_judged"] == 1  # February is whole
    # A rule in force only after the period started, with no whole quarter left.
    late = Period(D(2018, 9, 1), D(2018, 12, 30), "晚")
    entry = by(check_compliance(acts([]), ["A"], late, NORMS), "A", "支部党员大会")
    assert entry["status"] == NOT_APPLICABLE
    assert "2018年10月28日" in entry["reason"]


def test_rules_without_min_are_omitted_and_unit_rules_need_a_min() -> None:
    log = acts([("2019-03-01", None, "中心组学习"), ("2018-05-01", "", "中心组学习")])
    entries = check_compliance(log, ["A"], PERIOD, NORMS)
    assert {e["rule"] for e in entries} == {"支部党员大会", "支委会", "党小组会", "组织生活会"}
    assert all(e["branch"] == "A" for e in entries)  # unit-level rows are not a branch
    norms = {"中心组学习": {"per": "year", "min": 2, "scope": "unit"}}
    [unit] = check_compliance(log, ["A"], PERIOD, norms)
    assert unit["branch"] == UNIT_LEVEL
    assert unit["scope"] == "unit"
    assert unit["periods_judged"] == 2
    assert unit["shortfall_periods"] == ["2018", "2019"]
    norms["中心组学习"]["min"] = 1
    [unit] = check_compliance(log, ["A"], PERIOD, norms)
    assert unit["status"] == MET


def test_rule_type_override_counts_several_types() -> None:
    log = acts([("2019-01-03", "A", "支委会"), ("2019-02-03", "A", "支部党员大会")])
    norms = {"三会": {"per": "month", "min": 1, "type": ["支委会", "支部党员大会"]}}
    period = Period(D(2019, 1, 1), D(2019, 3, 31), "一季度")
    [entry] = check_compliance(log, ["A"], period, norms)
    assert entry["shortfall_periods"] == ["2019-03"]


def test_wording_never_says_violation() -> None:
    members = roster({"S": (2, 0)})
    entries = check_compliance(acts([]), ["S", "A"], PERIOD, NORMS, members)
    text = json.dumps(entries, ensure_ascii=False)
    assert "违规" not in text
    assert "违反" not in text
    assert {e["status"] for e in entries} <= {MET, SHORT, NOT_APPLICABLE}


def test_default_params_norms_load() -> None:
    params = load_params()
    entries = check_compliance(acts([]), ["A"], PERIOD, params["norms"])
    assert {e["rule"] for e in entries} == {
        "支部党员大会",
        "支委会",
        "党小组会",
        "党课",
        "主题党日",
        "组织生活会",
        "民主评议党员",
        "谈心谈话",
    }
    assert by(entries, "A", "党小组会")["status"] == NOT_APPLICABLE  # no groups known
    assert by(entries, "A", "主题党日")["periods_judged"] == 14


# --------------------------------------------------------------------------- staffing

PARAMS = {"staffing": {"min_ratio": 0.01, "max_ratio": 0.02, "min_people": 1}}


def staff(total: int | None, workers: int | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": ["甲局"],
            "org_name": [None],
            "staff_total": pd.array([total], dtype="Int64"),
            "party_workers": pd.array([workers], dtype="Int64"),
        }
    )


def test_staffing_below_norm() -> None:
    # 1% of 250 = 2.5 -> at least 3; 2% of 250 = 5.
    result = check_staffing(staff(250, 2), PARAMS)
    assert (result["required_min"], result["required_max"]) == (3, 5)
    assert result["within_norm"] is False
    assert result["level"] == "below"
    assert result["ratio"] == pytest.approx(0.008)
    assert result["shortfall"] == 1
    assert "不足1人" in result["status"]


def test_staffing_within_norm_without_float_rounding() -> None:
    # 0.01 * 700 is 7.000000000000001 in floats; the bound must still be 7.
    result = check_staffing(staff(700, 7), PARAMS)
    assert (result["required_min"], result["required_max"]) == (7, 14)
    assert result["within_norm"] is True
    assert result["ratio"] == pytest.approx(0.01)
    assert "符合" in result["status"]


def test_staffing_above_norm() -> None:
    result = check_staffing(staff(300, 7), PARAMS)  # 2% of 300 = 6
    assert result["required_max"] == 6
    assert result["within_norm"] is False
    assert result["level"] == "above"


def test_staffing_at_least_one_person() -> None:
    # 1% of 30 = 0.3 -> 1 by the at-least-one rule; 2% = 0.6, raised to 1 as well.
    one = check_staffing(staff(30, 1), PARAMS)
    assert (one["required_min"], one["required_max"], one["within_norm"]) == (1, 1, True)
    none = check_staffing(staff(30, 0), PARAMS)
    assert none["within_norm"] is False
    assert none["shortfall"] == 1


def test_staffing_missing_data_is_none() -> None:
    assert check_staffing(staff(None, 2), PARAMS)["within_norm"] is None
    missing = check_staffing(staff(500, None), PARAMS)
    assert missing["within_norm"] is None
    assert missing["required_min"] == 5
    empty = check_staffing(pd.DataFrame(columns=["unit", "staff_total", "party_workers"]), PARAMS)
    assert empty["total"] is None
    assert empty["within_norm"] is None
    assert check_staffing(None, {})["within_norm"] is None


def test_staffing_falls_back_to_roster_flags() -> None:
    members = pd.DataFrame({"branch": ["A"] * 3, "full_time_party_worker": ["是", "否", "是"]})
    result = check_staffing({"staff_total": 200, "party_workers": None}, PARAMS, members)
    assert result["party_workers"] == 2
    assert result["party_workers_source"] == "党员名册"
    assert result["within_norm"] is True


PROPERTY_NORMS = {
    "党课": {"per": "quarter", "min": 1},
    "主题党日": {"per": "month", "min": 2, "since": "2018-10-28"},
    "组织生活会": {"per": "year", "min": 1, "type": ["组织生活会", "民主评议党员"]},
    "中心组学习": {"per": "month", "min": 1, "scope": "unit"},
}


@given(
    rows=st.lists(
        st.tuples(
            st.dates(D(2017, 11, 1), D(2020, 2, 28)).map(D.isoformat),
            st.sampled_from(["一支部", "二支部", "", None]),
            st.sampled_from(["党课", "主题党日", "组织生活会", "民主评议党员", "中心组学习", None]),
        ),
        max_size=40,
    )
)
@settings(max_examples=60, deadline=None)
def test_rule_tallies_count_each_rows_period(rows: list[tuple[str, str | None, str]]) -> None:
    """Each entry's activities and shortfalls, from rows counted one by one."""
    period = Period(D(2018, 1, 1), D(2019, 12, 31), "x")
    entries = check_compliance(acts(rows), ["一支部", "二支部"], period, PROPERTY_NORMS)
    assert len(entries) == 2 * 3 + 1
    for entry in entries:
        rule = PROPERTY_NORMS[entry["rule"]]
        types = rule.get("type") or [entry["rule"]]
        since = D.fromisoformat(rule["since"]) if "since" in rule else None
        keys = judged_periods(period.start, period.end, rule["per"], since)
        tally = dict.fromkeys(keys, 0)
        for day, branch, type_ in rows:
            key = period_key(D.fromisoformat(day), rule["per"])
            mine = entry["scope"] == "unit" or (branch or "").strip() == entry["branch"]
            if mine and type_ in types and key in tally:
                tally[key] += 1
        assert entry["activities"] == sum(tally.values())
        assert entry["shortfall_periods"] == [k for k, n in tally.items() if n < rule["min"]]
