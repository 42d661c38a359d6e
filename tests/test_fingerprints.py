"""The code fingerprint decides whether cached units are still current: every shipped file
counts (a Typst template change must re-typeset), notebooks and checkpoints do not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reportkit.run import fingerprints


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "reportkit"
    shutil.copytree(fingerprints.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "PACKAGE_DIR", copy)
    return copy


@pytest.mark.parametrize(
    "path",
    ["templates/export/report.typ", "templates/index.js", "defaults/params.yaml", "run/lock.py"],
)
def test_a_change_to_a_shipped_file_changes_it(package: Path, path: str) -> None:
    before = fingerprints.code_fingerprint()
    with (package / path).open("a", encoding="utf-8") as f:
        f.write("\n")
    assert fingerprints.code_fingerprint() != before


def test_notebooks_caches_and_checkpoints_play_no_part(package: Path) -> None:
    before = fingerprints.code_fingerprint()
    (package / "notebooks" / "unit_report.ipynb").write_text("{}", encoding="utf-8")
    (package / "notebooks" / ".ipynb_checkpoints").mkdir()
    (package / "notebooks" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}", encoding="utf-8")
    (package / "render" / "__pycache__").mkdir(exist_ok=True)
    (package / "render" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert fingerprints.code_fingerprint() == before
