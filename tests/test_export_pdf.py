"""PDF export: GB/T 9704 page geometry, embedded subset CJK fonts, page numbers, offline."""

from __future__ import annotations

import collections
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:  # tests/ is a rootdir folder, or a package if someone adds tests/__init__.py
    import test_export_html as sample
except ImportError:  # pragma: no cover
    from tests import test_export_html as sample

pytestmark = pytest.mark.skipif(
    shutil.which("pdffonts") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdffonts, pdftotext, pdftoppm) not installed",
)

MM = 72 / 25.4
TEXT_LEFT, TEXT_RIGHT = 28 * MM, (210 - 26) * MM
TEXT_TOP, TEXT_BOTTOM = 37 * MM, (297 - 35) * MM
TOLERANCE = 2 * MM
ONE_CHAR = 14.0  # page numbers sit one (4号) character in from the text area's edge


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reportkit.export.html import notebook_to_html
    from reportkit.export.pdf import html_to_pdf

    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(html_to_pdf(notebook_to_html(sample.sample_notebook())))
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
        assert abs(float(box.width) - 595.3) < 1 and abs(float(box.height) - 841.9) < 1
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
            found.append({"body": body, "footer": sorted(footer, key=lambda c: c["x0"])})
    return found


def test_text_stays_in_the_text_area(pages: list[dict]) -> None:
    for number, page in enumerate(pages, 1):
        for c in page["body"]:
            where = f"page {number}: {c['text']!r} at {c['x0']:.1f},{c['top']:.1f}"
            assert c["x0"] >= TEXT_LEFT - TOLERANCE, where
            assert c["x1"] <= TEXT_RIGHT + TOLERANCE, where
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
        top = min(c["top"] for c in footer)
        assert TEXT_BOTTOM + 4 * MM < top < TEXT_BOTTOM + 9 * MM
        if number % 2:  # odd: right-aligned, one character in
            assert abs(footer[-1]["x1"] - (TEXT_RIGHT - ONE_CHAR)) < TOLERANCE
        else:  # even: left-aligned, one character in
            assert abs(footer[0]["x0"] - (TEXT_LEFT + ONE_CHAR)) < TOLERANCE


def test_table_spans_pages_with_repeated_header(pdf_path: Path) -> None:
    text = _text(pdf_path)
    pages_with_header = [p for p in text.split("\f") if "活动主题" in p]
    assert len(pages_with_header) >= 2
    assert "第60党支部" in text


def test_pages_are_not_blank(pdf_path: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "40",
            "-f",
            "1",
            "-l",
            "2",
            str(pdf_path),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    images = sorted(tmp_path.glob("page*.png"))
    assert len(images) == 2
    for image in images:
        stat = ImageStat.Stat(Image.open(image).convert("L"))
        assert stat.var[0] > 100, image


def test_fetches_nothing_external() -> None:
    from reportkit.export.pdf import html_to_pdf

    html = (
        '<p class="rk-p">外链</p><img src="http://10.255.255.1/x.png">'
        '<img src="file:///etc/hostname">'
    )
    started = time.perf_counter()
    pdf = html_to_pdf(html)
    assert pdf.startswith(b"%PDF")
    assert time.perf_counter() - started < 4  # no network timeout was waited for


def test_fragment_and_override_fonts(tmp_path: Path) -> None:
    from reportkit.export.pdf import html_to_pdf
    from reportkit.fonts import font_files, resolve_fonts

    files = font_files(resolve_fonts()["heiti"].family)
    if not files:
        pytest.skip("the 黑体 stand-in is not a file fontconfig lists")
    pdf = html_to_pdf(
        '<h2 class="rk-h1">一、标题</h2><p class="rk-p">正文</p>', {"heiti": files[0]}
    )
    path = tmp_path / "f.pdf"
    path.write_bytes(pdf)
    assert "一、标题" in _text(path)


def test_cached_styles_make_repeat_exports_cheaper() -> None:
    from reportkit.export.html import notebook_to_html
    from reportkit.export.pdf import html_to_pdf

    page = notebook_to_html(sample.sample_notebook())
    html_to_pdf(page)
    started = time.perf_counter()
    html_to_pdf(page)
    assert time.perf_counter() - started < 10  # ~0.7 s on the 2-core dev machine


@pytest.mark.slow
def test_nbconvert_entry_point(tmp_path: Path) -> None:
    source = sample.write_sample(tmp_path / "report.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "reportkit_pdf", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = (tmp_path / "report.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    assert _squash(sample.HEADINGS[0][1]) in _squash(text)
