"""Atomic writes: readable like any new file, and a failed write leaves the old file whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reportkit.errors import OutputError
from reportkit.layout import assign_dirs, write_atomically, write_bytes_atomic


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path: Path):
    target = tmp_path / "report.html"
    write_bytes_atomic(target, b"<html></html>")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "stats.json"
    target.write_text("old", encoding="utf-8")

    def fail(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="磁盘空间不足"):
        write_atomically(target, fail)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_no_clobber_refuses_a_file_that_exists(tmp_path: Path):
    target = tmp_path / "模板.xlsx"
    target.write_bytes(b"analyst's work")
    with pytest.raises(FileExistsError):
        write_atomically(target, lambda tmp: tmp.write_bytes(b"new"), overwrite=False)
    assert target.read_bytes() == b"analyst's work"


def test_unit_folders_are_stable_and_unique():
    dirs = assign_dirs(["甲局", "甲/局", "甲:局", "..", "甲局 "])
    assert dirs["甲局"] == "甲局"
    assert len(set(dirs.values())) == 5
    assert all("/" not in d and ":" not in d and not d.startswith(".") for d in dirs.values())
