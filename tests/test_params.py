"""Parameters are checked before any unit runs, and the schema, default.yaml and the code agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from reportkit.analysis import stats
from reportkit.data.dataset import ingest_to_dataset, load_unit
from reportkit.data.dataset_meta import list_units
from reportkit.data.vocabulary import SESSION_TYPES
from reportkit.params import load_params, period_of, unit_params
from reportkit.params_schema import leaf_paths, narrative_keys, schema
from reportkit.render.fonts import resolve_fonts
from reportkit.report import UnitReport
from reportkit.resources import DEFAULT_PARAMS, DEMO_WORKBOOK
from tests.helpers import reportkit

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("args", "key", "origin"),
    [
        (["-p", "norms.党课.minimum", "2"], "norms.党课.minimum", "-p norms.党课.minimum"),
        (["-p", "staffing.min_ratio", "百分之一"], "staffing.min_ratio", "-p staffing.min_ratio"),
        (["-p", "norms.党课.per", "week"], "norms.党课.per", "-p norms.党课.per"),
        (["--period-end", "2016-12-31"], "period.end", "-p period.end"),
        (["-p", "narrative.studdy", "文字"], "narrative.studdy", "-p narrative.studdy"),
        (["-p", "fonts.bold", "SimHei"], "fonts.bold", "-p fonts.bold"),
    ],
    ids=["unknown_key", "wrong_type", "impossible_value", "bad_date_order", "narrative_key",
         "font_role"],
)  # fmt: skip
def test_bad_parameters_exit_2_naming_key_and_origin(tmp_path, args, key, origin):
    for command in (["params"], ["run", "--out", "out"]):
        proc = reportkit(*command, *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert f"参数 {key}（{origin}）" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing run, nothing written, not even the cache


def test_errors_in_a_params_file_name_the_file(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "leadership: 市委\nperiod: {start: 2020-01-01, end: 2019-01-01}\n"
        "norms: {新制度: {per: month, min: -1}}\nstafing: {min_ratio: 0.01}\n",
        encoding="utf-8",
    )
    proc = reportkit("run", "--params", "p.yaml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert "参数 stafing（文件 p.yaml）：未知参数" in proc.stderr
    assert "参数 norms.新制度.min（文件 p.yaml）：应不小于 0" in proc.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "p.yaml").write_text("period: {start: 2020-01-01, end: 2019-01-01}\n")
    proc = reportkit("params", "--params", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        "参数 period.end（文件 p.yaml）：2019-01-01 早于 period.start（2020-01-01）" in proc.stderr
    )


def test_units_must_be_units_in_the_data(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "units: {不存在的单位: {leadership: 市委}}\n", encoding="utf-8"
    )
    proc = reportkit("run", "--params", "p.yaml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert "参数 units.不存在的单位（文件 p.yaml）：数据中没有这个单位" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_params_prints_the_merged_parameters(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "leadership: 市委\nnorms: {党课: {min: 2}}\n", encoding="utf-8"
    )
    proc = reportkit(
        "params", "--params", "p.yaml", "-p", "norms.主题党日.min", "3",
        "--period-label", "2023年度", "--period-start", "2023-01-01", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    merged = yaml.safe_load(proc.stdout)
    assert merged["leadership"] == "市委"
    assert merged["norms"]["党课"] == {
        "per": "quarter", "min": 2, "scope": "branch", "since": "2018-10-28"
    }  # fmt: skip
    assert merged["norms"]["主题党日"]["min"] == 3
    assert merged["period"] == {"start": "2023-01-01", "end": "2024-12-31", "label": "2023年度"}
    assert merged["evidence"] == {"research_per_year_min": 4}
    assert merged == load_params(
        tmp_path / "p.yaml",
        [("norms.主题党日.min", "3"), ("period.label", "2023年度"), ("period.start", "2023-01-01")],
    )


def _yaml_paths(node: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Documented key paths of default.yaml; the keys of open mappings become `*`."""
    open_maps = {("norms",), ("units",), ("files",), ("narrative",)}
    open_maps |= {("vocabulary", "display_names"), ("vocabulary", "extra_types")}
    if not isinstance(node, dict) or not node:
        return {prefix}
    found: set[tuple[str, ...]] = set()
    for key, value in node.items():
        path = (*prefix, "*" if prefix in open_maps else str(key))
        found |= _yaml_paths(value, path)
    return found


