"""One unit's report: load its rows, compute, and show each part of the outline.

This is the API the unit_report notebook calls, kept here so that it is tested as plain Python
and the notebook stays a thin, readable sequence of parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reportkit.analysis import claims, stats
from reportkit.analysis.norms import MET, NOT_APPLICABLE, period_label_zh
from reportkit.data.dataset import UnitData, default_dataset, load_unit
from reportkit.data.dataset_meta import list_units
from reportkit.data.vocabulary import (
    DISCIPLINE_ACTS,
    INTEGRATION_TYPES,
    LEARNING_TYPES,
    MEETING_TYPES,
    ORGANISATION_ACTS,
    SESSION_TYPES,
    STUDY_TYPES,
)
from reportkit.errors import UsageError
from reportkit.layout import write_json_atomic
from reportkit.params import Period, load_params, unit_params
from reportkit.render import charts
from reportkit.render.document import Block
from reportkit.render.outline import PARTS, OutlineDocument

TEMPLATE = "unit_report.j2"
_BY = {"year": "分年度", "quarter": "分季度", "month": "分月份"}
_PER_COLUMN = {"year": "年度", "quarter": "季度", "month": "月份"}


class UnitReport(OutlineDocument):
    template = TEMPLATE

    def __init__(
        self,
        stats: dict[str, Any],
        params: Mapping[str, Any],
        sessions: list[dict[str, Any]],
        data: UnitData | None = None,
    ) -> None:
        super().__init__()
        self.stats = stats
        self.params = params
        self.sessions = sessions
        #: This unit's rows only (`data.activities`, `.units`, `.members`, `.discipline`), for
        #: an analyst's own cells.
        self.data = data

    @classmethod
    def build(
        cls,
        dataset: str | Path,
        unit: str,
        period_start: str,
        period_end: str,
        period_label: str,
        params: Mapping[str, Any],
    ) -> UnitReport:
        """Load only this unit's rows and compute everything the outline needs.

        For the notebook run alone (in JupyterLab, without papermill): an empty `dataset` means
        reportkit.data.dataset.default_dataset(), an empty `unit` the dataset's first unit, and
        empty `params` the defaults.
        """
        dataset = Path(dataset) if dataset else default_dataset()
        if not unit:
            units = list_units(dataset)
            if not units:
                raise UsageError(f"数据集「{dataset}」中没有任何单位的记录")
            unit = units[0]
        if not params:
            params = unit_params(load_params(), unit)
        period = Period(
            dt.date.fromisoformat(period_start), dt.date.fromisoformat(period_end), period_label
        )
        data = load_unit(dataset, unit)
        unit_stats = stats.compute_stats(data, period, params)
        sessions = stats.sessions(data.activities, period, SESSION_TYPES)
        return cls(unit_stats, params, sessions, data)

    def write_stats(self, path: str | Path) -> None:
        """Write stats.json for the runner; an empty path (the notebook run alone) writes none."""
        if path:
            write_json_atomic(Path(path), self.stats)

    # -- presentation -----------------------------------------------------------------------

    def display_name(self, activity_type: str) -> str:
        return stats.display_name(activity_type, self.params)

    def facts(self) -> dict[str, Any]:
        """What the wording may claim, each from a predicate in reportkit.analysis.claims.

        Lists hold only non-zero items and a claim that does not hold is None or empty, so the
        template picks each sentence by a plain condition and never states a zero as a figure.
        """
        s = self.stats
        counts = s["counts"]
        years = self._whole_years()
        study = self._by_year(STUDY_TYPES)
        discipline = s["discipline"]
        forms = [k for k in discipline["counts"] if "形态" in k]
        threshold = (self.params.get("evidence") or {}).get("research_per_year_min", 4)
        research = s["research"]["by_year"]
        research_whole = sum(research.get(y, 0) for y in years)
        branch_counts = (s.get("imbalance") or {}).get("by_branch") or {}
        rate = s["attendance"].get("rate")
        return {
            "branch_count": len(s["branches"]),
            "total": sum(counts.values()),
            "present": s["attendance"].get("present") or 0,
            "study": claims.nonzero(counts, STUDY_TYPES),
            "study_peak": claims.peak({y: study[y] for y in years}),
            "meetings": claims.nonzero(counts, MEETING_TYPES),
            "organisation_acts": claims.nonzero(counts, ORGANISATION_ACTS),
            "compliance": claims.compliance(self._judged_branches()),
            "integration": dict(claims.nonzero(counts, INTEGRATION_TYPES)),
            "discipline_acts": claims.nonzero(counts, DISCIPLINE_ACTS),
            "forms_total": discipline["forms"],
            "forms": claims.nonzero(discipline["counts"], forms),
            "rewards_total": discipline["rewards"],
            "punish_more": claims.compare(discipline["forms"], discipline["rewards"]),
            "central": self._central(years),
            "learning_main": claims.main_share(counts, LEARNING_TYPES),
            "learning_types": LEARNING_TYPES,
            "research_count": s["research"]["count"],
            "research_years": len(years),
            "research_average": claims.stated_average(research, years),
            "research_low": bool(years) and research_whole / len(years) < threshold,
            "attendance": rate if rate and claims.whole_percent(rate) else None,
            "attendance_low": bool(rate) and rate < 0.9,
            "short_branches": list(s.get("branches_short") or []),
            "absent_norms": self._absent_norms(),
            "branches": claims.extremes(branch_counts),
            "branches_unbalanced": claims.notable_spread(branch_counts),
            "branches_compare": claims.compare(
                max(branch_counts.values(), default=0), min(branch_counts.values(), default=0)
            ),
            "session_count": len(self.sessions),
        }

    def _whole_years(self) -> list[str]:
        return claims.whole_years(self.stats["period"]["start"], self.stats["period"]["end"])

    def _by_year(self, types: tuple[str, ...]) -> dict[str, int]:
        by_year = self.stats["counts_by_year"]
        return {y: sum(by_year[y].get(t, 0) for t in types) for y in by_year}

    def _central(self, years: list[str]) -> dict[str, Any]:
        """中心组学习 over whole years: none at all, idle in most years, the lowest years, or an
        even spread with its average."""
        by_year = self._by_year(("中心组学习",))
        low = claims.low_years(by_year, years)
        lowest = min((by_year[y] for y in low), default=None)
        idle = [y for y in years if not by_year[y]]
        return {
            "none": bool(years) and not self.stats["counts"].get("中心组学习", 0),
            "years": len(years),
            "mostly_none": len(idle) * 2 > len(years),
            "years_none": len(idle),
            "average": claims.stated_average(by_year, years),
            "lowest": [y for y in low if by_year[y] == lowest],
            "lowest_count": lowest,
        }

    def _absent_norms(self) -> list[str]:
        """Branch rules judged for some branch whose activity the unit never held in the period:
        an absence that breaks a norm, which 二、 states as 未开展…."""
        held: dict[str, int] = {}
        for e in self.stats["compliance"]:
            if e["scope"] == "branch" and e["status"] != NOT_APPLICABLE:
                held[e["rule"]] = held.get(e["rule"], 0) + e["activities"]
        counts = self.stats["counts"]
        return [rule for rule, n in held.items() if not n and not counts.get(rule, 0)]

    def _judged_branches(self) -> dict[str, bool]:
        """Branch -> whether every judged rule is met; branches with nothing judged are left out."""
        judged: dict[str, bool] = {}
        for entry in self.stats["compliance"]:
            if entry["status"] == NOT_APPLICABLE or entry["scope"] != "branch":
                continue
            ok = entry["status"] == MET
            judged[entry["branch"]] = judged.get(entry["branch"], True) and ok
        return judged

    def count_list(self, items: list[tuple[str, int]], unit: str = "次") -> str:
        """专题党课12次、主题党日活动30次: non-zero counts under their display names."""
        return "、".join(f"{self.display_name(t)}{n}{unit}" for t, n in items)

    def study_by_time(self) -> tuple[str | None, list[list[Any]]]:
        """The study table's calendar unit (year, quarter or month) and its rows.

        By year only when the period spans two or more years; shorter periods get quarters or
        months; no rows when nothing was held or a single month leaves one row.
        """
        period = self.stats["period"]
        per = claims.table_granularity(period["start"], period["end"])
        if per is None:
            return None, []
        if per == "year":
            buckets = dict(self.stats["counts_by_year"])
        else:
            buckets = {k: {} for k in claims.period_keys(period["start"], period["end"], per)}
            for month, types in self.stats["counts_by_month"].items():
                bucket = buckets[claims.period_key(month, per)]
                for t, n in types.items():
                    bucket[t] = bucket.get(t, 0) + n
        rows = [
            [
                period_label_zh(key),
                *(bucket.get(t, 0) for t in STUDY_TYPES),
                sum(bucket.get(t, 0) for t in STUDY_TYPES),
            ]
            for key, bucket in buckets.items()
        ]
        return per, rows if any(row[-1] for row in rows) else []

    def tables(self) -> dict[str, Block]:
        s = self.stats
        study_names = [self.display_name(t) for t in STUDY_TYPES]
        per, study_rows = self.study_by_time()
        rules = list(dict.fromkeys(e["rule"] for e in s["compliance"]))
        per_word = {"month": "每月", "quarter": "每季度", "year": "每年"}
        rule_rows = []
        for rule in rules:
            entries = [
                e for e in s["compliance"] if e["rule"] == rule and e["status"] != NOT_APPLICABLE
            ]
            if not entries:
                continue
            first = entries[0]
            met = sum(1 for e in entries if e["status"] == MET)
            rule_rows.append(
                [rule, f"{per_word[first['per']]}不少于{first['min']}次", len(entries), met]
            )
        by_branch: dict[str, dict[str, str]] = {}
        for e in s["compliance"]:
            cell = (
                "—"
                if e["status"] == NOT_APPLICABLE
                else f"{e['periods_met']}/{e['periods_judged']}"
            )
            by_branch.setdefault(e["branch"], {})[e["rule"]] = cell
        return {
            "study_by_time": {
                "kind": "table",
                "caption": f"{_BY[per]}学习教育活动情况（次）" if per else "",
                "columns": [_PER_COLUMN[per] if per else "", *study_names, "合计"],
                "rows": study_rows,
            },
            "compliance_by_rule": {
                "kind": "table",
                "caption": "组织生活制度落实情况（按一般要求核对）",
                "columns": ["制度", "一般要求", "核对支部数", "达到支部数"],
                "rows": rule_rows,
            },
            "sessions": {
                "kind": "table",
                "caption": "",
                "compact": True,
                "columns": ["日期", "类型", "主题", "主讲（主持）"],
                "rows": [
                    [
                        x["date"],
                        self.display_name(x["type"]),
                        x["topic"] or "",
                        x["presenter"] or "",
                    ]
                    for x in self.sessions
                ],
            },
            "compliance_by_branch": {
                "kind": "table",
                "caption": "达到一般要求的周期数/可核对的周期数",
                "columns": ["党支部", *rules],
                "rows": [
                    [b, *(cells.get(r, "—") for r in rules)] for b, cells in by_branch.items()
                ],
            },
        }

    def figures(self, part: str) -> dict[str, Block]:
        """Charts are drawn only for the part that shows them (they cost ~0.1 s each).

        The by-year chart appears only beside a by-year table; figures are numbered in order.
        """
        s = self.stats
        render = self.params.get("_render")
        per, study_rows = self.study_by_time()
        by_year = per == "year" and bool(study_rows)
        if part == "part1" and by_year:
            years = list(s["counts_by_year"])
            series = {
                self.display_name(t): [s["counts_by_year"][y].get(t, 0) for y in years]
                for t in STUDY_TYPES
            }
            return {
                "study_by_year": charts.stacked_bars(
                    [f"{y}" for y in years], series, "图1 分年度学习教育活动情况", render=render
                )
            }
        if part == "part2":
            totals = (s.get("imbalance") or {}).get("by_branch") or {}
            if len(totals) >= 2:
                return {
                    "activities_by_branch": charts.horizontal_bars(
                        list(totals),
                        list(totals.values()),
                        f"图{2 if by_year else 1} 各党支部开展活动次数",
                        "次数",
                        render=render,
                    )
                }
        return {}

    def context(self) -> dict[str, Any]:
        return {
            "s": self.stats,
            "f": self.facts(),
            "c": self.stats["counts"],
            "dn": self.display_name,
            "leadership": self.params.get("leadership") or "上级党组织",
            "report_date": self.params.get("report_date") or self.stats["period"]["end"],
            "count_list": self.count_list,
            "number": claims.number,
        }

    def all_blocks(self) -> list[Block]:
        return [block for part in PARTS for block in self.blocks(part)]
