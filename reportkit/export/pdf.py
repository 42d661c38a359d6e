"""Official-format PDF (GB/T 9704-2012) from the notebook's blocks, typeset by Typst.

Why Typst: WeasyPrint spent 3–8 s laying out each report (most of it the 附件1 table); Typst's
compiler ships inside the `typst` wheel, breaks CJK lines and punctuation itself, draws SVG
natively, writes tagged PDF and PDF/A, and typesets an L demo report (20–33 pages) in about
0.2 CPU-s once its fonts are loaded (benchmarks/README.md). Most of that is the 附件1 table, so
its cells are bare strings styled once per table (see _table).

How workbook text stays text: the template (templates/export/report.typ) is passed as bytes, the
blocks as one JSON string in `sys.inputs`, and SVGs inside that JSON; the compiler's root is an
empty temporary folder. No Typst markup is ever built from strings, and `#read`, `#include` or
an image path can reach no file.

How the PDF is the same everywhere: each role's family becomes its font files
(fonts.font_files, or the file the user named), the compiler sees only those files (no system
or embedded fonts), and the creation date is the report date, never the clock. One compiler
per font set is kept per process, so a worker loads its fonts once, not once per unit.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from reportkit.errors import ReportkitError
from reportkit.export import (
    BODY_PT,
    CAPTION_PT,
    CHAR_PT,
    COMPACT_PT,
    LETTER_SPACING_PT,
    LINE_PT,
    MARGIN_MM,
    PAGE_MM,
    PAGE_NUMBER_PT,
    PAGE_NUMBER_TOP_MM,
    SMALL_PT,
    TEXT_HEIGHT_MM,
    TEXT_WIDTH_MM,
    TITLE_PT,
    as_text,
    column_widths,
    lazy_exporter,
    text_columns,
)
from reportkit.render.document import Block
from reportkit.render.fonts import ROLE_NAMES, ROLES, ResolvedFont, font_files, resolve_fonts
from reportkit.render.formats import ExecutedReport, Format

PDF_STANDARDS = ("a-1b", "a-2b", "a-2u", "a-3b", "a-3u", "a-4", "ua-1")

_MM = 72 / 25.4
# A table cell's padding (x, y) in points, normal and compact (附件1): the HTML's padding plus
# half the 0.75 pt rule on each side (CSS collapsed borders).
CELL_INSET_PT = (4.375, 1.375)
COMPACT_INSET_PT = (3.375, 0.375)
_lock = threading.Lock()


def geometry() -> dict[str, float]:
    """The page in points, for the template (the same numbers as the HTML print stylesheet)."""
    return {
        "page_width_pt": PAGE_MM[0] * _MM,
        "page_height_pt": PAGE_MM[1] * _MM,
        **{f"margin_{side}_pt": mm * _MM for side, mm in MARGIN_MM.items()},
        "text_width_pt": TEXT_WIDTH_MM * _MM,
        "body_pt": BODY_PT,
        "line_pt": LINE_PT,
        "letter_spacing_pt": LETTER_SPACING_PT,
        "indent_pt": round(2 * CHAR_PT, 2),
        "title_pt": TITLE_PT,
        "title_line_pt": round(TITLE_PT * 1.5, 2),
        "small_pt": SMALL_PT,
        "compact_pt": COMPACT_PT,
        "caption_pt": CAPTION_PT,
        "page_number_pt": PAGE_NUMBER_PT,
        "page_number_top_pt": PAGE_NUMBER_TOP_MM * _MM,
        "figure_max_height_pt": round(TEXT_HEIGHT_MM * 0.6) * _MM,
        "signature_gap_pt": round(2 * LINE_PT, 2),
        "signature_right_pt": round(4 * CHAR_PT, 2),
        "cell_inset_pt": CELL_INSET_PT,
        "compact_cell_inset_pt": COMPACT_INSET_PT,
    }


# -- fonts and the compiler -----------------------------------------------------------------

FontsKey = tuple[tuple[str, ResolvedFont], ...]


def _fonts_key(fonts: Mapping[str, Any] | None) -> FontsKey:
    resolved = resolve_fonts(fonts)
    return tuple((role, resolved[role]) for role in ROLES)


def _role_files(font: ResolvedFont) -> tuple[str, ...]:
    return (font.path,) if font.path else font_files(font.family)


def _temporary_folder(purpose: str) -> Path:
    """A folder of this process, removed when it exits."""
    folder = tempfile.mkdtemp(prefix=f"reportkit-{purpose}-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


@cache
def _empty_root() -> str:
    """An empty folder as the compiler's root: there is no file for a document to read."""
    return str(_temporary_folder("typst-root"))


