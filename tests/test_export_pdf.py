"""PDF export (Typst): GB/T 9704 page geometry, embedded subset CJK fonts, page numbers, tags,
injection safety, deterministic bytes."""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import sample_report as sample
from tests.sample_report import TYPST_MARKUP, build_in_two_processes, keep_pages_as_png

pytestmark = pytest.mark.skipif(
    shutil.which("pdffonts") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdffonts, pdftotext, pdftoppm) not installed",
)

MM = 72 / 25.4
TEXT_LEFT, TEXT_RIGHT = 28 * MM, (210 - 26) * MM
TEXT_TOP, TEXT_BOTTOM = 37 * MM, (297 - 35) * MM
TOLERANCE = 1 * MM
ONE_CHAR = 14.0  # page numbers sit one (4号) character in from the text area's edge


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reportkit.render.formats import render_formats

    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(render_formats(sample.sample_notebook(), ["pdf"])["pdf"])
    return path


def _text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _squash(text: str) -> str:
    return "".join(text.split())


def test_fonts_are_embedded_subsets(pdf_path: Path) -> None:
    out = subprocess.run(
        ["pdffonts", str(pdf_path)], capture_output=True, text=True, check=True
    ).stdout
    rows = out.splitlines()[2:]
    assert rows
    cjk = 0
    for row in rows:
        assert "Type 3" not in row, row
        fields = row.split()
        # name type... encoding emb sub uni object ID
        emb, sub = fields[-5], fields[-4]
        assert (emb, sub) == ("yes", "yes"), row
        name = fields[0]
        assert name[6] == "+", row  # subset tag ABCDEF+
        if "CJK" in name or "UKai" in name or "Song" in name or "Hei" in name or "Kai" in name:
            cjk += 1
    assert cjk >= 3  # body (仿宋 stand-in), 黑体, 楷体 at least


def test_text_in_order_and_escaped(pdf_path: Path) -> None:
    text = _squash(_text(pdf_path))
    assert _squash(sample.TITLE) in text
    positions = [text.index(_squash(h)) for _, h in sample.HEADINGS]
    assert positions == sorted(positions)
    assert _squash(sample.HOSTILE) in text  # shown as text, never run
    for marker in (
        "SECRET_CODE_INPUT_42",
        "STREAM_OUTPUT_MUST_NOT_APPEAR",
        "ERROR_OUTPUT_MUST_NOT_APPEAR",
        "Traceback",
    ):
        assert marker not in text


def test_a4_pages(pdf_path: Path) -> None:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf_path))
    assert len(reader.pages) >= 3
    for page in reader.pages:
        box = page.mediabox
        assert abs(float(box.width) - 595.3) < 1
        assert abs(float(box.height) - 841.9) < 1
    assert reader.metadata.title == sample.TITLE


@pytest.fixture(scope="module")
def pages(pdf_path: Path) -> list[dict]:
    import pdfplumber

    found = []
    with pdfplumber.open(str(pdf_path)) as pdf:
        for page in pdf.pages:
            chars = [c for c in page.chars if c["text"].strip()]
            footer = [c for c in page.chars if c["top"] > TEXT_BOTTOM + 1 * MM]
            body = [c for c in chars if c["top"] <= TEXT_BOTTOM + 1 * MM]
            found.append(
                {
                    "body": body,
                    "footer": sorted(footer, key=lambda c: c["x0"]),
                    "height": page.height,
                }
            )
    return found


#: Full-width punctuation whose mark sits in the left half of its box. At a line's end it is
#: set half-width (GB/T 15834-2011 5.1.10), so only that half counts against the text area.
CLOSING_PUNCTUATION = set("，。、；：？！）》」』】”’")


def test_text_stays_in_the_text_area(pages: list[dict]) -> None:
    for number, page in enumerate(pages, 1):
        for c in page["body"]:
            where = f"page {number}: {c['text']!r} at {c['x0']:.1f},{c['top']:.1f}"
            right = c["x1"] - (c["size"] / 2 if c["text"] in CLOSING_PUNCTUATION else 0)
            assert c["x0"] >= TEXT_LEFT - TOLERANCE, where
            assert right <= TEXT_RIGHT + TOLERANCE, where
            assert c["top"] >= TEXT_TOP - TOLERANCE, where
            assert c["bottom"] <= TEXT_BOTTOM + TOLERANCE, where


