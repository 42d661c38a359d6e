"""What a report notebook's kernel needs so that an analyst's own matplotlib figures reach the
report as reportkit's charts do: shown inline (reportkit.render.charts selects the Agg backend), as
SVG for HTML and PDF plus PNG for DOCX, in the report's CJK font, and byte-stable between runs
(no date in the files, fixed SVG ids)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def use_report_figures(params: Mapping[str, Any] | None = None) -> None:
    """Set up inline figures in the running IPython kernel; outside one, do nothing."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    import matplotlib
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    from reportkit.render.fonts import configure_matplotlib

    shell.run_line_magic("matplotlib", "inline")
    render = (params or {}).get("_render") or {}
    configure_matplotlib(render.get("fonts") or None)
    matplotlib.rcParams["svg.hashsalt"] = "reportkit"
    set_matplotlib_formats("svg", "png", bbox_inches="tight", metadata={"Date": None})


def read_backend_entry_points() -> None:
    """Have matplotlib read the backends that packages declare (entry points), which
    `%matplotlib inline` does on first use: a kernel's warm parent calls this once for all."""
    try:
        from matplotlib.backends.registry import backend_registry
    except ImportError:  # matplotlib before 3.9 reads no entry points
        return
    backend_registry.resolve_gui_or_backend("inline")
