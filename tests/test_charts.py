"""Report charts: cropped as bbox_inches="tight" crops, drawn once per format, same bytes in
every process."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from matplotlib.figure import Figure

from reportkit.render import charts
from tests.helpers import REPO

VIEWPORT = re.compile(r'<svg[^>]* width="([\d.]+)pt" height="([\d.]+)pt" viewBox="([^"]*)"')
TEXT_ANCHOR = re.compile(r'<text [^>]*x="([-\d.]+)" y="([-\d.]+)"')
#: Branch names long enough to reach past the figure's left edge, and bar values past its right.
BRANCHES = ["机关第二党支部", "社会保险费和非税收入党支部", "12366纳税服务热线党支部", "青年党支部"]

#: Every chart a report or the summary draws, as (function, arguments).
CHARTS: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "stacked_bars": (
        charts.stacked_bars,
        (["2019", "2020", "2021"], {"党课": [3, 5, 1200], "主题党日": [12, 0, 7]}, "图1 分年度"),
    ),
    "horizontal_bars": (
        charts.horizontal_bars,
        (BRANCHES, [483, 1477, 39, 0], "图2 各党支部", "次数"),
    ),
    "heatmap": (
        charts.heatmap,
        (
            BRANCHES,
            ["党课", "主题党日"],
            [[0.5, None], [1.0, 0.25], [0.0, 1.0], [None, 0.75]],
            "图",
        ),
    ),
}


def _svg(block: dict[str, Any]) -> str:
    return base64.b64decode(block["data"]).decode("utf-8")


@pytest.mark.parametrize("name", CHARTS)
def test_svg_is_cropped_as_tight_bbox_crops(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    draw, args = CHARTS[name]
    tight: list[tuple[float, float]] = []
    own_block = charts._figure_block

    def block_and_tight_reference(fig: Figure, *rest: Any) -> dict[str, Any]:
        reference = io.BytesIO()
        fig.savefig(reference, format="svg", bbox_inches="tight")
        width, height, _ = VIEWPORT.search(reference.getvalue().decode()).groups()
        tight.append((float(width), float(height)))
        return own_block(fig, *rest)

    monkeypatch.setattr(charts, "_figure_block", block_and_tight_reference)
    svg = _svg(draw(*args, render={"png": False}))
    width, height, view_box = VIEWPORT.search(svg).groups()
    assert float(width) == pytest.approx(tight[0][0], abs=0.01)
    assert float(height) == pytest.approx(tight[0][1], abs=0.01)
    # Every label's anchor lies inside the crop, the long ones left of the figure's edge too.
    x0, y0, w, h = map(float, view_box.split())
    anchors = [
        tuple(map(float, m)) for m in re.findall(r'<text [^>]*x="([-\d.]+)" y="([-\d.]+)"', svg)
    ]
    assert anchors
    assert all(x0 <= x <= x0 + w and y0 <= y <= y0 + h for x, y in anchors), (view_box, anchors)
    if name == "horizontal_bars":
        assert x0 < 0  # the branch names reach past the figure's left edge and are kept


@pytest.mark.parametrize(("png", "draws"), [(False, 1), (True, 2)])
def test_each_format_is_drawn_once(png: bool, draws: int, monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    figure_draw = Figure.draw

    def counting_draw(self: Figure, renderer: Any) -> None:
        counted.append(type(renderer).__name__)
        figure_draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counting_draw)
    draw, args = CHARTS["stacked_bars"]
    block = draw(*args, render={"png": png})
    assert len(counted) == draws, counted
    assert ("png" in block) == png


_DRAW_ALL = """
import base64, hashlib, json, sys
sys.path.insert(0, {repo!r})
from tests.test_charts import CHARTS
digests = {{}}
for name, (draw, args) in CHARTS.items():
    block = draw(*args, render={{"png": True}})
    digests[name] = [hashlib.sha256(block[k].encode()).hexdigest() for k in ("data", "png")]
print(json.dumps(digests))
"""


def test_same_bytes_in_every_process() -> None:
    """SVG and PNG bytes do not depend on the process (ids, hash seeds, dates)."""
    script = _DRAW_ALL.format(repo=str(REPO))
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
                env={**os.environ, "PYTHONHASHSEED": seed},
            ).stdout
        )
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
