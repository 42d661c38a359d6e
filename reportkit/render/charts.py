"""Charts for reports, as figure blocks: SVG for HTML and PDF (vector), PNG for DOCX.

matplotlib gets the CJK font by name from reportkit.render.fonts; an unnamed fallback would pick
whatever CJK font fontconfig finds first, often a brush script.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # the backend must be chosen before pyplot is imported

from matplotlib.axes import Axes
from matplotlib.backend_bases import DrawEvent
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from reportkit.render.document import Block
from reportkit.render.fonts import configure_matplotlib

PNG_DPI = 200
_SVG_VIEWPORT = re.compile(rb'width="[^"]*" height="[^"]*" viewBox="[^"]*"')
_PALETTE = ("#b22222", "#d2691e", "#daa520", "#4682b4", "#2e8b57", "#6a5acd", "#708090")


def _figure_block(fig: Figure, caption: str, render: Mapping[str, Any] | None) -> Block:
    """SVG always (vector in HTML and PDF); a PNG too only when a DOCX will be made, since Word
    cannot show SVG and rasterising costs as much as drawing.

    Both are cropped to what is drawn (labels, legend, bar values) as bbox_inches="tight" crops,
    but each format is drawn once: "tight" draws the figure twice per file, once only to
    measure. Here the SVG is drawn at full size, measured by the renderer that just drew it,
    and cropped by its viewBox; the PNG is drawn straight into the measured box.
    """
    measured: list[Bbox] = []

    def measure(event: DrawEvent) -> None:
        # The margin bbox_inches="tight" leaves too.
        pad = matplotlib.rcParams["savefig.pad_inches"]
        measured.append(fig.get_tightbbox(event.renderer).padded(pad))

    # Labels may reach past the figure's edge (the crop keeps them): so may its white ground.
    fig.patch.set_bounds(-1, -1, 3, 3)
    listener = fig.canvas.mpl_connect("draw_event", measure)
    svg = io.BytesIO()
    # No date and a fixed hashsalt (_new_figure) keep the SVG byte-stable between runs.
    fig.savefig(svg, format="svg", metadata={"Date": None})
    fig.canvas.mpl_disconnect(listener)
    (box,) = measured
    cropped = _crop_svg(svg.getvalue(), box, fig.get_figheight())
    block = {
        "kind": "figure",
        "caption": caption,
        "mime": "image/svg+xml",
        "data": base64.b64encode(cropped).decode("ascii"),
    }
    if (render or {}).get("png", True):
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=PNG_DPI, bbox_inches=box)
        block["png"] = base64.b64encode(png.getvalue()).decode("ascii")
    return block


def _crop_svg(svg: bytes, box: Bbox, figure_height: float) -> bytes:
    """Show only `box` (inches, from the figure's bottom left) of a full-figure SVG: its size
    and viewBox become the box's (SVG units are points, from the top left)."""
    x, y = box.x0 * 72, (figure_height - box.y1) * 72
    width, height = box.width * 72, box.height * 72
    viewport = (
        f'width="{width:.3f}pt" height="{height:.3f}pt" '
        f'viewBox="{x:.3f} {y:.3f} {width:.3f} {height:.3f}"'
    )
    cropped, found = _SVG_VIEWPORT.subn(viewport.encode("ascii"), svg, count=1)
    if not found:
        raise ValueError("matplotlib wrote an <svg> tag without width, height and viewBox")
    return cropped


def _new_figure(render: Mapping[str, Any] | None, height: float = 3.2) -> tuple[Figure, Axes]:
    """A figure outside pyplot: nothing to close, and a notebook never shows it by itself."""
    family = configure_matplotlib((render or {}).get("fonts") or None)
    matplotlib.rcParams.update(
        {
            "font.family": [family],
            "axes.unicode_minus": False,
            "svg.hashsalt": "reportkit",
            "font.size": 10,
        }
    )
    fig = Figure(figsize=(6.2, height))
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def stacked_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[int]],
    caption: str,
    ylabel: str = "次数",
    render: Mapping[str, Any] | None = None,
) -> Block:
    """Stacked bars: one bar per category (e.g. year), one colour per series (e.g. type)."""
    fig, ax = _new_figure(render)
    bottom = [0] * len(categories)
    for index, (name, values) in enumerate(series.items()):
        ax.bar(categories, values, bottom=bottom, label=name, color=_PALETTE[index % len(_PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False, ncols=min(len(series), 3), loc="upper left")
    ax.set_ylim(0, max(bottom or [1]) * 1.3 or 1)
    return _figure_block(fig, caption, render)


def horizontal_bars(
    labels: Sequence[str],
    values: Sequence[float],
    caption: str,
    xlabel: str,
    render: Mapping[str, Any] | None = None,
) -> Block:
    """One bar per branch, longest first: shows imbalance at a glance."""
    pairs = sorted(zip(labels, values, strict=True), key=lambda pair: pair[1])
    fig, ax = _new_figure(render, height=max(2.0, 0.32 * len(pairs) + 0.8))
    ax.barh([p[0] for p in pairs], [p[1] for p in pairs], color=_PALETTE[0])
    ax.set_xlabel(xlabel)
    for y, (_, value) in enumerate(pairs):
        ax.text(value, y, f" {value:g}", va="center", fontsize=8)
    return _figure_block(fig, caption, render)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    caption: str,
    render: Mapping[str, Any] | None = None,
) -> Block:
    """A 0–1 share per cell (e.g. units × rules), with the share printed; None is blank."""
    fig, ax = _new_figure(render, height=max(2.4, 0.34 * len(rows) + 1.2))
    grid = [[float("nan") if v is None else v for v in row] for row in values]
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    for y, row in enumerate(values):
        for x, value in enumerate(row):
            if value is not None:
                ax.text(x, y, f"{value * 100:.0f}%", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.03, format=lambda v, _: f"{v * 100:.0f}%")
    return _figure_block(fig, caption, render)
