"""The Typst PDF end to end: where it puts things (against the WeasyPrint fixture), the outline,
and workbook text that looks like Typst markup, in real `reportkit run`s."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import REPO, manifest, reportkit
from tests.e2e.pdf_positions import landmarks
from tests.test_export_pdf import TYPST_MARKUP, keep_pages_as_png

HEADINGS = (
    (REPO / "tests" / "fixtures" / "outline_headings.txt").read_text(encoding="utf-8").split()
)
POSITIONS = json.loads((REPO / "tests" / "fixtures" / "pdf_positions.json").read_text("utf-8"))
POSITION_UNIT = "国家税务总局某市城东区税务局"
TWO_MM = 2 * 72 / 25.4
#: Landmarks whose right edge is fixed by the layout (centred or right-aligned), not by where
#: an engine breaks the line.
RIGHT_EDGE_FIXED = {"title", "title-line-2", "page-number"}


def pdf_text(path: Path) -> str:
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def squash(text: str) -> str:
    return "".join(text.split())


def unit_dir(out: Path, unit: str) -> Path:
    return out / next(u["dir"] for u in manifest(out)["units"] if u["unit"] == unit)


def test_landmarks_within_2_mm_of_the_weasyprint_pdf(
    full_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pdf = unit_dir(full_run, POSITION_UNIT) / "report.pdf"
    assert len(keep_pages_as_png(pdf, "demo-page", tmp_path_factory)) == 2
    found = landmarks(pdf)
    assert [(f["page"], f["what"]) for f in found] == [(p["page"], p["what"]) for p in POSITIONS]
    for expected, actual in zip(POSITIONS, found, strict=True):
        keys = ["x0", "baseline"] + (["x1"] if expected["what"] in RIGHT_EDGE_FIXED else [])
        for key in keys:
            assert abs(actual[key] - expected[key]) <= TWO_MM, (key, expected, actual)


def test_outline_headings_in_seed_order(full_run: Path) -> None:
    for entry in manifest(full_run)["units"]:
        text = squash(pdf_text(full_run / entry["dir"] / "report.pdf"))
        position = 0
        for heading in HEADINGS:
            found = text.find(heading, position)
            assert found >= 0, f"{heading} missing or out of order in {entry['dir']}"
            position = found + len(heading)


def _markup_workbook(folder: Path) -> Path:
    """A demo workbook whose unit names, branch names and topics are Typst markup."""
    from reportkit.data.demo import write_demo

    write_demo(folder, units=2, rows=300, seed=11)
    path = folder / "demo.xlsx"
    book = load_workbook(path)
    log = book["活动台账"]
    header = next(i for i, row in enumerate(log.iter_rows(values_only=True), 1) if "党支部" in row)
    columns = [c.value for c in log[header]]
    units = list(dict.fromkeys(r[0] for r in book["单位信息"].iter_rows(2, values_only=True)))
    half = len(TYPST_MARKUP) // 2
    names = {
        units[0]: " ".join(TYPST_MARKUP[:half]) + "局",
        units[1]: " ".join(TYPST_MARKUP[half:]) + "局",
    }
    branches: dict[str, str] = {}
    for row in log.iter_rows(min_row=header + 1):
        branch = row[columns.index("党支部")].value
        if branch and branch not in branches:
            value = TYPST_MARKUP[len(branches) % len(TYPST_MARKUP)]
            branches[branch] = f"{value}党支部"
    records = [row for row in log.iter_rows(min_row=header + 1) if row[0].value is not None]
    for index, row in enumerate(records):
        row[columns.index("主题")].value = f"主题{TYPST_MARKUP[index % len(TYPST_MARKUP)]}"
    for sheet in book.worksheets:  # the same unit and branch names in every sheet
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value in names:
                    cell.value = names[cell.value]
                elif cell.value in branches:
                    cell.value = branches[cell.value]
    book.save(path)
    return path


@pytest.mark.slow
def test_typst_markup_in_the_workbook_is_literal_text(tmp_path: Path) -> None:
    workbook = _markup_workbook(tmp_path)
    reportkit(
        "run", str(workbook), "--out", "out", "--formats", "pdf", "--jobs", "2",
        "-p", "pdf.standard", "a-2b",
        cwd=tmp_path,
    )  # fmt: skip
    out = tmp_path / "out"
    entries = manifest(out)["units"]
    assert {e["status"] for e in entries} == {"ok"}
    text = ""
    for entry in entries:
        data = (out / entry["dir"] / "report.pdf").read_bytes()
        assert b"<pdfaid:part>2</pdfaid:part>" in data  # -p pdf.standard a-2b: PDF/A-2b
        text += squash(pdf_text(out / entry["dir"] / "report.pdf"))
    for value in TYPST_MARKUP:
        assert text.count(squash(value)) >= 3, value  # as unit, branch and topic
    assert not re.search(r"root:.*:0:0:", text)  # no line of /etc/passwd
