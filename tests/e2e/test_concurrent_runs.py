"""Many runs at once: each reads only its own workbook's data, whatever runs beside it.

Runs started together from one folder on different workbooks once shared the default cache
folder, and the dataset was swapped under a running run's kernels: reports silently carried the
other workbook's figures. Each run now reads an immutable dataset named by its inputs' content.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BIN, manifest, reportkit

pytestmark = pytest.mark.slow

RUNS = 8
OUTS = 4


def stats_files(out: Path) -> dict[str, bytes]:
    """Each unit's stats.json, by unit."""
    return {
        entry["unit"]: (out / entry["dir"] / "stats.json").read_bytes()
        for entry in manifest(out)["units"]
    }


def test_eight_runs_at_once_never_mix_workbooks(tmp_path: Path) -> None:
    from reportkit.data.demo import write_demo

    # Two workbooks with the same units and different figures: a mix-up would not show as
    # missing units, only as wrong counts.
    books = []
    for seed in (5, 6):
        write_demo(tmp_path / f"d{seed}", units=3, rows=900, seed=seed)
        books.append(Path(f"d{seed}") / "demo.xlsx")
    alone = {}
    for book in books:
        lone = tmp_path / f"alone-{book.parent}"
        lone.mkdir()
        reportkit(
            "run",
            str(tmp_path / book),
            "--out",
            "out",
            "--formats",
            "html",
            "--jobs",
            "1",
            cwd=lone,
        )
        alone[book] = stats_files(lone / "out")
    assert alone[books[0]].keys() == alone[books[1]].keys()
    assert alone[books[0]] != alone[books[1]]

    # The default cache folder (XDG, one for all eight runs), every run from the same folder.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "PYTHONUNBUFFERED": "1"}
    plan = [(f"out{i % OUTS}", books[i % OUTS % 2]) for i in range(RUNS)]
    procs = [
        subprocess.Popen(
            [
                str(BIN / "reportkit"),
                "run",
                "--data",
                str(book),
                "--out",
                out,
                "--formats",
                "html",
                "--jobs",
                "1",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out, book in plan
    ]
    results = [(*proc.communicate(timeout=900), proc.returncode) for proc in procs]

    completed: set[str] = set()
    for (out, _book), (stdout, stderr, code) in zip(plan, results, strict=True):
        if code == 0:
            assert "完成" in stdout, stderr
            completed.add(out)
        else:  # the other run on the same OUT held it: named, with its pid
            assert re.search(r"另一个 reportkit run 正在写入 .*pid \d+", stderr), (code, stderr)
            assert "Traceback" not in stderr
    assert completed == {f"out{i}" for i in range(OUTS)}
    for i in range(OUTS):
        assert stats_files(tmp_path / f"out{i}") == alone[books[i % 2]], f"out{i}"
    datasets = list((tmp_path / "xdg" / "reportkit" / "datasets").iterdir())
    assert len(datasets) == 2, datasets  # one per workbook, no temporary left behind