def test_body_text_is_16pt_with_28_characters_a_line(pages: list[dict]) -> None:
    sizes = collections.Counter(round(c["size"], 1) for p in pages for c in p["body"])
    assert abs(sizes.most_common(1)[0][0] - 16) <= 0.5
    paragraph_lines = 0
    for page in pages:
        by_line = collections.defaultdict(list)
        for c in page["body"]:
            by_line[round(c["top"])].append(c)
        for chars in by_line.values():
            if "党委坚持以习近平新时代" in "".join(c["text"] for c in chars):
                paragraph_lines += 1
                assert all(abs(c["size"] - 16) <= 0.5 for c in chars)
    assert paragraph_lines >= 20
    # A full page of body text has 22 lines; full lines of Chinese hold 28 characters
    # (lines with half-width digits hold a few more).
    lines = collections.Counter(
        round(c["top"]) for c in pages[1]["body"] if abs(c["size"] - 16) <= 0.5
    )
    assert len(lines) == 22
    assert collections.Counter(lines.values()).most_common(1)[0][0] == 28


def test_page_numbers(pages: list[dict]) -> None:
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        footer = page["footer"]
        assert "".join(c["text"] for c in footer) == f"— {number} —"
        assert all(abs(c["size"] - 14) <= 0.5 for c in footer)
        # The em dashes' middle sits about 2 mm above the baseline: their top 7 mm below the
        # text area puts the baseline 8-9 mm below it. (The baseline, not pdfplumber's `top`,
        # which also depends on the ascent an engine writes into the font descriptor.)
        baseline = float(page["height"]) - footer[0]["matrix"][5]
        assert TEXT_BOTTOM + 8 * MM < baseline < TEXT_BOTTOM + 9 * MM, baseline - TEXT_BOTTOM
        if number % 2:  # odd: right-aligned, one character in
            assert abs(footer[-1]["x1"] - (TEXT_RIGHT - ONE_CHAR)) < TOLERANCE
        else:  # even: left-aligned, one character in
            assert abs(footer[0]["x0"] - (TEXT_LEFT + ONE_CHAR)) < TOLERANCE


def test_table_spans_pages_with_repeated_header(pdf_path: Path) -> None:
    text = _text(pdf_path)
    pages_with_header = [p for p in text.split("\f") if "活动主题" in p]
    assert len(pages_with_header) >= 2
    assert "第60党支部" in text


