"""ARCHITECTURE.md's recipes, each followed once as another package would follow it: a format
and an executor registered in their entry-point groups by a real distribution on PYTHONPATH
(tests/plugin/, whose dist-info importlib.metadata reads; no monkeypatch), and an activity type
added through params. One small `reportkit run` uses all three; its HTML must equal the
built-in executor's."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from tests.e2e.helpers import manifest, reportkit
from tests.helpers import HEADER, act, xlsx

pytestmark = pytest.mark.slow

#: A plug-in distribution (module and dist-info), as another project would ship one.
PLUGIN = Path(__file__).resolve().parents[1] / "plugin"
#: The activity type recipe: a name with its aliases, and a norm that counts it.
PARAMS = """\
vocabulary:
  extra_types: {志愿服务: [志愿活动]}
norms:
  志愿服务: {per: year, min: 1, scope: unit, since: 2019-01-01}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small workbook run twice: with the plug-ins (serial, html+headings), then built-in."""
    work = tmp_path_factory.mktemp("plugins")
    rows = [
        act(日期=dt.date(2019, m, 5), 活动类型=kind, 主题=f"第{m}次")
        for m in range(1, 13)
        for kind in ("主题党日", "党课")
    ]
    rows += [act(日期=dt.date(2019, 6, 18), 活动类型="志愿活动", 主题="社区志愿服务")]  # an alias
    xlsx(work / "log.xlsx", {"活动台账": [HEADER, *rows]})
    (work / "params.yaml").write_text(PARAMS, encoding="utf-8")
    common = ["run", "log.xlsx", "--params", "params.yaml", "--period-start", "2019-01-01"]
    common += ["--period-end", "2019-12-31", "--period-label", "2019年度"]
    path = os.pathsep.join(filter(None, [str(PLUGIN), os.environ.get("PYTHONPATH")]))
    reportkit(
        *common, "--out", "plugins", "--executor", "serial", "--formats", "html,headings",
        cwd=work, env={"PYTHONPATH": path},
    )  # fmt: skip
    reportkit(*common, "--out", "builtin", "--formats", "html", cwd=work)
    return work


def test_a_plugin_executor_gives_the_builtin_bytes(runs: Path) -> None:
    ours, theirs = manifest(runs / "plugins"), manifest(runs / "builtin")
    assert [u["status"] for u in ours["units"]] == ["ok"]
    unit = ours["units"][0]["dir"]
    html = (runs / "plugins" / unit / "report.html").read_bytes()
    assert html == (runs / "builtin" / unit / "report.html").read_bytes()
    assert theirs["units"][0]["dir"] == unit


def test_a_plugin_format_is_written_beside_the_builtins(runs: Path) -> None:
    unit = manifest(runs / "plugins")["units"][0]
    written = runs / "plugins" / unit["dir"] / unit["outputs"]["headings"]
    headings = written.read_text(encoding="utf-8").splitlines()
    assert headings[0].startswith("一、")
    assert any(h.startswith("二、") for h in headings)


def test_an_activity_type_from_params_is_counted_and_judged(runs: Path) -> None:
    unit = manifest(runs / "plugins")["units"][0]["dir"]
    stats = json.loads((runs / "plugins" / unit / "stats.json").read_text(encoding="utf-8"))
    assert stats["counts"]["志愿服务"] == 1  # the row typed with its alias, 志愿活动
    [rule] = [c for c in stats["compliance"] if c["rule"] == "志愿服务"]
    assert (rule["periods_judged"], rule["periods_met"]) == (1, 1)
    html = (runs / "plugins" / unit / "report.html").read_text(encoding="utf-8")
    assert "志愿服务" in html
