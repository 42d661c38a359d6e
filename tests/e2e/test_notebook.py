"""The example notebook's own section reaches every format; its code reaches none."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from reportkit.data.dataset import load_unit
from tests.e2e.conftest import REPO, manifest, reportkit, run_dataset
from tests.e2e.test_isolation import docx_text, pdf_text, squeeze, visible_text

EXAMPLE = REPO / "notebooks" / "examples" / "branch_attendance.ipynb"
HEADING = "（五）各支部主题党日平均参与率"
CHART = "图3 各支部主题党日平均参与率"


def expected_rates(dataset: Path, unit: str, period: dict[str, str]) -> dict[str, str]:
    """Branch -> mean 实到/应到 of its 主题党日 in the period, as the table shows it."""
    acts = load_unit(dataset, unit).activities
    acts = acts[acts["date"].between(period["start"], period["end"])]
    acts = acts[(acts["type"] == "主题党日") & (acts["expected"] > 0)]
    rates = (acts["present"] / acts["expected"]).groupby(acts["branch"]).mean()
    return {branch: f"{rate:.1%}" for branch, rate in rates.items()}


@pytest.mark.slow
def test_example_section_in_html_pdf_and_docx_without_its_code(tmp_path, demo_workbook):
    reportkit(
        "run", str(demo_workbook), "--notebook", str(EXAMPLE), "--formats", "html,pdf,docx",
        "--out", "out", "--jobs", "2", cwd=tmp_path,
    )  # fmt: skip
    out = tmp_path / "out"
    entry = manifest(out)["units"][0]
    folder = out / entry["dir"]
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    rates = expected_rates(run_dataset(out), entry["unit"], stats["period"])
    assert len(rates) >= 2

    html = (folder / "report.html").read_text(encoding="utf-8")
    texts = {
        "html": visible_text(html),
        "pdf": pdf_text(folder / "report.pdf"),
        "docx": docx_text(folder / "report.docx"),
    }
    code = [cell for cell in json.loads(EXAMPLE.read_text())["cells"] if "report" in
            cell["metadata"].get("tags", []) and cell["cell_type"] == "code"]  # fmt: skip
    assert len(code) == 2
    for fmt, text in texts.items():
        flat = squeeze(text)
        assert squeeze(HEADING) in flat, fmt
        assert squeeze(CHART) in flat, fmt
        for branch, rate in rates.items():
            assert squeeze(branch + rate) in flat or (branch in text and rate in text), (fmt, rate)
        for snippet in ("groupby", "theme_days", "plt.subplots", "tbl-cap", "fig-cap"):
            assert snippet not in text, (fmt, snippet)
        # The new section comes after 一、's last heading and before 二、, in cell order.
        assert flat.index(squeeze(HEADING)) < flat.index("二、存在的主要问题")
    # The chart: an SVG figure in HTML, a third picture in DOCX (after 图1 and 图2), and in the
    # PDF a vector drawing on the page that holds its caption.
    assert html.count('src="data:image/svg+xml;base64,') == 3
    assert f'<img alt="{CHART}" src="data:image/svg+xml;base64,' in html
    with zipfile.ZipFile(folder / "report.docx") as archive:
        assert len([n for n in archive.namelist() if n.startswith("word/media/")]) == 3
    import pdfplumber

    with pdfplumber.open(folder / "report.pdf") as pdf:
        page = next(p for p in pdf.pages if squeeze(CHART) in squeeze(p.extract_text() or ""))
        assert len(page.rects) + len(page.curves) + len(page.images) >= len(rates)
