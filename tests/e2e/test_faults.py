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

from tests.e2e.conftest import BIN, REPO, manifest, reportkit, run_dataset


@pytest.fixture(scope="module")
def four_units(tmp_path_factory) -> Path:
    from reportkit.data.demo import write_demo

    folder = tmp_path_factory.mktemp("four")
    write_demo(folder, units=4, rows=600, seed=11)
    return folder / "demo.xlsx"


def unit_names(workbook: Path) -> list[str]:
    from reportkit.data.ingest import read_workbooks

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


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (kernels run in their own sessions)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigkill_then_rerun_redoes_only_what_is_missing(four_units: Path, tmp_path: Path):
    slow = notebook_with(tmp_path, "import time\ntime.sleep(3)")
    proc = start_run(tmp_path, four_units, slow)
    wait_for(lambda: finished_units(tmp_path / "out") >= 1)
    family = descendants(proc.pid)
    assert family, "the run has worker processes"
    proc.kill()
    proc.wait(timeout=30)
    # The workers die with the driver, and their kernels with them.
    wait_for(lambda: not [p for p in family if alive(p)], timeout=30)
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


def run_with_cell(tmp_path: Path, workbook: Path, code: str) -> dict:
    """A run whose notebook has one extra cell that fails some units: it exits 1 with no
    traceback; its manifest."""
    custom = notebook_with(tmp_path, code)
    proc = reportkit(
        "run", str(workbook), "--out", "out", "--notebook", str(custom), "--jobs", "2",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    return manifest(tmp_path / "out")


def test_a_lost_worker_fails_only_its_unit(four_units: Path, tmp_path: Path):
    """A worker process that dies mid-unit (its kernel kills it) fails that unit alone."""
    a = unit_names(four_units)[0]
    code = (
        "import os, signal\n"
        "pid = os.getppid()  # the worker, or its warm parent that forked this kernel\n"
        "while b'multiprocessing' not in open(f'/proc/{pid}/cmdline', 'rb').read():\n"
        "    pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        f"if unit == {a!r}:\n    os.kill(pid, signal.SIGKILL)\n"
    )
    m = run_with_cell(tmp_path, four_units, code)
    units = {u["unit"]: u for u in m["units"]}
    assert units[a]["status"] == "failed" and "工作进程异常退出" in units[a]["error"]
    assert [u["status"] for n, u in units.items() if n != a] == ["ok"] * 3
    assert m["state"] == "complete" and m["summary"]["status"] == "ok"
    assert_final_files_whole(tmp_path / "out")


def run_limited(tmp_path: Path, limits: dict[int, int], *args: str) -> subprocess.CompletedProcess:
    """`reportkit run` with resource limits (resource.RLIMIT_*: bytes) set by the kernel."""
    import resource

    def apply() -> None:
        for which, value in limits.items():
            resource.setrlimit(which, (value, value))

    return subprocess.run(
        [str(BIN / "reportkit"), "run", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=apply,
        # The kernels' IPython history (a growing SQLite file) is not the file under test.
        env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")},
    )


def test_file_size_limit_names_the_file_and_keeps_the_last_good_reports(
    four_units: Path, tmp_path: Path
):
    """Under `ulimit -f`, writes fail with EFBIG (Python ignores SIGXFSZ).

    The limit comes from the sizes measured in a good run: above every file the run writes
    before the reports (the dataset, stats.json, report.html, manifest, index), below the
    executed notebook (report.ipynb), the largest file of a unit. The dataset is rebuilt into a
    fresh cache folder under the limit, so it is written too.
    """
    import resource

    out = tmp_path / "out"
    reportkit("run", str(four_units), "--out", "out", "--jobs", "2", cwd=tmp_path)
    dirs = [out / u["dir"] for u in manifest(out)["units"]]
    good = {p: p.read_bytes() for d in dirs for p in d.iterdir()}
    smaller = [p for p in good if p.name in ("report.html", "stats.json")]
    smaller += [p for p in run_dataset(out).rglob("*") if p.is_file()]
    limit = max(p.stat().st_size for p in smaller) + 4096
    notebooks = [d / "report.ipynb" for d in dirs]
    assert limit < min(p.stat().st_size for p in notebooks), "the demo no longer fits this test"

    proc = run_limited(
        tmp_path,
        {resource.RLIMIT_FSIZE: limit},
        str(four_units), "--out", "out", "--cache-dir", "fresh", "--force", "--jobs", "2",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "文件超过大小上限" in proc.stderr and "File too large" in proc.stderr
    assert f"写入 {notebooks[0]} 失败" in proc.stderr
    assert list((tmp_path / "fresh" / "datasets").glob("*/meta.json"))  # written under the limit
    # Nothing was replaced: every report file is the good run's, byte for byte.
    assert {p: p.read_bytes() for d in dirs for p in d.iterdir()} == good
    assert not [p for p in out.rglob(".*") if p.name != ".reportkit.lock"]
    for entry in manifest(out)["units"]:
        assert entry["status"] == "failed" and "文件超过大小上限" in entry["error"]
        assert entry["stale_outputs"] == {"ipynb": "report.ipynb", "html": "report.html"}
    assert_final_files_whole(out)


def test_memory_and_open_file_limits_fail_only_their_units(four_units: Path, tmp_path: Path):
    """One kernel lowers its own address-space limit, another its open-file limit (the kernel
    enforces both); those two units fail with their cause, the others finish."""
    a, b, *others = unit_names(four_units)
    code = (
        "import os\n"
        "from resource import RLIMIT_AS, RLIMIT_NOFILE, getrlimit, setrlimit\n"
        f"if unit == {a!r}:\n"
        "    size = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
        "    setrlimit(RLIMIT_AS, (size + (256 << 20), getrlimit(RLIMIT_AS)[1]))\n"
        "    block = bytearray(2 << 30)\n"
        f"if unit == {b!r}:\n"
        "    n = len(os.listdir('/proc/self/fd'))\n"
        "    setrlimit(RLIMIT_NOFILE, (n + 16, getrlimit(RLIMIT_NOFILE)[1]))\n"
        "    handles = [open(os.devnull) for _ in range(200)]\n"
    )
    units = {u["unit"]: u for u in run_with_cell(tmp_path, four_units, code)["units"]}
    assert units[a]["status"] == "failed" and "内存不足" in units[a]["error"]
    assert "MemoryError" in units[a]["error"]
    assert units[b]["status"] == "failed" and "打开的文件过多" in units[b]["error"]
    assert "Too many open files" in units[b]["error"]
    assert all(units[u]["status"] == "ok" for u in others)
    assert_final_files_whole(tmp_path / "out")
