"""OUT/index.html: the page leadership opens first, with key figures and links; fully offline.

Its one inline script (templates/index.js) sorts and filters the table; a Content-Security-
Policy pins it by its sha256, so no other script can run, and the page reads the same as a
plain table with scripts off.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

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


@cache
def index_script() -> tuple[str, str]:
    """The index page's script and its CSP source ('sha256-…' of its exact text)."""
    script = files("reportkit").joinpath("templates/index.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return script, f"'sha256-{digest}'"


def _href(unit_dir: str, name: str) -> str:
    """A relative link that survives any character a unit folder may hold."""
    return "/".join(quote(part) for part in (unit_dir, name) if part)


def _links(unit_dir: str, outputs: Mapping[str, str]) -> dict[str, str]:
    return {fmt: _href(unit_dir, name) for fmt, name in outputs.items() if fmt != "ipynb"}


def failure_kind(error: str | None) -> str:
    """The Chinese head of a failure cause ("执行超时", "笔记本第 4 个单元格出错（内存不足）"):
    the index is read by leadership, so exception names and messages stay out of it."""
    head = (error or "").partition("：")[0]
    return head if head and not re.search(r"[A-Za-z]", head) else "运行出错"


def render_index(
    period: Any,
    units: Sequence[Any],
    summary: Any | None,
    stats: Mapping[str, Any],
    removed: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The page. A failed unit shows the kind of failure (never the exception text, which is
    for the analyst in manifest.json and run.log), and links to its last good reports marked as
    stale (旧版) when there are any; units gone from the data are listed apart."""
    rows = []
    for u in units:
        s = stats.get(u.unit) if u.status != "failed" else None
        rows.append(
            {
                "unit": u.unit,
                "status": u.status,
                "error": failure_kind(u.error),
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
    script, script_hash = index_script()
    return _template().render(
        script=Markup(script),
        script_hash=script_hash,
        period=period.to_json(),
        rows=rows,
        removed=[{"unit": r["unit"], "links": _links(r["dir"], r["outputs"])} for r in removed],
        key_types=KEY_TYPES,
        summary=summary_links,
        failed=sum(1 for r in rows if r["status"] == "failed"),
        version=__version__,
    )
