"""The hand-built report notebook the export tests render (HTML, PDF, DOCX and plug-in formats),
and helpers for looking at what they render."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from reportkit.render.document import bundle

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


#: Workbook values that would be Typst markup, were text ever evaluated as markup.
TYPST_MARKUP = (
    '#read("/etc/passwd")',
    '#import "x.typ"',
    "$x$",
    "*b*",
    "_i_",
    "[a]",
    "<l>",
    "@r",
    "\\",
    "//",
    "/*",
)


_BUILD = """
import sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests import sample_report as sample
from reportkit.render.formats import render_formats
nb = sample.sample_notebook()
Path(sys.argv[1]).write_bytes(render_formats(nb, [sys.argv[2]])[sys.argv[2]])
"""


def build_in_two_processes(tmp_path: Path, fmt: str) -> tuple[bytes, bytes]:
    """The sample report built by two fresh processes, the second two days later (faketime)."""
    if shutil.which("faketime") is None:
        pytest.skip("faketime is not installed (apt-get install faketime)")
    script = _BUILD.format(repo=str(Path(__file__).resolve().parents[1]))
    outputs = []
    for prefix, name in (([], "first"), (["faketime", "-f", "+2d"], "second")):
        path = tmp_path / f"{name}.{fmt}"
        subprocess.run(
            [*prefix, sys.executable, "-c", script, str(path), fmt], check=True, timeout=300
        )
        outputs.append(path.read_bytes())
    return outputs[0], outputs[1]


def keep_pages_as_png(pdf: Path, name: str, factory: pytest.TempPathFactory) -> list[Path]:
    """Pages 1–2 as PNGs (pdftoppm), kept in pytest's base temporary folder, under artefacts/,
    for a person to look at; the folder is printed (pytest -s shows it)."""
    artefacts = factory.getbasetemp() / "artefacts"
    artefacts.mkdir(exist_ok=True)
    prefix = artefacts / name
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(prefix)], check=True
    )
    print(f"\n{pdf.name}, pages 1–2 as PNG: {prefix}-*.png")
    return sorted(artefacts.glob(f"{name}-*.png"))
