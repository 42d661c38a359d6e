"""Faults: failing, dying and hanging kernels, interrupts, kills, concurrent runs, write errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from tests.e2e.conftest import BIN, REPO, manifest, reportkit


@pytest.fixture(scope="module")
def four_units(tmp_path_factory) -> Path:
    from reportkit.demo import write_demo

    folder = tmp_path_factory.mktemp("four")
    write_demo(folder, units=4, rows=600, seed=11)
    return folder / "demo.xlsx"


def unit_names(workbook: Path) -> list[str]:
    from reportkit.ingest import read_workbooks

    return read_workbooks([workbook]).units


def notebook_with(tmp_path: Path, code: str, name: str = "custom.ipynb") -> Path:
    """The real unit notebook with one extra cell right after the parameters."""
    nb = nbformat.read(REPO / "notebooks" / "unit_report.ipynb", as_version=4)
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


def test_raise_kernel_death_and_hang_fail_only_their_units(four_units: Path, tmp_path: Path):
    a, b, c, d = unit_names(four_units)
    code = (
        "import os, time\n"
        f"if unit == {a!r}:\n    raise ValueError('坏数据')\n"
        f"if unit == {b!r}:\n    os._exit(3)\n"
        f"if unit == {c!r}:\n    time.sleep(600)\n"
    )
    custom = notebook_with(tmp_path, code)
    started = time.monotonic()
    proc = reportkit(
        "run",
        str(four_units),
        "--out",
        "out",
        "--notebook",
        str(custom),
        "--timeout",
        "8",
        "--jobs",
        "2",
        cwd=tmp_path,
        check=False,
    )
    assert time.monotonic() - started < 300
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    units = {u["unit"]: u for u in manifest(tmp_path / "out")["units"]}
    assert units[a]["status"] == "failed" and "ValueError" in units[a]["error"]
    assert "坏数据" in units[a]["error"]
    assert units[b]["status"] == "failed" and "内核" in units[b]["error"]
    assert units[c]["status"] == "failed" and "超时" in units[c]["error"]
    assert units[d]["status"] == "ok"
    assert manifest(tmp_path / "out")["state"] == "complete"
    assert_final_files_whole(tmp_path / "out")


def start_run(tmp_path: Path, workbook: Path, notebook: Path, out: str = "out") -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(BIN / "reportkit"),
            "run",
            str(workbook),
            "--out",
            out,
            "--notebook",
            str(notebook),
            "--jobs",
            "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def finished_units(out: Path) -> int:
    try:
        return sum(1 for u in manifest(out)["units"] if u["status"] == "ok")
    except (OSError, ValueError):
        return 0


def test_sigint_stops_cleanly_with_a_consistent_manifest(four_units: Path, tmp_path: Path):
    slow = notebook_with(tmp_path, "import time\ntime.sleep(3)")
    proc = start_run(tmp_path, four_units, slow)
    wait_for(lambda: finished_units(tmp_path / "out") >= 1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "中断" in stderr
    m = manifest(tmp_path / "out")
    assert m["state"] == "interrupted"
    statuses = [u["status"] for u in m["units"]]
    assert "ok" in statuses and "failed" in statuses
    assert all(u["error"] == "已中断" for u in m["units"] if u["status"] == "failed")
    assert_final_files_whole(tmp_path / "out")


def test_sigkill_then_rerun_redoes_only_what_is_missing(four_units: Path, tmp_path: Path):
    slow = notebook_with(tmp_path, "import time\ntime.sleep(3)")
    proc = start_run(tmp_path, four_units, slow)
    wait_for(lambda: finished_units(tmp_path / "out") >= 1)
    proc.kill()
    proc.wait(timeout=30)
    time.sleep(1)  # let the workers, which die with the driver, go
    done_before = {u["unit"] for u in manifest(tmp_path / "out")["units"] if u["status"] == "ok"}
    assert_final_files_whole(tmp_path / "out")
    rerun = reportkit(
        "run", str(four_units), "--out", "out", "--notebook", str(slow), "--jobs", "2", cwd=tmp_path
    )
    assert rerun.returncode == 0
    units = manifest(tmp_path / "out")["units"]
    assert len(units) == 4
    for u in units:
        assert u["status"] == ("cached" if u["unit"] in done_before else "ok"), u
    assert_final_files_whole(tmp_path / "out")
    assert not [p for p in (tmp_path / "out").rglob(".*") if p.name != ".reportkit.lock"]


def test_second_run_refuses_and_a_killed_runs_lock_does_not_block(four_units: Path, tmp_path: Path):
    slow = notebook_with(tmp_path, "import time\ntime.sleep(5)")
    first = start_run(tmp_path, four_units, slow)
    wait_for(lambda: (tmp_path / "out" / "run.log").exists())
    second = reportkit("run", str(four_units), "--out", "out", cwd=tmp_path, check=False)
    assert second.returncode == 1
    assert "另一个 reportkit run 正在写入" in second.stderr
    assert "Traceback" not in second.stderr
    first.kill()
    first.wait(timeout=30)
    third = reportkit(
        "run",
        str(four_units),
        "--out",
        "out",
        "--units",
        unit_names(four_units)[0],
        cwd=tmp_path,
        check=False,
    )
    assert third.returncode == 0, third.stderr


@pytest.fixture()
def small_tmpfs(tmp_path: Path):
    """A 600 KB filesystem: room for a few reports, not for all of them."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount_point)], check=True
    )
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_gives_a_clear_message_and_nothing_half_written(
    four_units: Path, tmp_path: Path, small_tmpfs: Path
):
    proc = reportkit(
        "run",
        str(four_units),
        "--out",
        str(small_tmpfs / "out"),
        "--formats",
        "html,pdf,docx",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "No space left" in proc.stderr or "空间" in proc.stderr or "失败" in proc.stderr
    assert_final_files_whole(small_tmpfs / "out")


def test_read_only_out_gives_a_clear_message(four_units: Path, tmp_path: Path, small_tmpfs: Path):
    (small_tmpfs / "out").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    proc = reportkit(
        "run", str(four_units), "--out", str(small_tmpfs / "out"), cwd=tmp_path, check=False
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "无法" in proc.stderr and str(small_tmpfs / "out") in proc.stderr
