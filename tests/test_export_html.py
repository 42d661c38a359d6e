"""HTML export: one offline page with only the report outputs, markup escaped."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reportkit.render.document import BLOCKS_MIME
from tests.sample_report import (
    CODE_MARKER,
    ERROR_MARKER,
    HEADINGS,
    STREAM_MARKER,
    TITLE,
    sample_notebook,
)

# -- tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> str:
    from reportkit.export.html import notebook_to_html

    return notebook_to_html(sample_notebook())


def test_page_is_a_chinese_document(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page
    assert '<meta charset="utf-8">' in page
    assert f"<title>{TITLE}</title>" in page


def test_page_is_offline(page: str) -> None:
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "url(" not in page
    assert "require" not in page
    assert "mathjax" not in page.lower()


def test_only_report_outputs(page: str) -> None:
    for marker in (CODE_MARKER, STREAM_MARKER, ERROR_MARKER, "Traceback", "In&nbsp;[", "说明"):
        assert marker not in page
    assert "PLAIN_RESULT_7731" not in page
    positions = [page.index(text) for _, text in HEADINGS]
    assert positions == sorted(positions)
    assert page.index(TITLE, page.index("<body")) < positions[0]
    assert page.count('class="rk-table"') == 1
    assert page.count("<tr>") == 61
    assert 'src="data:image/svg+xml;base64,' in page


def test_markup_is_escaped(page: str) -> None:
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<img") == 1  # only the figure


def test_font_stacks_are_named(page: str) -> None:
    assert '"仿宋_GB2312"' in page
    assert '"Noto Serif CJK SC"' in page
    assert '"黑体"' in page
    assert '"Noto Sans CJK SC"' in page
    assert '"楷体_GB2312"' in page
    assert '"AR PL UKai CN"' in page
    assert '"方正小标宋简体"' in page
    assert "@media print" in page
    assert "size: A4" in page


def test_url_text_is_defused() -> None:
    from reportkit.export.html import render_page

    page = render_page("<p>见 https://example.com 与 HTTP://x.cn</p>", "t")
    assert "https://" not in page.lower()
    assert "http://" not in page.lower()
    assert "https&#58;//example.com" in page


def test_block_mime_without_html_still_renders() -> None:
    from reportkit.export.html import notebook_to_html

    nb = new_notebook()
    nb.cells.append(
        new_code_cell(
            "x",
            outputs=[
                new_output(
                    "display_data",
                    data={BLOCKS_MIME: {"blocks": [{"kind": "title", "text": "只有块"}]}},
                )
            ],
        )
    )
    page = notebook_to_html(nbformat.from_dict(nb))
    assert '<h1 class="rk-title">只有块</h1>' in page
    assert "<title>只有块</title>" in page