def test_pages_are_not_blank(pdf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from PIL import Image, ImageStat

    images = keep_pages_as_png(pdf_path, "sample-page", tmp_path_factory)
    assert len(images) == 2
    for image in images:
        stat = ImageStat.Stat(Image.open(image).convert("L"))
        assert stat.var[0] > 100, image


def test_workbook_text_is_never_typst_markup(tmp_path: Path) -> None:
    from reportkit.export.pdf import blocks_to_pdf

    values = list(TYPST_MARKUP)
    joined = " ".join(values)
    blocks = [
        {"kind": "title", "text": f"标题{joined}"},
        {"kind": "heading", "level": 1, "text": f"一、{joined}"},
        {"kind": "paragraph", "text": joined, "lead": "*lead*"},
        {"kind": "table", "caption": joined, "columns": ["党支部", "主题"],
         "rows": [[v, f"主题{v}"] for v in values]},
        {"kind": "signature", "lines": [joined]},
    ]  # fmt: skip
    path = tmp_path / "markup.pdf"
    path.write_bytes(blocks_to_pdf(blocks))
    text = _squash(_text(path))
    for value in [*values, "*lead*"]:
        assert _squash(value) in text, value
    assert "root:" not in text  # nothing of /etc/passwd was read


CODE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # no break inside
WIDE_TABLE = {
    "kind": "table",
    "columns": ["日期", "类型", "主题", "编码"],
    "rows": [["2024-03-05", "主题党日", "学习党章（ABCDEFGHIJ）", f"见{CODE}"]] * 2,
}


def test_long_latin_runs_break_only_when_wider_than_their_column() -> None:
    from reportkit.export.pdf import _compiler, _fonts_key, _table

    table = _table(WIDE_TABLE, _compiler(_fonts_key(None)).advances)
    assert table is not None
    # Header first, then row by row: only the code in the last column is too wide; the dates
    # and the bracketed run fit their columns and stay as they are.
    assert table["long"] == [7, 11]


def test_too_wide_latin_runs_break_inside_their_column(tmp_path: Path) -> None:
    import pdfplumber

    from reportkit.export.pdf import blocks_to_pdf

    path = tmp_path / "wide.pdf"
    path.write_bytes(blocks_to_pdf([WIDE_TABLE]))
    with pdfplumber.open(str(path)) as pdf:
        chars = [c for c in pdf.pages[0].chars if c["text"].strip()]
    found = "".join(c["text"] for c in chars)
    assert CODE in found
    code = [c for c in chars if c["text"] in CODE and c["x0"] > TEXT_LEFT + 250]
    assert len({round(c["top"]) for c in code}) >= 6  # broken over lines, in both rows
    assert max(c["x1"] for c in chars) <= TEXT_RIGHT + TOLERANCE
    dates = [c for c in chars if c["x0"] < TEXT_LEFT + 80 and c["text"].isdigit()]
    assert len({round(c["top"]) for c in dates}) == 2  # each date on one line


def test_template_evaluates_nothing_and_imports_no_package() -> None:
    from importlib import resources

    template = resources.files("reportkit").joinpath("templates/export/report.typ").read_text()
    assert "eval(" not in template
    assert "@preview" not in template
    assert "#import" not in template
    assert "read(" not in template
    assert "include" not in template


def test_tagged_with_title_and_language(pdf_path: Path) -> None:
    from pypdf import PdfReader

    info = subprocess.run(
        ["pdfinfo", str(pdf_path)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info
    assert re.search(rf"^Title:\s+{re.escape(sample.TITLE)}$", info, re.M), info
    assert PdfReader(str(pdf_path)).trailer["/Root"]["/Lang"] == "zh-CN"


def test_pdf_a_2b_on_request(tmp_path: Path) -> None:
    from reportkit.render.formats import render_formats

    nb = sample.sample_notebook()
    nb.metadata["papermill"] = {"parameters": {"params": {"pdf": {"standard": "a-2b"}}}}
    data = render_formats(nb, ["pdf"])["pdf"]
    assert b"<pdfaid:part>2</pdfaid:part>" in data
    assert b"<pdfaid:conformance>B</pdfaid:conformance>" in data
    assert b"pdfaid:part" not in render_formats(sample.sample_notebook(), ["pdf"])["pdf"]


def test_unknown_pdf_standard_is_a_chinese_error() -> None:
    from reportkit.errors import ReportkitError
    from reportkit.export.pdf import blocks_to_pdf

    with pytest.raises(ReportkitError, match=r"pdf\.standard"):
        blocks_to_pdf([{"kind": "paragraph", "text": "正文"}], standard="x-9")


@pytest.mark.slow
def test_same_report_same_bytes_two_days_apart(tmp_path: Path) -> None:
    first, second = build_in_two_processes(tmp_path, "pdf")
    assert first.startswith(b"%PDF")
    assert first == second


def test_creation_date_is_the_report_date(pdf_path: Path) -> None:
    from reportkit.render.formats import render_formats

    nb = sample.sample_notebook()
    nb.metadata["papermill"] = {"parameters": {"period_end": "2024-12-31", "params": {}}}
    info = subprocess.run(
        ["pdfinfo", "-isodates", "-"],
        input=render_formats(nb, ["pdf"])["pdf"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert re.search(r"^CreationDate:\s+2024-12-31T00:00:00", info, re.M), info


def test_override_font_file_is_used(tmp_path: Path) -> None:
    from reportkit.export.pdf import blocks_to_pdf
    from reportkit.render.fonts import font_files, resolve_fonts

    files = font_files(resolve_fonts()["heiti"].family)
    assert files, "the 黑体 stand-in is a file fontconfig lists"
    pdf = blocks_to_pdf(
        [
            {"kind": "heading", "level": 1, "text": "一、标题"},
            {"kind": "paragraph", "text": "正文"},
        ],
        {"heiti": files[0]},
    )
    path = tmp_path / "f.pdf"
    path.write_bytes(pdf)
    assert "一、标题" in _text(path)


def test_family_missing_from_its_files_names_the_role(tmp_path: Path) -> None:
    from reportkit.errors import ReportkitError
    from reportkit.export.pdf import blocks_to_pdf
    from reportkit.render.fonts import font_files, resolve_fonts

    file = font_files(resolve_fonts()["heiti"].family)[0]
    wrong = {"family": "并不存在的楷体", "path": file, "weight": 400, "official": True}
    with pytest.raises(ReportkitError, match=r"kaiti（楷体）.*并不存在的楷体"):
        blocks_to_pdf([{"kind": "paragraph", "text": "正文"}], {"kaiti": wrong})


def test_only_the_resolved_fonts_are_embedded(pdf_path: Path) -> None:
    out = subprocess.run(
        ["pdffonts", str(pdf_path)], capture_output=True, text=True, check=True
    ).stdout
    names = {row.split()[0].split("+", 1)[1] for row in out.splitlines()[2:]}
    for name in names:  # Noto CJK and AR PL UKai here; never a system or bundled fallback
        assert "CJK" in name or "Kai" in name or "Song" in name or "Hei" in name, names


def test_one_compiler_per_process_for_a_font_set() -> None:
    from reportkit.export import pdf
    from reportkit.render.formats import render_formats

    render_formats(sample.sample_notebook(), ["pdf"])
    before = pdf._compiler.cache_info()
    render_formats(sample.sample_notebook(), ["pdf"])
    after = pdf._compiler.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits
