"""The dask executor on a real cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1, driven by real `reportkit run` processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil
import pytest
from distributed import Client

from tests.e2e.helpers import (
    BIN,
    assert_final_files_whole,
    manifest,
    notebook_with,
    reportkit,
    unit_names,
    wait_for,
)

pytestmark = pytest.mark.slow

#: Files that record how a run went (timings, executor, worker paths), not what it made.
RUN_RECORDS = {"manifest.json", "run.log", ".reportkit.lock"}
#: An environment variable that marks every process one run starts (workers, kernels).
RUN_MARKER = "REPORTKIT_TEST_RUN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, timeout)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory) -> Iterator[str]:
    """A scheduler and two single-threaded workers, each in its own process."""
    folder = tmp_path_factory.mktemp("cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = {"cwd": folder, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [
        subprocess.Popen(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            **common,
        )
    ]
    try:
        wait_for_port(port)
        worker = [str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
        options = ["--nworkers", "1", "--no-dashboard", "--local-directory"]
        processes.extend(
            subprocess.Popen([*worker, *options, str(folder / f"worker{n}")], **common)
            for n in range(2)
        )
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def two_units(tmp_path_factory) -> Path:
    from reportkit.data.demo import write_demo

    folder = tmp_path_factory.mktemp("two")
    write_demo(folder, units=2, rows=200, seed=5)
    return folder / "demo.xlsx"


def worker_pids(address: str) -> dict[str, int]:
    with Client(address, timeout=30) as client:
        return client.run(os.getpid)


#: The first cell of a unit that takes a while: its kernel's pid, written into a folder.
SERVING_CELL = "import os, pathlib\npathlib.Path({folder!r}, str(os.getpid())).touch()\n"


def busy_notebook(tmp_path: Path, seconds: int) -> tuple[Path, Path]:
    """A unit notebook that sleeps, and the folder where its kernels write their pids."""
    serving = tmp_path / "serving"
    serving.mkdir()
    cells = SERVING_CELL.format(folder=str(serving)) + f"import time\ntime.sleep({seconds})"
    return notebook_with(tmp_path, cells), serving


def kernels_of(pids: Iterable[int], serving: Path) -> list[psutil.Process]:
    """The live kernels under these worker processes that serve a unit (they wrote their pid
    into `serving`; a spare kernel, forked ahead of the next unit, has not). A killed one not
    yet reaped is not live."""
    marked = {int(path.name) for path in serving.iterdir()}
    found = []
    for pid in pids:
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                if child.pid in marked and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
            except psutil.Error:  # gone
                continue
    return found


def processes_marked(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries RUN_MARKER=marker: a run's descendants."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(RUN_MARKER) == marker and process.status() != "zombie":
                found.append(process)
        except psutil.Error:  # gone, or not ours to read
            continue
    return found


def start_dask_run(folder: Path, workbook: Path, notebook: Path, scheduler: str):
    return subprocess.Popen(
        [
            str(BIN / "reportkit"),
            "run",
            str(workbook),
            "--out",
            "out",
            "--notebook",
            str(notebook),
            "--executor",
            "dask",
            "--scheduler",
            scheduler,
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_dask_and_local_write_the_same_bytes(
    scheduler: str, demo_workbook: Path, full_run: Path, tmp_path: Path
):
    """full_run is the same workbook and formats on the local executor."""
    reportkit(
        "run", str(demo_workbook), "--out", "dask", "--executor", "dask", "--scheduler", scheduler,
        "--formats", "html,pdf,docx", cwd=tmp_path,
    )  # fmt: skip
    local, dask = full_run, tmp_path / "dask"
    made = sorted(
        p.relative_to(local)
        for p in local.rglob("*")
        if p.is_file() and p.name not in RUN_RECORDS and p.suffix != ".ipynb"
    )
    assert {p.suffix for p in made} >= {".html", ".pdf", ".docx", ".json"}
    assert made == sorted(
        p.relative_to(dask)
        for p in dask.rglob("*")
        if p.is_file() and p.name not in RUN_RECORDS and p.suffix != ".ipynb"
    )
    for name in made:
        assert (local / name).read_bytes() == (dask / name).read_bytes(), name
    log = (dask / "run.log").read_text(encoding="utf-8")
    assert "on worker tcp://127.0.0.1:" in log  # the workers' own lines reach run.log


#: A cell that records which processes a unit's kernel hangs from.
LINEAGE_CELL = """
import json, os, pathlib

def _cmdline(pid):
    return pathlib.Path(f"/proc/{{pid}}/cmdline").read_bytes().decode().replace("\\0", " ")

def _ppid(pid):
    return int(pathlib.Path(f"/proc/{{pid}}/status").read_text().split("PPid:")[1].split()[0])

_parent = os.getppid()
pathlib.Path({folder!r}, unit).write_text(json.dumps({{
    "parent": _cmdline(_parent), "grandparent": _ppid(_parent),
}}))
"""


def test_a_local_cluster_run_leaves_nothing_behind(two_units: Path, tmp_path: Path):
    """Without --scheduler: a LocalCluster of --jobs worker processes. Their warm parents are
    standby ones, started by the driver before the cluster (so they warm up while it starts),
    and the kernels are forked by them. Once the run has exited, none of them is left, nor any
    of their temporary folders (workers skip the interpreter's shutdown, not their exit
    handlers)."""
    marker = uuid.uuid4().hex
    temp = tmp_path / "tmp"
    temp.mkdir()
    lineage = tmp_path / "lineage"
    lineage.mkdir()
    notebook = notebook_with(tmp_path, LINEAGE_CELL.format(folder=str(lineage)))
    env = {RUN_MARKER: marker, "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        [
            str(BIN / "reportkit"), "run", str(two_units), "--out", "out", "--executor", "dask",
            "--jobs", "2", "--formats", "html,pdf", "--notebook", str(notebook),
        ],
        cwd=tmp_path, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    out = tmp_path / "out"
    assert [u["status"] for u in manifest(out)["units"]] == ["ok", "ok"]
    assert "on worker tcp://127.0.0.1:" in (out / "run.log").read_text(encoding="utf-8")
    for record in lineage.iterdir():
        kernel = json.loads(record.read_text(encoding="utf-8"))
        assert "reportkit.run.kernels.warm_parent" in kernel["parent"], kernel
        assert kernel["grandparent"] == proc.pid, kernel  # a standby one: the driver's child
    assert len(list(lineage.iterdir())) == 2
    wait_for(lambda: not processes_marked(marker), timeout=5)
    # distributed keeps its scratch space's shared lock files; worker folders go
    assert {p.name for p in temp.rglob("*")} <= {"dask-scratch-space", "global.lock", "purge.lock"}


def test_a_local_cluster_run_killed_leaves_no_process(two_units: Path, tmp_path: Path):
    """kill -9 of the driver mid-unit: its workers, standby warm parents and kernels all end."""
    marker = uuid.uuid4().hex
    hang, serving = busy_notebook(tmp_path, 600)
    proc = subprocess.Popen(
        [
            str(BIN / "reportkit"), "run", str(two_units), "--out", "out", "--executor", "dask",
            "--jobs", "2", "--formats", "html", "--notebook", str(hang),
        ],
        cwd=tmp_path, env={**os.environ, RUN_MARKER: marker}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(lambda: len(list(serving.iterdir())) == 2, timeout=120)
    assert any("warm_parent" in " ".join(p.cmdline()) for p in processes_marked(marker))
    proc.kill()
    proc.wait()
    wait_for(lambda: not processes_marked(marker), timeout=10)


def test_a_worker_killed_mid_unit_costs_one_retry(scheduler: str, two_units: Path, tmp_path: Path):
    slow, serving = busy_notebook(tmp_path, 6)
    pids = worker_pids(scheduler)
    proc = start_dask_run(tmp_path, two_units, slow, scheduler)
    wait_for(lambda: kernels_of(pids.values(), serving), timeout=120)
    victim = next(pid for pid in pids.values() if kernels_of([pid], serving))
    os.kill(victim, signal.SIGKILL)  # the worker itself; its nanny starts a new one
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode in (0, 1), stderr
    assert "Traceback" not in stderr
    out = tmp_path / "out"
    units = manifest(out)["units"]
    assert [u["unit"] for u in units] == unit_names(two_units)
    for unit in units:
        assert unit["status"] == "ok" or (unit["status"] == "failed" and unit["error"]), unit
        if unit["status"] == "ok":
            assert (out / unit["dir"] / "report.html").is_file()
    assert manifest(out)["state"] == "complete"
    assert not list(out.rglob(".*.tmp"))
    assert_final_files_whole(out)


def test_ctrl_c_kills_the_kernels_on_the_workers(scheduler: str, two_units: Path, tmp_path: Path):
    hang, serving = busy_notebook(tmp_path, 600)
    pids = worker_pids(scheduler)
    proc = start_dask_run(tmp_path, two_units, hang, scheduler)
    wait_for(lambda: len(kernels_of(pids.values(), serving)) == 2, timeout=120)
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert manifest(tmp_path / "out")["state"] == "interrupted"
    left = interrupted + 10 - time.monotonic()
    wait_for(lambda: not kernels_of(pids.values(), serving), timeout=max(left, 0.01))


def test_an_unreachable_scheduler_is_named_and_nothing_is_written(two_units: Path, tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"  # closed once free_port returns
    proc = reportkit(
        "run", str(two_units), "--out", "out", "--executor", "dask", "--scheduler", address,
        "--scheduler-timeout", "2", cwd=tmp_path, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "无法连接 dask 调度器" in proc.stderr
    assert address in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_local_cluster_that_cannot_start_is_named_and_nothing_is_written(
    two_units: Path, tmp_path: Path
):
    """The LocalCluster starts in the background; a run waits for it before touching OUT."""
    broken = {"DASK_DISTRIBUTED__SCHEDULER__PRELOAD": '["reportkit_no_such_module"]'}
    proc = reportkit(
        "run", str(two_units), "--out", "out", "--executor", "dask", "--jobs", "2",
        cwd=tmp_path, check=False, timeout=120, env=broken,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "无法在本机启动 dask 集群" in proc.stderr
    assert "reportkit_no_such_module" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def _preloaded(names: list[str], queue: multiprocessing.Queue) -> None:
    """In a process forked from the fork server: which of `names` it has loaded already."""
    queue.put(
        {
            "loaded": [name for name in names if name in sys.modules],
            "rfc3987_syntax skipped": sys.modules.get("rfc3987_syntax", "absent") is None,
            "BLAS threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        }
    )


def test_local_cluster_workers_fork_from_a_server_that_imported_their_modules():
    """What a LocalCluster worker needs is imported once, in the fork server, not per worker
    (and without the lark grammars jsonschema would compile); its BLAS is single-threaded."""
    from reportkit.run.executors.dask import start_fork_server

    assert start_fork_server() == "forkserver"
    assert start_fork_server() == "forkserver"  # the same server, already running
    names = ["distributed", "papermill", "reportkit.export.pdf", "reportkit.run.executors.dask"]
    context = multiprocessing.get_context("forkserver")
    queue = context.Queue()
    child = context.Process(target=_preloaded, args=(names, queue))
    child.start()
    seen = queue.get(timeout=60)
    child.join(timeout=60)
    assert seen == {"loaded": names, "rfc3987_syntax skipped": True, "BLAS threads": "1"}


def test_a_worker_with_other_package_versions_is_refused(
    scheduler: str, two_units: Path, tmp_path: Path
):
    """Runs last: it adds a third worker, whose pandas reports another version."""
    preload = tmp_path / "other_pandas.py"
    preload.write_text(
        "import reportkit.run.executors.dask as executor\n"
        "if not hasattr(executor, 'real_environment'):  # preloads may run twice\n"
        "    executor.real_environment = executor.environment\n"
        "    executor.environment = lambda: {**executor.real_environment(), 'pandas': '0.0'}\n",
        encoding="utf-8",
    )
    other_workers = worker_pids(scheduler)
    worker = subprocess.Popen(
        [
            str(BIN / "dask"),
            "worker",
            scheduler,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--preload",
            str(preload),
            "--local-directory",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(worker_pids(scheduler)) == 3, timeout=60)
        (address,) = set(worker_pids(scheduler)) - set(other_workers)
        proc = reportkit(
            "run", str(two_units), "--out", "out", "--executor", "dask", "--scheduler", scheduler,
            cwd=tmp_path, check=False,
        )  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert proc.returncode == 2
    assert f"拒绝工作节点 {address}" in proc.stderr
    assert "pandas" in proc.stderr
    assert not (tmp_path / "out").exists()
