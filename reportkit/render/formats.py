"""Output formats as plug-ins: each is a Format registered under the `reportkit.formats`
entry-point group, and every caller (the runner, the nbconvert exporters) renders through
render_formats, so a format has one code path.

A format renders an ExecutedReport: the executed notebook with what formats read from it (its
blocks, title, language, report date and PDF standard), each computed once however many
formats ask. A package adds a format by declaring, in its own pyproject.toml:

    [project.entry-points."reportkit.formats"]
    odt = "mypackage.odt:FORMAT"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.metadata import entry_points
from typing import Any

from reportkit.errors import ReportkitError

GROUP = "reportkit.formats"


@dataclass(frozen=True)
class Format:
    """One output format.

    `needs` says what the format reads from a report: "html" (the HTML page), "blocks" (the
    block model) and "png" (PNG copies of the charts, which notebooks then draw too).
    `label` is the English name nbconvert menus show; `link_text`, the Chinese text of the link
    to this format's file in a report page's header (None: no link).
    """

    name: str
    suffix: str
    mimetype: str
    label: str
    needs: frozenset[str]
    render: Callable[[ExecutedReport], bytes]
    link_text: str | None = None


class ExecutedReport:
    """An executed report notebook, and what formats read from it (each computed once)."""

    def __init__(
        self,
        nb: Any,
        fonts: Mapping[str, Any] | None = None,
        links: Mapping[str, str] | None = None,
    ) -> None:
        self.nb = nb
        self._fonts = fonts
        self.links = links  # a page header's relative links (index, other formats), or None

    @cached_property
    def blocks(self) -> list[dict[str, Any]]:
        from reportkit.render.document import blocks_of_notebook

        return blocks_of_notebook(self.nb)

    @cached_property
    def meta(self) -> Any:
        from reportkit.export import report_metadata

        return report_metadata(self.nb, self.blocks)

    @property
    def fonts(self) -> Mapping[str, Any]:
        """The run's resolved fonts, else the notebook's metadata.reportkit.fonts."""
        return self.meta.fonts if self._fonts is None else self._fonts

    @cached_property
    def parameters(self) -> Mapping[str, Any]:
        """The report's params as papermill gave them to the notebook (empty if none)."""
        given = ((self.nb.get("metadata") or {}).get("papermill") or {}).get("parameters") or {}
        params = given.get("params")
        return {**given, **params} if isinstance(params, Mapping) else dict(given)

    @cached_property
    def date(self) -> dt.date | None:
        """The report date: params report_date, else the period end (None if neither is given).

        Outputs carry it as their creation date, so the same inputs give the same bytes.
        """
        from reportkit.params import as_date

        p = self.parameters
        period = p.get("period") if isinstance(p.get("period"), Mapping) else {}
        for key, value in (
            ("report_date", p.get("report_date")),
            ("period_end", p.get("period_end")),
            ("period.end", period.get("end")),
        ):
            if value:
                return as_date(value, key)
        return None

    @cached_property
    def pdf_standard(self) -> str | None:
        """params `pdf.standard`, e.g. "a-2b" for PDF/A-2b (None: a plain PDF)."""
        pdf = self.parameters.get("pdf")
        standard = pdf.get("standard") if isinstance(pdf, Mapping) else None
        return str(standard).strip().lower() if standard else None


@cache
def registry() -> dict[str, Format]:
    """Every installed format by name, loaded once from the entry points."""
    found: dict[str, Format] = {}
    for entry in entry_points(group=GROUP):
        fmt = entry.load()
        if not isinstance(fmt, Format) or fmt.name != entry.name:
            raise ReportkitError(f"输出格式插件 {entry.value} 不是名为 {entry.name} 的 Format。")
        found.setdefault(fmt.name, fmt)
    return found


def format_names() -> tuple[str, ...]:
    """The names `--formats` accepts, from the entry points alone: a format's module (and what
    it imports) loads when something is rendered, not when a run checks its options."""
    return tuple(dict.fromkeys(entry.name for entry in entry_points(group=GROUP)))


def get_format(name: str) -> Format:
    try:
        return registry()[name]
    except KeyError:
        raise ReportkitError(
            f"不支持的输出格式：{name}（可选：{', '.join(format_names())}）"
        ) from None


def render_formats(
    nb: Any,
    names: Sequence[str],
    fonts: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
) -> dict[str, bytes]:
    """Each named format's bytes for an executed notebook, keyed by format name.

    `fonts`: the run's resolved fonts (role -> ResolvedFont or its to_json() dict); None uses
    the notebook's metadata.reportkit.fonts, as the nbconvert exporters do. `links`: the
    header links of a page inside a run's output (none for a lone export).
    """
    report = ExecutedReport(nb, fonts, links)
    return {name: get_format(name).render(report) for name in names}
