"""The prescribed outline: renders the wording template into report blocks, part by part.

All wording lives in templates/outline/unit_report.j2. The template does not emit text; it calls
the writer below (`doc.h1(...)`, `{% call doc.p("key") %}...{% endcall %}`), which appends
blocks. Text from workbooks is therefore never parsed as markup, and every paragraph with a key
can be replaced for one unit by params `narrative.<key>`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import jinja2

from reportkit.analysis.claims import whole_percent
from reportkit.render.document import Block, bundle, compile_blocks_template

#: Parts of a unit report, in order; the notebook shows one per cell.
PARTS: tuple[str, ...] = ("title", "part1", "part2", "part3", "signature", "appendix")

_LINE_BREAKS = re.compile(r"\s*\n\s*")


def _flatten(text: str) -> str:
    """Template bodies are wrapped for editing; the report paragraph is one line."""
    return _LINE_BREAKS.sub("", text).strip()


class BlockWriter:
    """Collects blocks as the template calls it; the template's only way to emit content."""

    def __init__(
        self,
        narrative: Mapping[str, str],
        tables: Mapping[str, Block],
        figures: Mapping[str, Block],
    ) -> None:
        self.blocks: list[Block] = []
        self._narrative = narrative
        self._tables = tables
        self._figures = figures

    def _add(self, block: Block) -> str:
        self.blocks.append(block)
        return ""

    def title(self, text: str) -> str:
        return self._add({"kind": "title", "text": text})

    def h1(self, text: str) -> str:
        return self._add({"kind": "heading", "level": 1, "text": text})

    def h2(self, text: str) -> str:
        return self._add({"kind": "heading", "level": 2, "text": text})

    def h3(self, text: str) -> str:
        return self._add({"kind": "heading", "level": 3, "text": text})

    def p(
        self, key: str | None = None, align: str = "justify", *, caller: Callable[[], str]
    ) -> str:
        """A paragraph; `narrative.<key>` in params replaces it (blank lines split paragraphs)."""
        override = self._narrative.get(key) if key else None
        if override:
            for text in re.split(r"\n\s*\n|\n", str(override).strip()):
                if text.strip():
                    self._add({"kind": "paragraph", "text": text.strip(), "align": align})
            return ""
        text = _flatten(caller())
        return self._add({"kind": "paragraph", "text": text, "align": align}) if text else ""

    def lead(self, lead: str, key: str | None = None, *, caller: Callable[[], str]) -> str:
        """A paragraph that opens with a bold lead sentence (一是……。), as official reports do."""
        override = self._narrative.get(key) if key else None
        text = str(override).strip() if override else _flatten(caller())
        return self._add({"kind": "paragraph", "lead": lead, "text": text, "align": "justify"})

    def table(self, name: str) -> str:
        block = self._tables.get(name)
        return self._add(block) if block and block.get("rows") else ""

    def figure(self, name: str) -> str:
        block = self._figures.get(name)
        return self._add(block) if block else ""

    def signature(self, *lines: str) -> str:
        return self._add({"kind": "signature", "lines": list(lines)})

    def page_break(self) -> str:
        return self._add({"kind": "page_break"})


def cn_date(value: str | dt.date) -> str:
    """2024年12月31日, without leading zeros, as official documents write dates."""
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日"


def percent(value: float | None) -> str:
    """A share as prose states it (GB/T 15835): a whole percent, 12%."""
    return "—" if value is None else f"{whole_percent(value)}%"


def org_short(org_name: str) -> str:
    """中共X委员会 -> X党委: how a report refers to its own committee."""
    match = re.fullmatch(r"中共(.+)委员会", org_name)
    return f"{match.group(1)}党委" if match else org_name


def join_cn(items: list[str], noun: str = "", limit: int = 8) -> str:
    """、-joined list, cut to 「a、b等N个党支部」 when long, so a paragraph never lists fifty."""
    if len(items) <= limit:
        return "、".join(items)
    return "、".join(items[:limit]) + f"等{len(items)}个{noun}"


def _period_zh(key: str) -> str:
    """norms.period_label_zh, imported on first use: norms needs pandas, and the driver reads
    these templates (their paragraph keys) on every run without rendering any period."""
    from reportkit.analysis.norms import period_label_zh

    return period_label_zh(key)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reportkit", "templates/outline"),
        autoescape=False,  # the output is blocks, escaped by each format's renderer
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(cn_date=cn_date, percent=percent, join_cn=join_cn, period_zh=_period_zh)
    return env


def compile_templates() -> None:
    """Compile the wording templates and the blocks' HTML template now. A kernel's warm parent
    (reportkit.run.kernels) calls this once, so that its forked kernels find them compiled:
    compiling them took about a quarter of each unit's notebook time."""
    env = _environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
    compile_blocks_template()


class OutlineDocument:
    """A document rendered part by part from one wording template, cached per part.

    Subclasses say which template, what context the wording sees, and which tables and
    figures it may place; this class renders and displays. UnitReport and Summary share it.
    """

    template: str
    params: Mapping[str, Any]

    def __init__(self) -> None:
        self._parts: dict[str, list[Block]] = {}

    def context(self) -> dict[str, Any]:
        raise NotImplementedError

    def tables(self) -> dict[str, Block]:
        return {}

    def figures(self, part: str) -> dict[str, Block]:
        return {}

    def blocks(self, part: str) -> list[Block]:
        if part not in self._parts:
            self._parts[part] = render_part(
                self.template,
                part,
                self.context(),
                narrative=self.params.get("narrative") or {},
                tables=self.tables(),
                figures=self.figures(part),
            )
        return self._parts[part]

    def show(self, part: str) -> None:
        """Display one part in a notebook: HTML for readers, blocks for the exporters."""
        from IPython.display import display

        display(bundle(self.blocks(part)), raw=True)


def render_part(
    template_name: str,
    part: str,
    context: Mapping[str, Any],
    *,
    narrative: Mapping[str, str] | None = None,
    tables: Mapping[str, Block] | None = None,
    figures: Mapping[str, Block] | None = None,
) -> list[Block]:
    """The blocks of one part (a Jinja block of the template) for one context."""
    template = _environment().get_template(template_name)
    writer = BlockWriter(narrative or {}, tables or {}, figures or {})
    if part not in template.blocks:
        raise KeyError(f"template {template_name} has no part {part!r}")
    ctx = template.new_context({**context, "doc": writer, "org_short": org_short})
    for _ in template.blocks[part](ctx):
        pass
    return writer.blocks


def paragraph_keys(template_name: str) -> set[str]:
    """The keys a template gives its paragraphs (`doc.p("key")`, `doc.lead(lead, "key")`), which
    params `narrative.<key>` may replace; read from the template's syntax tree."""
    env = _environment()
    source, _, _ = env.loader.get_source(env, template_name)
    keys: set[str] = set()
    for call in env.parse(source).find_all(jinja2.nodes.Call):
        target = call.node
        if not (isinstance(target, jinja2.nodes.Getattr) and target.attr in ("p", "lead")):
            continue
        position = 0 if target.attr == "p" else 1
        args = [*call.args, *(kw.value for kw in call.kwargs if kw.key == "key")]
        key = args[position] if len(args) > position else None
        if isinstance(key, jinja2.nodes.Const) and isinstance(key.value, str):
            keys.add(key.value)
    return keys