def _typst_family(role: str, font: ResolvedFont, faces: Sequence[Any]) -> str:
    """The name Typst gives the role's family among its files.

    Typst trims style words from family names (e.g. "AR PL UKai CN" is "AR PL UKai" to it,
    "CN" read as "condensed"), so a face from the role's files whose name starts the family
    is the same family.
    """
    files = {str(Path(f).resolve()) for f in _role_files(font)}
    wanted = font.family.casefold()
    names = {face.family for face in faces if face.path and str(Path(face.path).resolve()) in files}
    exact = [name for name in names if name.casefold() == wanted]
    trimmed = sorted((n for n in names if wanted.startswith(n.casefold() + " ")), key=len)
    if exact or trimmed:
        return (exact or trimmed)[-1]
    where = "、".join(sorted(files)) or "（未找到字体文件）"
    raise ReportkitError(
        f"PDF 字体角色 {role}（{ROLE_NAMES[role]}）的字体“{font.family}”不在其字体文件中："
        f"{where}。请在参数 fonts.{role} 中指定已安装的字体名称或字体文件。"
    )


@dataclass(frozen=True)
class _Typesetter:
    """A compiler that sees only one font set's files, with what the JSON needs of that set:
    each role's family as Typst names it, and the table fonts' ASCII advances."""

    compiler: Any
    template: bytes
    families: dict[str, str]
    advances: dict[str, dict[str, float]]  # role -> character -> em, for _TABLE_ROLES


_TABLE_ROLES = ("heiti", "fangsong")  # a table's header and body (report.typ's show-table)


def _template(name: str) -> bytes:
    return resources.files("reportkit").joinpath(f"templates/export/{name}").read_bytes()


@lru_cache(maxsize=4)
def _compiler(key: FontsKey) -> _Typesetter:
    """The compiler for a font set. Kept per process: a worker loads its fonts once, not once
    per unit."""
    import typst

    # Typst searches folders for fonts: give it one holding links to exactly these files.
    folder = _temporary_folder("fonts")
    files = sorted({str(Path(f).resolve()) for _, font in key for f in _role_files(font)})
    for index, file in enumerate(files):
        (folder / f"{index:02d}-{Path(file).name}").symlink_to(file)
    loaded = typst.Fonts(
        include_system_fonts=False, include_embedded_fonts=False, font_paths=[str(folder)]
    )
    faces = loaded.fonts()
    families = {role: _typst_family(role, font, faces) for role, font in key}
    options = {"root": _empty_root(), "font_paths": loaded, "ignore_system_fonts": True}
    probe = typst.Compiler(
        _template("advances.typ"),
        sys_inputs={"families": json.dumps([families[role] for role in _TABLE_ROLES])},
        **options,
    )
    measured = json.loads(probe.query("<advances>", field="value", one=True))
    advances = {
        role: {chr(code): em for code, em in enumerate(ems, start=33)}
        for role, ems in zip(_TABLE_ROLES, measured, strict=True)
    }
    template = _template("report.typ")
    return _Typesetter(typst.Compiler(template, **options), template, families, advances)


# -- blocks to the template's JSON ----------------------------------------------------------

