"""An analyst's cells tagged `report` become blocks; nothing else from a notebook does."""

from __future__ import annotations

import base64
import io
import zipfile

import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from reportkit.export.docx import blocks_to_docx
from reportkit.export.html import notebook_to_html
from reportkit.render.document import BLOCKS_MIME, blocks_of_notebook, html_blocks

TAG = {"tags": ["report"]}
OWN = {"kind": "heading", "level": 1, "text": "一、党建工作主要情况"}


def _notebook() -> nbformat.NotebookNode:
    frame = pd.DataFrame({"党支部": ["一支部", "二支部"], "平均参与率": ["95.3%", "88.0%"]})
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="9"/></svg>'
    image = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(image, format="PNG")
    png = base64.b64encode(image.getvalue()).decode()
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# Documentation\n\nUntagged: stays out."),
        new_code_cell('unit = ""', metadata={"tags": ["parameters"]}),
        new_code_cell(
            'unit = "甲"',
            metadata={"tags": ["injected-parameters", "report"]},
            outputs=[
                new_output("execute_result", {"text/html": "<p>注入参数</p>"}, execution_count=1)
            ],
        ),
        new_code_cell(
            "report.show('part1')",
            outputs=[
                new_output(
                    "display_data", {"text/html": "<h2>一、</h2>", BLOCKS_MIME: {"blocks": [OWN]}}
                )
            ],
        ),
        new_markdown_cell(
            "## （五）补充情况\n\n**一是**学习深入。\n\n- 甲项\n\n```\nsecret_code()\n```",
            metadata=TAG,
        ),
        new_code_cell(
            "#| tbl-cap: 表 参与率\nframe.style.hide(axis='index')\nprint('stream')",
            metadata=TAG,
            outputs=[
                new_output("stream", name="stdout", text="流输出"),
                new_output(
                    "execute_result",
                    {"text/html": frame.style.hide(axis="index").to_html(), "text/plain": "x"},
                    execution_count=2,
                ),
                new_output(
                    "error", ename="ValueError", evalue="错误值", traceback=["Traceback 行"]
                ),
            ],
        ),
        new_code_cell(
            "#| fig-cap: 图3 参与率\nplt.show()",
            metadata=TAG,
            outputs=[
                new_output(
                    "display_data",
                    {"image/svg+xml": svg, "image/png": png, "text/plain": "<Figure>"},
                )
            ],
        ),
        new_code_cell(
            "HTML(...)",
            metadata=TAG,
            outputs=[
                new_output(
                    "display_data",
                    {
                        "text/html": '<p onclick="x()">说明<script>alert(1)</script>'
                        "<img src=x onerror=y>文字</p>"
                    },
                )
            ],
        ),
        new_code_cell(
            "frame",
            outputs=[
                new_output("execute_result", {"text/html": frame.to_html()}, execution_count=3)
            ],
        ),
        new_code_cell(
            "Markdown(...)",
            metadata=TAG,
            outputs=[new_output("display_data", {"text/markdown": "### 1. 小结"})],
        ),
    ]
    return nb


def test_tagged_cells_become_blocks_in_cell_order():
    blocks = blocks_of_notebook(_notebook())
    kinds = [(b["kind"], b.get("text") or b.get("caption")) for b in blocks]
    assert kinds == [
        ("heading", "一、党建工作主要情况"),
        ("heading", "（五）补充情况"),
        ("paragraph", "学习深入。"),
        ("paragraph", "• 甲项"),
        ("table", "表 参与率"),
        ("figure", "图3 参与率"),
        ("paragraph", "说明文字"),
        ("heading", "1. 小结"),
    ]
    assert blocks[2]["lead"] == "一是"
    assert blocks[4]["columns"] == ["党支部", "平均参与率"]
    assert blocks[4]["rows"] == [["一支部", "95.3%"], ["二支部", "88.0%"]]
    figure = blocks[5]
    assert figure["mime"] == "image/svg+xml" and figure["png"]
    assert "<rect" in base64.b64decode(figure["data"]).decode()


def test_code_streams_errors_and_untagged_outputs_never_appear():
    nb = _notebook()
    page = notebook_to_html(nb)
    docx = blocks_to_docx(blocks_of_notebook(nb))
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode()
    for text in (
        "secret_code",
        "print(",
        "流输出",
        "错误值",
        "Traceback",
        "注入参数",
        "Documentation",
        "unit =",
    ):
        assert text not in page and text not in xml, text
    assert "<script" not in page and "onclick" not in page and "onerror" not in page
    assert page.count("一支部") == 1  # the untagged DataFrame is not shown
    for text in ("（五）补充情况", "95.3%", "图3 参与率", "说明文字"):
        assert text in page and text in xml, text
    assert '<img alt="图3 参与率" src="data:image/svg+xml;base64,' in page


def test_html_sanitiser_keeps_listed_tags_only():
    blocks = html_blocks(
        "<h1>标题</h1><div><strong>要点</strong>正文<i>斜体</i><a href='http://x'>链接</a></div>"
        "<ol><li>第一</li><li>第二</li></ol><style>p{}</style>"
        "<table><tr><th>年度</th><th colspan=2>次数</th></tr>"
        "<tr><td>2017年</td><td>1</td><td>2</td></tr></table>"
    )
    assert blocks == [
        {"kind": "paragraph", "text": "标题", "align": "justify"},
        {"kind": "paragraph", "text": "正文斜体链接", "align": "justify", "lead": "要点"},
        {"kind": "paragraph", "text": "1. 第一", "align": "justify"},
        {"kind": "paragraph", "text": "2. 第二", "align": "justify"},
        {
            "kind": "table",
            "caption": "",
            "columns": ["年度", "次数", ""],
            "rows": [["2017年", "1", "2"]],
        },
    ]
