"""OUT/index.html: the page leadership opens first, with key figures and links; fully offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2

from reportkit import __version__

KEY_TYPES = ("中心组学习", "主题党日", "党课")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reportkit", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("index.html.j2")


def _href(unit_dir: str, name: str) -> str:
    """A relative link that survives any character a unit folder may hold."""
    return "/".join(quote(part) for part in (unit_dir, name) if part)


def _links(unit_dir: str, outputs: Mapping[str, str]) -> dict[str, str]:
    return {fmt: _href(unit_dir, name) for fmt, name in outputs.items() if fmt != "ipynb"}


def render_index(
    period: Any,
    units: Sequence[Any],
    summary: Any | None,
    stats: Mapping[str, Any],
    removed: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The page. A failed unit is marked so (its cause stays in run.log and the manifest) and
    links its last good reports as stale (旧版) when there are any; units gone from the data
    are listed apart."""
    rows = []
    for u in units:
        s = stats.get(u.unit) if u.status != "failed" else None
        rows.append(
            {
                "unit": u.unit,
                "status": u.status,
                "error": u.error,
                "links": _links(u.dir, u.outputs),
                "stale": _links(u.dir, u.stale_outputs),
                "counts": [(s["counts"].get(t, 0) if s else None) for t in KEY_TYPES],
                "branches": len(s["branches"]) if s else None,
                "short": len(s.get("branches_short") or []) if s else None,
                "ratio": (s["staffing"].get("ratio") if s else None),
            }
        )
    summary_links: dict[str, str] = {}
    if summary is not None and summary.status != "failed":
        summary_links = _links("", summary.outputs)
    return _template().render(
        period=period.to_json(),
        rows=rows,
        removed=[{"unit": r["unit"], "links": _links(r["dir"], r["outputs"])} for r in removed],
        key_types=KEY_TYPES,
        summary=summary_links,
        failed=sum(1 for r in rows if r["status"] == "failed"),
        version=__version__,
    )
