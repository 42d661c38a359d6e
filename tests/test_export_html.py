"""HTML export: one offline page with only the report outputs, markup escaped.

`sample_notebook()` here is the hand-built report notebook the PDF and DOCX tests use too.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from reportkit.render.document import BLOCKS_MIME, bundle

TITLE = "中共测试局委员会关于党的十九大以来党建工作情况的报告"
HEADINGS = [
    (1, "一、主要工作开展情况"),
    (2, "（一）坚持理论武装，筑牢思想根基"),
    (3, "1.中心组学习"),
    (2, "（二）夯实基层基础，严格组织生活"),
    (1, "二、存在的问题和不足"),
    (2, "（一）组织生活开展不够均衡"),
    (1, "三、下一步工作打算"),
]
HOSTILE = "<script>alert(1)</script> 与 <img src=x onerror=alert(1)>"
CODE_MARKER = "SECRET_CODE_INPUT_42"
STREAM_MARKER = "STREAM_OUTPUT_MUST_NOT_APPEAR"
ERROR_MARKER = "ERROR_OUTPUT_MUST_NOT_APPEAR"
SIGNATURE = ["中共测试局委员会", "2024年12月31日"]

_SENTENCE = (
    "党委坚持以习近平新时代中国特色社会主义思想为指导，认真落实全面从严治党主体责任，"
    "共组织开展党委理论学习中心组学习{n}次、专题学习研讨{m}次，推动党建工作与业务工作深度融合。"
)


def long_paragraph(seed: int, sentences: int = 6) -> str:
    return "".join(_SENTENCE.format(n=seed + i, m=2 * i + 3) for i in range(sentences))


def chart_figure() -> dict:
    """A small matplotlib chart as an SVG figure block with a PNG fallback."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reportkit.render.fonts import configure_matplotlib

    family = configure_matplotlib()
    fig, ax = plt.subplots(figsize=(6.2, 3.0))
    ax.bar(["2018年", "2019年", "2020年"], [12, 15, 9], color="#b22222")
    ax.set_title("中心组学习次数", fontfamily=family)
    svg, png = io.BytesIO(), io.BytesIO()
    fig.savefig(svg, format="svg", metadata={"Date": None}, bbox_inches="tight")
    fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return {
        "kind": "figure",
        "caption": "图1 中心组学习次数",
        "mime": "image/svg+xml",
        "data": base64.b64encode(svg.getvalue()).decode("ascii"),
        "png": base64.b64encode(png.getvalue()).decode("ascii"),
    }


def sample_blocks() -> list[list[dict]]:
    """The report's blocks, one list per notebook cell."""
    h = [{"kind": "heading", "level": lv, "text": t} for lv, t in HEADINGS]
    table = {
        "kind": "table",
        "caption": "表1 各党支部组织生活开展情况",
        "columns": ["序号", "党支部", "主题党日", "活动主题"],
        "rows": [
            [str(i), f"第{i}党支部", str(i % 12), f"学习贯彻党的二十大精神专题研讨第{i}次"]
            for i in range(1, 61)
        ],
    }
    return [
        [{"kind": "title", "text": TITLE}, {"kind": "paragraph", "text": long_paragraph(1, 3)}],
        [
            h[0],
            h[1],
            {"kind": "paragraph", "text": long_paragraph(10)},
            h[2],
            {"kind": "paragraph", "text": long_paragraph(20), "lead": "一是强化理论武装。"},
        ],
        [
            h[3],
            {"kind": "paragraph", "text": "本段包含需要转义的内容：" + HOSTILE},
            chart_figure(),
            {"kind": "paragraph", "text": long_paragraph(30)},
        ],
        [h[4], h[5], table, {"kind": "paragraph", "text": long_paragraph(40)}],
        [
            h[6],
            {"kind": "paragraph", "text": long_paragraph(50)},
            {"kind": "paragraph", "text": long_paragraph(60)},
            {"kind": "signature", "lines": SIGNATURE},
        ],
    ]


def sample_notebook(fonts: dict | None = None) -> nbformat.NotebookNode:
    """An executed-looking report notebook: bundles plus stray outputs that must not show."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["reportkit"] = {"title": TITLE, "lang": "zh-CN", "fonts": fonts or {}}
    nb.cells.append(new_markdown_cell("# 说明 https://example.com/markdown-cell"))
    nb.cells.append(
        new_code_cell(
            f"unit = '测试局'  # {CODE_MARKER}",
            metadata={"tags": ["injected-parameters"]},
            outputs=[new_output("stream", name="stdout", text=f"{STREAM_MARKER}\n")],
        )
    )
    for i, blocks in enumerate(sample_blocks()):
        data = bundle(blocks)
        outputs = [new_output("display_data", data=data)]
        if i == 1:
            outputs.append(new_output("stream", name="stderr", text=f"warning {STREAM_MARKER}"))
            outputs.append(
                new_output(
                    "execute_result", data={"text/plain": "PLAIN_RESULT_7731"}, execution_count=3
                )
            )
        if i == 3:
            outputs.append(
                new_output(
                    "error",
                    ename="ValueError",
                    evalue=ERROR_MARKER,
                    traceback=[f"Traceback {ERROR_MARKER}"],
                )
            )
            outputs.append(
                new_output(
                    "display_data",
                    data={
                        "text/html": "<script src='https://cdn.example.com/require.js'></script>"
                    },
                )
            )
        nb.cells.append(new_code_cell(f"show(section_{i})  # {CODE_MARKER}", outputs=outputs))
    return nbformat.from_dict(nb)


def write_sample(path: Path, fonts: dict | None = None) -> Path:
    nbformat.write(sample_notebook(fonts), path)
    return path


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
    assert "require" not in page and "mathjax" not in page.lower()


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
    assert '"仿宋_GB2312"' in page and '"Noto Serif CJK SC"' in page
    assert '"黑体"' in page and '"Noto Sans CJK SC"' in page
    assert '"楷体_GB2312"' in page and '"AR PL UKai CN"' in page
    assert '"方正小标宋简体"' in page
    assert "@media print" in page and "size: A4" in page


def test_url_text_is_defused() -> None:
    from reportkit.export.html import render_page

    page = render_page("<p>见 https://example.com 与 HTTP://x.cn</p>", "t")
    assert "https://" not in page.lower() and "http://" not in page.lower()
    assert "https&#58;//example.com" in page


def test_is_cheap() -> None:
    from reportkit.export.html import notebook_to_html

    nb = sample_notebook()
    notebook_to_html(nb)
    started = time.perf_counter()
    for _ in range(5):
        notebook_to_html(nb)
    assert (time.perf_counter() - started) / 5 < 0.2


@pytest.mark.slow
def test_nbconvert_entry_point(tmp_path: Path) -> None:
    source = write_sample(tmp_path / "report.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "reportkit_html", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert "https://" not in html and CODE_MARKER not in html and STREAM_MARKER not in html
    assert HEADINGS[-1][1] in html


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
