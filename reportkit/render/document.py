"""The report document model: a flat list of blocks that every output format renders.

A notebook cell displays one part of a report as a bundle with two representations: `text/html`
for people reading the notebook and for the HTML export, and BLOCKS_MIME (JSON blocks) from which
the DOCX exporter builds real Word paragraphs, headings and tables. Both come from the same
blocks, so the formats cannot drift apart.

Block kinds (all plain JSON):
  {"kind": "title", "text"}
  {"kind": "heading", "level": 1|2|3, "text"}        一、 / （一） / 1.
  {"kind": "paragraph", "text", "align": "justify"|"center"|"right", "lead"?}  lead: bold opening
  {"kind": "table", "caption", "columns": [str], "rows": [[str]], "compact"?: bool}
  {"kind": "figure", "caption", "mime": "image/svg+xml"|"image/png", "data": base64}
  {"kind": "signature", "lines": [str]}               organisation, date; right-aligned
  {"kind": "page_break"}

An analyst's own cells reach the report too, in cell order, as the same blocks (so every format
shows them and none can show markup from them):
  - Markdown cells tagged `report`: headings (# 一、 level 1, ## level 2, ### and deeper level 3),
    paragraphs (a paragraph that opens in bold gets it as its bold lead), list items (one
    paragraph each, numbered "1." or bulleted "•") and tables. Code blocks are left out.
  - Outputs of code cells tagged `report`: images (a matplotlib figure: SVG, with its PNG kept
    for DOCX) become figures; `text/markdown` (IPython.display.Markdown) as above; `text/html`
    (a pandas DataFrame or Styler, IPython.display.HTML) is sanitised: only these tags keep
    a meaning (paragraphs, line breaks, bold lead, list items, tables), every
    other tag is dropped and only its text kept (script and style content dropped too). A
    table's <caption> (Styler.set_caption) is its caption.
  - Quarto-style cell options at the top of such a code cell caption its outputs:
    `#| fig-cap: 图3 ……` and `#| tbl-cap: 表1 ……`.
Never code, streams, errors, untagged outputs, or the parameters cells (papermill's injected
one included).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from functools import cache
from html.parser import HTMLParser
from typing import Any

import jinja2
import yaml

from reportkit.render.tables import as_text, column_widths, text_columns

BLOCKS_MIME = "application/vnd.reportkit.blocks+json"
#: The cell tag that puts an analyst's Markdown cell, or a code cell's outputs, in the report.
REPORT_TAG = "report"
#: Cells that never reach a report, whatever their tags.
_SKIPPED_TAGS = frozenset({"parameters", "injected-parameters"})

Block = dict[str, Any]


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reportkit", "templates/export"),
        autoescape=True,  # every text in a block may come from a workbook
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def compile_blocks_template() -> Any:
    """The compiled template of blocks_to_html (Jinja keeps it once compiled)."""
    return _environment().get_template("blocks.html.j2")


def blocks_to_html(blocks: list[Block]) -> str:
    """An HTML fragment for blocks; all text escaped, images as data URIs (no external URL)."""
    laid_out = [_with_table_layout(b) if b.get("kind") == "table" else b for b in blocks]
    return compile_blocks_template().render(blocks=laid_out)


def _with_table_layout(block: Block) -> Block:
    """A table block with its column widths (percent) and text columns (reportkit.render.tables,
    the rule PDF and DOCX use too)."""
    columns = [as_text(c) for c in block.get("columns") or []]
    rows = block.get("rows") or []
    widths = column_widths(columns, rows, 10_000)
    return {**block, "widths": [w / 100 for w in widths], "text_columns": text_columns(rows)}


def bundle(blocks: list[Block]) -> dict[str, Any]:
    """A display bundle for IPython's `display(..., raw=True)`."""
    return {"text/html": blocks_to_html(blocks), BLOCKS_MIME: {"blocks": blocks}}


def notebook_content(nb: Any) -> Iterator[tuple[list[Block], str | None]]:
    """Every piece of report content in cell order: its blocks, and for reportkit's own outputs
    the HTML the kernel already rendered from them (None for an analyst's cells)."""
    for cell in nb.get("cells", []):
        tags = set((cell.get("metadata") or {}).get("tags") or ())
        if tags & _SKIPPED_TAGS:
            continue
        tagged = REPORT_TAG in tags
        source = _joined(cell.get("source"))
        if cell.get("cell_type") == "markdown":
            if tagged:
                yield markdown_blocks(source), None
            continue
        if cell.get("cell_type") != "code":
            continue
        options = _cell_options(source)
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data") or {}
            if BLOCKS_MIME in data:
                html = _joined(data.get("text/html")) or None
                yield list(data[BLOCKS_MIME].get("blocks") or []), html
            elif tagged and (blocks := output_blocks(data, options)):
                yield blocks, None