_SVG_TAG = re.compile(rb"<svg\b[^>]*>")
# As the HTML's overflow-wrap: break-word, a table cell's run of this many Latin letters, digits
# and signs (a web address, code-looking text) may break between any two of its characters,
# when it is wider than its column. Lines break only at spaces and CJK ideographs here: what
# else stands next to a run (brackets, punctuation) counts as part of it.
_LONG_RUN = re.compile(r"[!-~]{8,}")
_UNBROKEN = re.compile(r"[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ROOM_SLACK_EM = 0.5  # kerning and rounding: a run this close to full is taken as too wide
_PX_PT = 0.75


def _svg_length(tag: bytes, name: bytes) -> float | None:
    """An <svg> width or height in points (pt or px; matplotlib writes pt)."""
    found = re.search(rb"\b" + name + rb'="([\d.]+)(pt|px)?"', tag)
    if not found:
        return None
    return float(found.group(1)) * (_PX_PT if found.group(2) == b"px" else 1.0)


def _figure(block: Block) -> dict[str, Any] | None:
    """A figure with its image as SVG text or PNG bytes, and its natural size in points; a
    picture the PDF cannot draw leaves its caption, centred."""
    mime, caption = block.get("mime"), as_text(block.get("caption"))
    try:
        raw = base64.b64decode(block.get("data") or "", validate=True)
    except ValueError:
        raw = b""
    figure: dict[str, Any] = {"kind": "figure", "caption": caption}
    tag = _SVG_TAG.search(raw[:4000]) if mime == "image/svg+xml" else None
    if tag:
        width, height = _svg_length(tag.group(), b"width"), _svg_length(tag.group(), b"height")
        if width and height:
            svg = raw.decode("utf-8", errors="replace")
            return {**figure, "svg": svg, "width_pt": width, "height_pt": height}
    if mime == "image/png" and raw.startswith(b"\x89PNG") and len(raw) > 24:
        width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
        if width and height:
            size = {"width_pt": width * _PX_PT, "height_pt": height * _PX_PT}
            return {**figure, "png": list(raw), **size}
    if not caption:
        return None
    return {"kind": "paragraph", "text": caption, "lead": "", "align": "center"}


def _too_wide(text: str, room_em: float, advances: Mapping[str, float]) -> bool:
    """Whether a long Latin run in `text`, with what is glued to it, is wider than `room_em`
    (characters other than printable ASCII count as one em)."""
    return bool(_LONG_RUN.search(text)) and any(
        _LONG_RUN.search(word) and sum(advances.get(ch, 1.0) for ch in word) > room_em
        for word in _UNBROKEN.findall(text)
    )


def _table(block: Block, advances: Mapping[str, Mapping[str, float]]) -> dict[str, Any] | None:
    """A table with its cells padded to one width. `long` lists the cells (header first, then
    row by row) whose long Latin run is wider than its column: the template lets only those
    break anywhere, as a rule over every cell costs more than the rest of a long table."""
    columns = [as_text(c) for c in block.get("columns") or []]
    rows = [[as_text(v) for v in row] for row in block.get("rows") or []]
    count = max([len(columns), *(len(r) for r in rows)])
    if count == 0:
        return None
    widths = column_widths(columns, rows, 10_000)
    compact = bool(block.get("compact"))
    size, inset = (COMPACT_PT, COMPACT_INSET_PT) if compact else (SMALL_PT, CELL_INSET_PT)
    rooms = [
        (w / sum(widths) * TEXT_WIDTH_MM * _MM - 2 * inset[0]) / size - _ROOM_SLACK_EM
        for w in widths
    ]
    columns += [""] * (count - len(columns))
    rows = [row + [""] * (count - len(row)) for row in rows]
    head, body = (advances[role] for role in _TABLE_ROLES)
    long = [i for i, text in enumerate(columns) if _too_wide(text, rooms[i], head)]
    long += [
        count * (1 + r) + i
        for r, row in enumerate(rows)
        for i, text in enumerate(row)
        if _too_wide(text, rooms[i], body)
    ]
    return {
        "kind": "table",
        "caption": as_text(block.get("caption")),
        "compact": compact,
        "columns": columns,
        "rows": rows,
        "widths": [w / 10_000 for w in widths],
        "left": sorted(text_columns(rows)),
        "long": long,
    }


def _template_block(
    block: Block, advances: Mapping[str, Mapping[str, float]]
) -> dict[str, Any] | None:
    """A block as the template reads it: every text a plain string, tables and figures ready."""
    kind = block.get("kind")
    if kind in ("title", "heading"):
        level = min(max(int(block.get("level") or 1), 1), 3)
        return {"kind": kind, "level": level, "text": as_text(block.get("text"))}
    if kind == "paragraph":
        align = block.get("align") if block.get("align") in ("center", "right") else "justify"
        return {"kind": kind, "text": as_text(block.get("text")),
                "lead": as_text(block.get("lead")), "align": align}  # fmt: skip
    if kind == "table":
        return _table(block, advances)
    if kind == "figure":
        return _figure(block)
    if kind == "signature":
        return {"kind": kind, "lines": [as_text(t) for t in block.get("lines") or [] if t]}
    if kind == "page_break":
        return {"kind": kind}
    return None


def _document_json(
    blocks: Sequence[Block], title: str, lang: str, key: FontsKey, setter: _Typesetter
) -> str:
    language, _, region = (lang or "zh-CN").partition("-")
    document = {
        "title": title,
        "lang": language.lower() or "zh",
        "region": region.upper() or None,
        "geometry": geometry(),
        "long_run": _LONG_RUN.pattern,
        "fonts": {
            role: {"family": setter.families[role], "weight": font.weight} for role, font in key
        },
        "blocks": [
            b for b in (_template_block(b, setter.advances) for b in blocks) if b is not None
        ],
    }
    return json.dumps(document, ensure_ascii=False)


def blocks_to_pdf(
    blocks: Sequence[Block],
    fonts: Mapping[str, Any] | None = None,
    *,
    title: str = "",
    lang: str = "zh-CN",
    date: dt.date | None = None,
    standard: str | None = None,
) -> bytes:
    """PDF bytes for report blocks.

    `fonts`: params-style overrides (role -> family or file) or resolved fonts (ResolvedFont or
    its to_json() dict). `date` is the PDF's creation date (default 1980-01-01: never the
    clock). `standard`: a PDF standard such as "a-2b" (PDF/A-2b, for archiving), or None.
    """
    import typst

    if standard and standard not in PDF_STANDARDS:
        raise ReportkitError(
            f"参数 pdf.standard 不支持“{standard}”（可选：{', '.join(PDF_STANDARDS)}，或留空）。"
        )
    if not title:
        title = next((as_text(b.get("text")) for b in blocks if b.get("kind") == "title"), "报告")
    key = _fonts_key(fonts)
    setter = _compiler(key)
    day = date or dt.date(1980, 1, 1)
    timestamp = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    inputs = {"blocks": _document_json(blocks, title, lang, key, setter)}
    with _lock:  # one compiler serves one document at a time
        try:
            pdf = setter.compiler.compile(
                setter.template,  # as bytes on every call: the compiler keeps no copy of it
                format="pdf",
                sys_inputs=inputs,
                timestamp=timestamp,
                pdf_standards=[standard] if standard else [],
            )
        except typst.TypstError as exc:
            raise ReportkitError(f"PDF 排版失败：{exc}") from None
    if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF"):
        raise ReportkitError("PDF 生成失败：Typst 未返回内容。")
    return pdf


def notebook_to_pdf(report: ExecutedReport) -> bytes:
    """The PDF of an executed report notebook (the `pdf` format)."""
    return blocks_to_pdf(
        report.blocks,
        report.fonts,
        title=report.meta.title,
        lang=report.meta.lang,
        date=report.date,
        standard=report.pdf_standard,
    )


FORMAT = Format(
    name="pdf",
    suffix=".pdf",
    mimetype="application/pdf",
    label="Report (reportkit PDF)",
    needs=frozenset({"blocks"}),
    render=notebook_to_pdf,
    link_text="PDF",
)

__getattr__ = lazy_exporter(
    "ReportPDFExporter",
    __name__,
    "`jupyter nbconvert --to reportkit_pdf`: the official-format PDF, without code.",
    "pdf",
)
