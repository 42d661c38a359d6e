"""Helpers the end-to-end tests share (fixtures live in conftest.py): the console script that
must succeed, what a run wrote, the browser's flags, waiting on processes, and the text a
reader sees in each format."""

from __future__ import annotations

import functools
import html as htmllib
import json
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from reportkit.resources import UNIT_NOTEBOOK
from tests import helpers
from tests.helpers import BIN, REPO

__all__ = ["BIN", "REPO"]

#: The console script, as a user runs it; a non-zero exit fails the test (check=False allows it).
reportkit = functools.partial(helpers.reportkit, check=True)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def run_dataset(out: Path) -> Path:
    """The cached dataset a run's notebooks read, as papermill recorded its parameter."""
    entry = manifest(out)["units"][0]
    notebook = json.loads((out / entry["dir"] / "report.ipynb").read_text(encoding="utf-8"))
    return Path(notebook["metadata"]["papermill"]["parameters"]["dataset"])


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: the network is off
]


def unit_names(workbook: Path) -> list[str]:
    from reportkit.data.ingest import read_workbooks

    return read_workbooks([workbook]).units


def notebook_with(tmp_path: Path, code: str, name: str = "custom.ipynb") -> Path:
    """The real unit notebook with one extra cell right after the parameters."""
    nb = nbformat.read(UNIT_NOTEBOOK, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell(code))
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def assert_final_files_whole(out: Path) -> None:
    """Every file at a final path is complete; temporary names are all that may be partial."""
    for path in out.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".html":
            assert path.read_text(encoding="utf-8").rstrip().endswith("</html>"), path
        elif path.suffix == ".pdf":
            assert path.read_bytes().rstrip().endswith(b"%%EOF"), path


def wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@functools.cache
def pdf_text(path: Path) -> str:
    """pdftotext's text, then every table cell's text from pdfplumber: pdftotext reads a table
    row by row, so a cell that wraps is interleaved with its neighbours' lines."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    texts = [done.stdout.decode("utf-8")]
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            for table in page.extract_tables():
                texts.extend(cell or "" for row in table for cell in row)
    return "\n".join(texts)


def docx_text(path: Path) -> str:
    """Paragraph and table text (python-docx) plus the text of every XML part (headers too)."""
    import docx

    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts.extend(cell.text for cell in row.cells)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xml"):
                xml = archive.read(name).decode("utf-8")
                texts.append(htmllib.unescape(re.sub(r"<[^>]+>", "", xml)))
    return "\n".join(texts)


def visible_text(page: str) -> str:
    page = re.sub(r"<style.*?</style>", "", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", "\n", page))


def squeeze(text: str) -> str:
    """Whitespace removed: PDF text breaks lines inside table cells and long words."""
    return re.sub(r"\s+", "", text)
