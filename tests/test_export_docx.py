"""DOCX export: real Word styles, A4 official margins, odd/even PAGE footers, editable tables."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests import sample_report as sample
from tests.sample_report import build_in_two_processes

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@pytest.fixture(scope="module")
def docx_bytes() -> bytes:
    from reportkit.render.formats import render_formats

    return render_formats(sample.sample_notebook(), ["docx"])["docx"]


@pytest.fixture(scope="module")
def document(docx_bytes: bytes):
    import docx

    return docx.Document(io.BytesIO(docx_bytes))


def test_outline_uses_word_styles(document) -> None:
    styled = [(p.style.name, p.text) for p in document.paragraphs]
    assert ("Title", sample.TITLE) in styled
    headings = [(name, text) for name, text in styled if name.startswith("Heading")]
    assert headings == [(f"Heading {level}", text) for level, text in sample.HEADINGS]
    for level in (1, 2, 3):
        style = document.styles[f"Heading {level}"]
        ppr = style.element.pPr
        assert ppr.find(f"{W}numPr") is None  # no automatic numbering: 一、 is in the text
        assert ppr.find(f"{W}outlineLvl").get(f"{W}val") == str(level - 1)
        assert str(style.font.color.rgb) == "000000"
    assert document.styles["Heading 3"].font.bold is True
    assert not document.styles["Heading 1"].font.bold


def test_fonts_name_east_asian_families(document) -> None:
    from reportkit.render.fonts import resolve_fonts

    fonts = resolve_fonts()
    expected = {
        "Normal": "fangsong",
        "Title": "title",
        "Heading 1": "heiti",
        "Heading 2": "kaiti",
        "Heading 3": "fangsong",
        "Footer": "songti",
    }
    for name, role in expected.items():
        rfonts = document.styles[name].element.rPr.find(f"{W}rFonts")
        assert rfonts.get(f"{W}eastAsia") == fonts[role].family, name
        assert rfonts.get(f"{W}ascii") == fonts[role].family, name
        assert rfonts.get(f"{W}eastAsiaTheme") is None
        assert rfonts.get(f"{W}asciiTheme") is None
    normal = document.styles["Normal"]
    assert normal.font.size.pt == 16
    assert document.styles["Title"].font.size.pt == 22
    fmt = normal.paragraph_format
    assert abs(fmt.line_spacing.pt - 28.95) < 0.1
    ind = normal.element.pPr.find(f"{W}ind")
    assert ind.get(f"{W}firstLineChars") == "200"


def test_section_is_a4_with_official_margins(document) -> None:
    from docx.shared import Mm

    section = document.sections[0]
    tolerance = Mm(0.1)
    for actual, mm in (
        (section.page_width, 210),
        (section.page_height, 297),
        (section.top_margin, 37),
        (section.bottom_margin, 35),
        (section.left_margin, 28),
        (section.right_margin, 26),
    ):
        assert abs(actual - Mm(mm)) < tolerance, (actual, mm)


def test_odd_and_even_page_number_footers(document, docx_bytes: bytes) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    assert document.settings.odd_and_even_pages_header_footer
    section = document.sections[0]
    odd, even = section.footer, section.even_page_footer
    for footer, alignment in ((odd, WD_ALIGN_PARAGRAPH.RIGHT), (even, WD_ALIGN_PARAGRAPH.LEFT)):
        assert not footer.is_linked_to_previous
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment == alignment
        xml = paragraph._p.xml
        assert "PAGE" in "".join(t.text or "" for t in paragraph._p.iter(f"{W}instrText"))
        assert 'w:fldCharType="begin"' in xml
        assert 'w:fldCharType="end"' in xml
        text = "".join(t.text or "" for t in paragraph._p.iter(f"{W}t"))
        assert text == "— 1 —"


def test_tables_are_editable_with_repeating_header(document) -> None:
    assert len(document.tables) == 1
    table = document.tables[0]
    assert table.style.name == "Table Grid"
    assert len(table.rows) == 61
    assert [c.text for c in table.rows[0].cells] == ["序号", "党支部", "主题党日", "活动主题"]
    assert table.rows[0]._tr.trPr.find(f"{W}tblHeader") is not None
    assert table.rows[5]._tr.trPr.find(f"{W}tblHeader") is None
    assert table.rows[60].cells[1].text == "第60党支部"


def test_figure_signature_and_escaping(document, docx_bytes: bytes) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    assert len(document.inline_shapes) == 1
    texts = [p.text for p in document.paragraphs]
    assert any(sample.HOSTILE in t for t in texts)  # literal text, as the user typed it
    signature = document.paragraphs[-1]
    assert signature.text == "\n".join(sample.SIGNATURE)
    assert signature.style.name == "Signature"
    assert signature.alignment == WD_ALIGN_PARAGRAPH.CENTER  # centred in a box at the right
    ind = signature._p.pPr.find(f"{W}ind")
    assert ind.get(f"{W}rightChars") == "400"  # 成文日期右空四字
    assert int(ind.get(f"{W}leftChars")) > 1000
    assert signature.paragraph_format.keep_together
    assert document.paragraphs[-2].paragraph_format.keep_with_next
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as archive:
        body = archive.read("word/document.xml").decode("utf-8")
        assert any(
            name.startswith("word/media/") and name.endswith(".png") for name in archive.namelist()
        )
    for marker in (
        "SECRET_CODE_INPUT_42",
        "STREAM_OUTPUT_MUST_NOT_APPEAR",
        "ERROR_OUTPUT_MUST_NOT_APPEAR",
    ):
        assert marker not in body


def test_svg_without_png_gets_a_note() -> None:
    import docx

    from reportkit.export.docx import blocks_to_docx

    data = blocks_to_docx(
        [{"kind": "figure", "caption": "图2 趋势", "mime": "image/svg+xml", "data": "PHN2Zy8+"}]
    )
    texts = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]
    assert any("图2 趋势" in t and "PDF" in t for t in texts)


def test_dated_by_the_report_date_in_properties_and_zip() -> None:
    import docx

    from reportkit.render.formats import render_formats

    nb = sample.sample_notebook()
    nb.metadata["papermill"] = {"parameters": {"params": {"report_date": "2024-06-30"}}}
    data = render_formats(nb, ["docx"])["docx"]
    props = docx.Document(io.BytesIO(data)).core_properties
    assert props.created.date().isoformat() == props.modified.date().isoformat() == "2024-06-30"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2024, 6, 30, 0, 0, 0)}


@pytest.mark.slow
def test_same_report_same_bytes_two_days_apart(tmp_path: Path) -> None:
    first, second = build_in_two_processes(tmp_path, "docx")
    assert first.startswith(b"PK")
    assert first == second


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice or poppler-utils not installed",
)
def test_libreoffice_converts(docx_bytes: bytes, tmp_path: Path) -> None:
    source = tmp_path / "report.docx"
    source.write_bytes(docx_bytes)
    profile = tmp_path / "lo-profile"
    done = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "report.pdf"
    assert pdf.exists(), done.stdout + done.stderr
    text = "".join(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    positions = [text.index("".join(h.split())) for _, h in sample.HEADINGS]
    assert positions == sorted(positions)
    assert "—1—" in text
    assert "—2—" in text


def test_page_break_starts_the_next_paragraph_on_a_new_page() -> None:
    import docx

    from reportkit.export.docx import blocks_to_docx

    blocks = [
        {"kind": "paragraph", "text": "正文"},
        {"kind": "page_break"},
        {"kind": "heading", "level": 1, "text": "附件1"},
    ]
    document = docx.Document(io.BytesIO(blocks_to_docx(blocks)))
    heading = document.paragraphs[-1]
    assert heading.text == "附件1"
    assert heading.paragraph_format.page_break_before
    assert 'w:type="page"' not in document.element.body.xml  # no empty line on the new page