class Recorder(dict):
    """A params mapping that records every key path the code reads from it."""

    def __init__(self, data: dict, seen: set, prefix: tuple[str, ...] = ()) -> None:
        super().__init__(data)
        self.seen, self.prefix = seen, prefix

    def _wrap(self, key: str, value: Any) -> Any:
        path = (*self.prefix, str(key))
        self.seen.add(path)
        return Recorder(value, self.seen, path) if isinstance(value, dict) else value

    def __getitem__(self, key: str) -> Any:
        return self._wrap(key, super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add((*self.prefix, str(key)))
        return self._wrap(key, super().__getitem__(key)) if key in self else default

    def items(self):  # iterating an open mapping reads every entry
        return [(k, self._wrap(k, v)) for k, v in super().items()]


def _generalise(path: tuple[str, ...]) -> tuple[str, ...]:
    """norms.党课.min -> norms.*.min: the keys of open mappings are data, not parameters."""
    open_maps = {"norms", "units", "files", "narrative", "display_names", "extra_types"}
    return tuple("*" if i and path[i - 1] in open_maps else p for i, p in enumerate(path))


def test_schema_default_yaml_and_code_agree(tmp_path):
    documented = leaf_paths()
    text = DEFAULT_PARAMS.read_text(encoding="utf-8")
    in_yaml = _yaml_paths(yaml.safe_load(text))
    # Open mappings are documented by their schema; default.yaml lists the norms, not units.
    in_yaml = {p for p in in_yaml if p[0] not in ("units", "files")}
    documented_top = {p for p in documented if p[0] not in ("units", "files")}

    def covered(path: tuple[str, ...], by: set[tuple[str, ...]]) -> bool:
        return any(path[: len(b)] == b or b[: len(path)] == path for b in by)

    assert {p for p in in_yaml if not covered(p, documented_top)} == set()
    # Optional keys of open mappings (a rule's `until`, `type`) are documented in comments.
    missing = {p for p in documented_top if not covered(p, in_yaml)}
    assert all("*" in p and re.search(rf"\b{p[-1]}\b", text) for p in missing), missing
    # Every key default.yaml writes is one the schema knows, and default.yaml passes it.
    load_params()

    # The keys the code reads while building a full report, with every rule and font read.
    ingest_to_dataset([DEMO_WORKBOOK], tmp_path / "ds")
    unit = list_units(tmp_path / "ds")[0]
    seen: set[tuple[str, ...]] = set()
    params = Recorder(unit_params(load_params(), unit), seen)
    period = period_of(Recorder(load_params(), seen))
    data = load_unit(tmp_path / "ds", unit)
    unit_stats = stats.compute_stats(data, period, params)
    report = UnitReport(unit_stats, params, stats.sessions(data.activities, period, SESSION_TYPES))
    report.all_blocks()
    resolve_fonts(params.get("fonts"))
    read = {_generalise(p) for p in seen if not p[0].startswith("_")}
    assert ("evidence", "research_per_year_min") in read
    assert ("imbalance", "bottom_ratio") in read
    assert {p for p in read if not covered(p, documented)} == set()


def test_narrative_keys_come_from_the_templates():
    keys = narrative_keys()
    assert {"opening", "study", "cause_planning", "summary_opening"} <= keys
    narrative = schema()["properties"]["narrative"]
    assert set(narrative["propertyNames"]["enum"]) == keys
    # Every parameter has a one-line Chinese description.
    for path in leaf_paths():
        node = schema()
        for part in path:
            node = node.get("properties", {}).get(part) or node.get("additionalProperties")
        assert node, path
        assert "\n" not in node["description"], path
        assert any("\u4e00" <= ch <= "\u9fff" for ch in node["description"]), path
