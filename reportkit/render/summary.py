"""The summary across units, built from each unit's stats.json only (never from raw rows)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reportkit.analysis import claims
from reportkit.analysis.norms import MET, NOT_APPLICABLE
from reportkit.analysis.stats import display_name
from reportkit.data.vocabulary import KEY_TYPES, STUDY_TYPES
from reportkit.render import charts
from reportkit.render.document import Block
from reportkit.render.outline import OutlineDocument

TEMPLATE = "summary.j2"
PARTS = ("overview", "compliance", "ranking")


def _share(met: int, judged: int) -> float | None:
    return met / judged if judged else None


class Summary(OutlineDocument):
    template = TEMPLATE

    def __init__(self, units: list[dict[str, Any]], title: str, params: Mapping[str, Any]) -> None:
        super().__init__()
        self.units = units
        self.title = title
        self.params = params

    @classmethod
    def load(cls, stats_paths: Sequence[str], title: str, params: Mapping[str, Any]) -> Summary:
        units = [json.loads(Path(p).read_text(encoding="utf-8")) for p in stats_paths]
        return cls(units, title, params)

    def common_prefix(self) -> str:
        """The start all unit names share (e.g. 国家税务总局某市), when long enough to drop in
        tables: wide names squeeze every other column of a portrait page."""
        names = [u["unit"] for u in self.units]
        if len(names) < 2:
            return ""
        prefix = os.path.commonprefix(names)  # noqa: RUF071 - names, not paths: characters
        shortest = min(len(n) for n in names)
        prefix = prefix[: min(len(prefix), shortest - 2)]
        return prefix if len(prefix) >= 4 else ""

    def short_name(self, unit: str) -> str:
        return unit.removeprefix(self.common_prefix()) or unit

    def _rules(self) -> list[str]:
        return list(dict.fromkeys(e["rule"] for u in self.units for e in u["compliance"]))

    @staticmethod
    def _judged(unit: Mapping[str, Any], rule: str | None = None) -> list[Mapping[str, Any]]:
        return [
            e
            for e in unit["compliance"]
            if e["status"] != NOT_APPLICABLE and (rule is None or e["rule"] == rule)
        ]

    @classmethod
    def _met(cls, unit: Mapping[str, Any], rule: str) -> tuple[int, int]:
        """How many of a unit's judged entries for `rule` are met, out of how many."""
        judged = cls._judged(unit, rule)
        return sum(1 for e in judged if e["status"] == MET), len(judged)

    def compliance_rate(self, unit: Mapping[str, Any]) -> float | None:
        judged = self._judged(unit)
        return _share(
            sum(e["periods_met"] for e in judged), sum(e["periods_judged"] for e in judged)
        )

    def facts(self) -> dict[str, Any]:
        units = self.units
        period = units[0]["period"] if units else {"start": "", "end": "", "label": ""}
        return {
            "unit_count": len(units),
            "branch_count": sum(len(u["branches"]) for u in units),
            "start": period["start"],
            "end": period["end"],
            "total": sum(sum(u["counts"].values()) for u in units),
            "key_counts": claims.nonzero(
                {t: sum(u["counts"].get(t, 0) for u in units) for t in KEY_TYPES},
                KEY_TYPES,
            ),
            "compliance": claims.compliance(
                {u["unit"]: not u.get("branches_short") for u in units if self._judged(u)}
            ),
            "short_branches": sum(len(u.get("branches_short") or []) for u in units),
            "failed": list(self.params.get("failed_units") or []),
            "prefix": self.common_prefix(),
        }

    def tables(self) -> dict[str, Block]:
        rules = self._rules()
        overview_rows = []
        for u in self.units:
            ratio = u["staffing"].get("ratio")
            overview_rows.append(
                [
                    self.short_name(u["unit"]),
                    *(u["counts"].get(t, 0) for t in STUDY_TYPES),
                    len(u["branches"]),
                    len(u.get("branches_short") or []),
                    "—" if ratio is None else f"{ratio * 100:.1f}%",
                ]
            )
        compliance_rows = []
        for u in self.units:
            counts = [self._met(u, rule) for rule in rules]
            cells = [f"{met}/{total}" if total else "—" for met, total in counts]
            compliance_rows.append([self.short_name(u["unit"]), *cells])
        ranked = sorted(
            self.units,
            key=lambda u: (
                -(self.compliance_rate(u) or 0),
                -(sum(u["counts"].values()) / max(len(u["branches"]), 1)),
            ),
        )
        ranking_rows = [
            [
                index,
                self.short_name(u["unit"]),
                "—" if self.compliance_rate(u) is None else f"{self.compliance_rate(u) * 100:.1f}%",
                sum(u["counts"].values()),
                f"{sum(u['counts'].values()) / max(len(u['branches']), 1):.1f}",
            ]
            for index, u in enumerate(ranked, start=1)
        ]
        return {
            "overview": {
                "kind": "table",
                "caption": "各单位主要数据（次）",
                "columns": [
                    "单位",
                    *(display_name(t, self.params) for t in STUDY_TYPES),
                    "党支部数",
                    "未达一般要求的支部数",
                    "专职党务人员占比",
                ],
                "rows": overview_rows,
            },
            "compliance": {
                "kind": "table",
                "caption": "达到一般要求的支部数/核对的支部数",
                "columns": ["单位", *rules],
                "rows": compliance_rows,
            },
            "ranking": {
                "kind": "table",
                "caption": "",
                "columns": ["排序", "单位", "制度落实率", "活动总数", "支部平均活动次数"],
                "rows": ranking_rows,
            },
        }

    def figures(self, part: str) -> dict[str, Block]:
        if part != "compliance" or not any(self._judged(u) for u in self.units):
            return {}
        rules = self._rules()
        values = [[_share(*self._met(u, rule)) for rule in rules] for u in self.units]
        names = [self.short_name(u["unit"]) for u in self.units]
        return {
            "compliance": charts.heatmap(
                names,
                rules,
                values,
                "图 各单位达到一般要求的支部占比",
                render=self.params.get("_render"),
            )
        }

    def context(self) -> dict[str, Any]:
        label = self.units[0]["period"]["label"] if self.units else ""
        return {
            "units": self.units,
            "f": self.facts(),
            "title": self.title,
            "label": label,
            "dn": lambda t: display_name(t, self.params),
        }
