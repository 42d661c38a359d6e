"""One unit's report: load its rows, compute, and show each part of the outline.

This is the API the unit_report notebook calls, kept here so that it is tested as plain Python
and the notebook stays a thin, readable sequence of parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reportkit import charts, stats
from reportkit.dataset import UnitData, default_dataset, list_units, load_unit
from reportkit.document import Block
from reportkit.errors import UsageError
from reportkit.layout import write_json_atomic
from reportkit.outline import PARTS, OutlineDocument
from reportkit.params import Period, load_params, unit_params

TEMPLATE = "unit_report.j2"
#: The study activities the prescribed report counts in （一）, in its order.
STUDY_TYPES = ("中心组学习", "专题研讨", "大课堂", "主题党日", "党课")
APPENDIX_TYPES = ("中心组学习", "专题研讨", "党课")


def _number(value: float) -> str:
    """12.0 -> 12, 12.34 -> 12.3: figures as a report writes them."""
    return f"{value:.1f}".removesuffix(".0")


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
        reportkit.dataset.default_dataset(), an empty `unit` the dataset's first unit, and
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
        sessions = stats.sessions(data.activities, period, APPENDIX_TYPES)
        return cls(unit_stats, params, sessions, data)

    def write_stats(self, path: str | Path) -> None:
        """Write stats.json for the runner; an empty path (the notebook run alone) writes none."""
        if path:
            write_json_atomic(Path(path), self.stats)

    # -- presentation -----------------------------------------------------------------------

    def display_name(self, activity_type: str) -> str:
        return stats.display_name(activity_type, self.params)

    def facts(self) -> dict[str, Any]:
        """Figures the wording needs that are derived from stats (kept out of the template)."""
        s = self.stats
        counts = s["counts"]
        by_year = s["counts_by_year"]
        full_years = [y for y in by_year if self._whole_year(int(y))]
        central = {y: by_year[y].get("中心组学习", 0) for y in full_years}
        central_mean = sum(central.values()) / len(central) if central else 0
        low_year = min(central, key=lambda y: central[y]) if central else None
        study_totals = {y: sum(by_year[y].get(t, 0) for t in STUDY_TYPES) for y in by_year}
        peak_year = max(study_totals, key=lambda y: study_totals[y]) if study_totals else None
        learning = sum(counts.get(t, 0) for t in ("中心组学习", "专题研讨", "大课堂"))
        discipline = s["discipline"]["counts"]
        forms = {k: v for k, v in discipline.items() if "形态" in k}
        rewards_total = s["discipline"]["rewards"]
        forms_total = s["discipline"]["forms"]
        years = max((self._period_days() + 1) / 365.25, 1 / 12)
        research_per_year = s["research"]["count"] / years
        threshold = (self.params.get("evidence") or {}).get("research_per_year_min", 4)
        judged = self._judged_branches()
        imbalance = s.get("imbalance") or {}
        return {
            "branch_count": len(s["branches"]),
            "total": sum(counts.values()),
            "present": s["attendance"].get("present") or 0,
            "study_peak": {"year": peak_year, "count": study_totals[peak_year]}
            if peak_year and study_totals[peak_year]
            else None,
            "branches_judged": len(judged),
            "branches_all_met": sum(1 for ok in judged.values() if ok),
            "forms_total": forms_total,
            "forms_detail": "、".join(f"{k}{v}人次" for k, v in forms.items() if v),
            "rewards_total": rewards_total,
            "punish_more": forms_total > rewards_total,
            "central_mean": _number(central_mean),
            "central_low": {"year": low_year, "count": central[low_year]}
            if low_year is not None and central[low_year] < 0.75 * central_mean
            else None,
            "central_share": counts.get("中心组学习", 0) / learning if learning else None,
            "research_per_year": _number(research_per_year),
            "research_low": research_per_year < threshold,
            "attendance_low": (s["attendance"].get("rate") or 1) < 0.9,
            "short_branches": list(s.get("branches_short") or []),
            "imbalance": {
                "max_branch": imbalance["max_branch"],
                "max": imbalance["max"],
                "min_branch": imbalance["min_branch"],
                "min": imbalance["min"],
                "ratio": _number(imbalance["max_min_ratio"])
                if imbalance.get("max_min_ratio")
                else None,
            }
            if imbalance.get("max_branch")
            and imbalance.get("max_branch") != imbalance.get("min_branch")
            else None,
            "session_count": len(self.sessions),
        }

    def _period_days(self) -> int:
        period = self.stats["period"]
        return (dt.date.fromisoformat(period["end"]) - dt.date.fromisoformat(period["start"])).days

    def _whole_year(self, year: int) -> bool:
        period = self.stats["period"]
        return period["start"] <= f"{year}-01-01" and f"{year}-12-31" <= period["end"]

    def _judged_branches(self) -> dict[str, bool]:
        """Branch -> whether every judged rule is met; branches with nothing judged are left out."""
        judged: dict[str, bool] = {}
        for entry in self.stats["compliance"]:
            if entry["status"] == "不适用":
                continue
            ok = entry["status"] == "达到一般要求"
            judged[entry["branch"]] = judged.get(entry["branch"], True) and ok
        return judged

    def tables(self) -> dict[str, Block]:
        s = self.stats
        by_year = s["counts_by_year"]
        study_names = [self.display_name(t) for t in STUDY_TYPES]
        rules = list(dict.fromkeys(e["rule"] for e in s["compliance"]))
        per_word = {"month": "每月", "quarter": "每季度", "year": "每年"}
        rule_rows = []
        for rule in rules:
            entries = [e for e in s["compliance"] if e["rule"] == rule and e["status"] != "不适用"]
            if not entries:
                continue
            first = entries[0]
            met = sum(1 for e in entries if e["status"] == "达到一般要求")
            rule_rows.append(
                [rule, f"{per_word[first['per']]}不少于{first['min']}次", len(entries), met]
            )
        by_branch: dict[str, dict[str, str]] = {}
        for e in s["compliance"]:
            cell = "—" if e["status"] == "不适用" else f"{e['periods_met']}/{e['periods_judged']}"
            by_branch.setdefault(e["branch"], {})[e["rule"]] = cell
        return {
            "study_by_year": {
                "kind": "table",
                "caption": "分年度学习教育活动情况（次）",
                "columns": ["年度", *study_names, "合计"],
                "rows": [
                    [
                        f"{y}年",
                        *(by_year[y].get(t, 0) for t in STUDY_TYPES),
                        sum(by_year[y].get(t, 0) for t in STUDY_TYPES),
                    ]
                    for y in by_year
                ],
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
        """Charts are drawn only for the part that shows them (they cost ~0.1 s each)."""
        s = self.stats
        render = self.params.get("_render")
        if part == "part1":
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
                        "图2 各党支部开展活动次数",
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
            "attendance_rate": self.stats["attendance"].get("rate"),
        }

    def all_blocks(self) -> list[Block]:
        return [block for part in PARTS for block in self.blocks(part)]