def blocks_of_notebook(nb: Any) -> list[Block]:
    """All report blocks in a notebook, in cell order (for the DOCX and PDF exporters)."""
    return [block for blocks, _ in notebook_content(nb) for block in blocks]


def _joined(text: Any) -> str:
    """nbformat may keep multiline strings as lists of lines."""
    return "".join(text) if isinstance(text, list) else text if isinstance(text, str) else ""


_OPTION = re.compile(r"^#\|\s?(.*)$")


def _cell_options(source: str) -> dict[str, Any]:
    """Quarto-style `#| key: value` lines at the top of a code cell, as YAML."""
    lines = []
    for line in source.splitlines():
        match = _OPTION.match(line)
        if not match:
            break
        lines.append(match.group(1))
    try:
        options = yaml.safe_load("\n".join(lines)) if lines else {}
    except yaml.YAMLError:
        return {}
    return options if isinstance(options, dict) else {}


def output_blocks(data: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> list[Block]:
    """The blocks of one output of a `report` cell, from its richest representation."""
    options = options or {}
    figure_caption = str(options.get("fig-cap") or "")
    if "image/svg+xml" in data:
        svg = _joined(data["image/svg+xml"]).encode("utf-8")
        block = _figure("image/svg+xml", base64.b64encode(svg).decode("ascii"), figure_caption)
        if "image/png" in data:
            block["png"] = _joined(data["image/png"]).strip()
        return [block]
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return [_figure(mime, _joined(data[mime]).strip(), figure_caption)]
    if "text/markdown" in data:
        return markdown_blocks(_joined(data["text/markdown"]))
    if "text/html" in data:
        blocks = html_blocks(_joined(data["text/html"]))
        if options.get("tbl-cap"):
            for block in blocks:
                if block["kind"] == "table":
                    block["caption"] = str(options["tbl-cap"])
        return blocks
    return []


def _figure(mime: str, data: str, caption: str) -> Block:
    return {"kind": "figure", "caption": caption, "mime": mime, "data": data}


def _paragraph(text: str, lead: str = "") -> Block | None:
    text, lead = " ".join(text.split()), " ".join(lead.split())
    if not text and not lead:
        return None
    block: Block = {"kind": "paragraph", "text": text, "align": "justify"}
    if lead:
        block["lead"] = lead
    return block


def _table(caption: str, header_rows: list[list[str]], rows: list[list[str]]) -> Block:
    """A table block; several header rows (a DataFrame's column and index names) become one."""
    if not header_rows and rows:
        header_rows, rows = [rows[0]], rows[1:]
    width = max((len(r) for r in [*header_rows, *rows]), default=0)
    columns = []
    for i in range(width):
        parts = [r[i] for r in header_rows if i < len(r) and r[i]]
        columns.append(" ".join(dict.fromkeys(parts)))
    return {
        "kind": "table",
        "caption": caption,
        "columns": columns,
        "rows": [[*r, *([""] * (width - len(r)))] for r in rows],
    }


# -- Markdown (mistune's syntax tree) -----------------------------------------------------------


@cache
def _markdown() -> Any:
    import mistune

    return mistune.create_markdown(renderer=None, plugins=["table", "strikethrough"])


def markdown_blocks(source: str) -> list[Block]:
    """Blocks for Markdown text: headings, paragraphs, list items and tables; no code."""
    blocks: list[Block] = []
    for token in _markdown()(source):
        _markdown_token(token, blocks)
    return blocks


def _inline(tokens: list[dict[str, Any]] | None) -> str:
    parts = []
    for token in tokens or []:
        kind = token["type"]
        if kind in ("text", "codespan"):
            parts.append(token.get("raw", ""))
        elif kind in ("linebreak", "softbreak"):
            parts.append("\n" if kind == "linebreak" else "")
        elif kind == "inline_html":
            parts.append(
                " ".join(b["text"] for b in html_blocks(token.get("raw", "")) if "text" in b)
            )
        else:
            parts.append(_inline(token.get("children")))
    return "".join(parts)


def _markdown_token(token: dict[str, Any], blocks: list[Block], prefix: str = "") -> None:
    kind = token["type"]
    children = token.get("children") or []
    if kind == "heading":
        level = min(int(token.get("attrs", {}).get("level", 1)), 3)
        blocks.append(
            {"kind": "heading", "level": level, "text": " ".join(_inline(children).split())}
        )
    elif kind in ("paragraph", "block_text"):
        lead = ""
        if children and children[0]["type"] == "strong" and not prefix:
            lead, children = _inline(children[0].get("children")), children[1:]
        for i, line in enumerate(_inline(children).split("\n")):
            block = _paragraph(prefix + line if i == 0 else line, lead if i == 0 else "")
            if block:
                blocks.append(block)
    elif kind == "list":
        ordered = token.get("attrs", {}).get("ordered")
        start = int(token.get("attrs", {}).get("start") or 1)
        for n, item in enumerate(children, start=start):
            marker = f"{n}. " if ordered else "• "
            for i, child in enumerate(item.get("children") or []):
                _markdown_token(child, blocks, marker if i == 0 else "")
    elif kind == "block_quote":
        for child in children:
            _markdown_token(child, blocks)
    elif kind == "table":
        head = [_inline(c.get("children")) for part in children if part["type"] == "table_head"
                for c in part.get("children") or []]  # fmt: skip
        rows = [
            [_inline(c.get("children")) for c in row.get("children") or []]
            for part in children
            if part["type"] == "table_body"
            for row in part.get("children") or []
        ]
        blocks.append(_table("", [head], rows))
    # block_code, block_html, thematic_break, blank_line: not report content


# -- HTML (sanitised) ---------------------------------------------------------------------------


class _HTMLBlocks(HTMLParser):
    """Reads HTML into blocks; other tags than the module doc lists keep only their text."""

    _DROPPED = frozenset({"script", "style", "template", "noscript", "svg", "math", "head"})
    _BREAKS = frozenset({"div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._lead: list[str] | None = None  # collecting a bold lead
        self._lead_done = ""
        self._dropping = 0
        self._lists: list[list[int | None]] = []  # [counter] per open list; None: bullets
        self._table: dict[str, Any] | None = None
        self._in_head = False
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._DROPPED:
            self._dropping += 1
        elif self._dropping:
            return
        elif self._table is not None:
            self._table_start(tag, attrs)
        elif tag == "table":
            self._flush()
            self._table = {
                "caption": "",
                "head": [],
                "rows": [],
                "row": None,
                "span": 1,
                "td": False,
            }
        elif tag in ("p", "br", "li") or tag in self._BREAKS:
            self._flush()
            if tag == "li":
                counter = self._lists[-1] if self._lists else [None]
                if counter[0] is None:
                    self._text.append("• ")
                else:
                    counter[0] += 1
                    self._text.append(f"{counter[0]}. ")
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists.append([0 if tag == "ol" else None])
        elif tag in ("b", "strong") and not "".join(self._text).strip() and not self._lead_done:
            self._lead = []

    def _table_start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        table = self._table
        assert table is not None
        if tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr":
            table["row"], table["td"] = [], False
        elif tag in ("td", "th"):
            self._cell = []
            span = dict(attrs).get("colspan") or "1"
            table["span"] = min(int(span), 100) if span.isdigit() else 1
            table["td"] = table["td"] or tag == "td"
        elif tag == "caption":
            self._caption = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._DROPPED:
            self._dropping = max(0, self._dropping - 1)
        elif self._dropping:
            return
        elif self._table is not None:
            self._table_end(tag)
        elif tag in ("p", "li") or tag in self._BREAKS:
            self._flush()
        elif tag in ("ul", "ol") and self._lists:
            self._flush()
            self._lists.pop()
        elif tag in ("b", "strong") and self._lead is not None:
            self._lead_done = "".join(self._lead)
            self._lead = None

    def _table_end(self, tag: str) -> None:
        table = self._table
        assert table is not None
        if tag in ("td", "th") and self._cell is not None and table["row"] is not None:
            text = " ".join("".join(self._cell).split())
            table["row"].extend([text] + [""] * (table["span"] - 1))
            self._cell = None
        elif tag == "tr" and table["row"] is not None:
            # Header rows: those in <thead>, or rows of <th> only before any body row.
            is_head = (self._in_head or not table["td"]) and not table["rows"]
            (table["head"] if is_head else table["rows"]).append(table["row"])
            table["row"] = None
        elif tag == "caption" and self._caption is not None:
            table["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag == "table":
            self.blocks.append(_table(table["caption"], table["head"], table["rows"]))
            self._table = None
            self._in_head = False

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if self._table is not None:
            target = self._cell if self._cell is not None else self._caption
            if target is not None:
                target.append(data)
            return
        (self._lead if self._lead is not None else self._text).append(data)

    def _flush(self) -> None:
        if self._lead is not None:
            self._lead_done, self._lead = "".join(self._lead), None
        block = _paragraph("".join(self._text), self._lead_done)
        if block:
            self.blocks.append(block)
        self._text, self._lead_done = [], ""

    def close(self) -> None:
        super().close()
        if self._table is not None:
            self.handle_endtag("table")
        self._flush()


def html_blocks(html: str) -> list[Block]:
    """Blocks for an HTML fragment, sanitised to text and the tags the module doc lists."""
    parser = _HTMLBlocks()
    parser.feed(html)
    parser.close()
    return parser.blocks
