"""Kernels forked from a warm parent: real kernels, real `reportkit run`s, real signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from reportkit.run import kernels
from reportkit.run.kernels import KERNEL_NAME, warm_parent
from reportkit.run.kernels.manager import local_transport
from reportkit.run.kernels.provisioner import WarmForkProvisioner
from tests.e2e.helpers import BIN, alive, manifest, notebook_with, reportkit, unit_names, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forking needs Linux"),
]

#: A cell that records, for the test, which process ran the unit and what it inherited.
RECORD_CELL = """
import json, os
import reportkit.report as _warm_module

def _proc(pid, name):
    with open(f"/proc/{{pid}}/{{name}}", "rb") as f:
        return f.read().decode().replace("\\0", " ")

def _ppid_of(pid):
    return int(_proc(pid, "status").split("PPid:")[1].split()[0])

_record = {{
    "unit": unit,
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "parent_cmdline": _proc(os.getppid(), "cmdline"),
    "parent_threads": int(_proc(os.getppid(), "status").split("Threads:")[1].split()[0]),
    "grandparent_cmdline": _proc(_ppid_of(os.getppid()), "cmdline"),
    "fork": json.loads(os.environ.get("REPORTKIT_WARM_FORK", "null")),
    "leaked_global": globals().get("_leak"),
    "leaked_module": getattr(_warm_module, "_leak", None),
}}
_leak = unit
_warm_module._leak = unit
with open({path!r}, "a", encoding="utf-8") as f:
    f.write(json.dumps(_record) + "\\n")
"""


def record_notebook(tmp_path: Path, records: Path, extra: str = "") -> Path:
    return notebook_with(tmp_path, RECORD_CELL.format(path=str(records)) + extra)


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_unit_is_a_fresh_process_forked_by_the_warm_parent(
    demo_workbook, tmp_path, monkeypatch
):
    """With --jobs 1 one worker runs every unit in turn: each kernel is a new child of that
    worker's warm parent, inherits nothing from the unit before, and its report is the same
    bytes as with the ordinary launcher."""
    html = {}
    for mode in ("fork", "no-fork"):
        if mode == "no-fork":
            monkeypatch.setenv(kernels.NO_FORK_ENV, "1")
        records = tmp_path / f"{mode}.jsonl"
        notebook = record_notebook(tmp_path, records)
        out, temp = tmp_path / mode, tmp_path / f"{mode}-tmp"
        temp.mkdir()
        reportkit(
            "run", str(demo_workbook), "--out", str(out), "--notebook", str(notebook),
            "--jobs", "1", cwd=tmp_path, env={"TMPDIR": str(temp)},
        )  # fmt: skip
        assert not list(temp.iterdir())  # no spare kernel's connection file is left
        units = unit_names(demo_workbook)
        seen = read_records(records)
        assert sorted(r["unit"] for r in seen) == sorted(units)
        assert len({r["pid"] for r in seen}) == len(seen)
        for r in seen:
            assert r["leaked_global"] is None, r
            assert r["leaked_module"] is None, r
        if mode == "fork":
            assert len({r["ppid"] for r in seen}) == 1  # one worker, one warm parent
            for r in seen:
                assert "reportkit.run.kernels.warm_parent" in r["parent_cmdline"], r
                assert "multiprocessing" in r["grandparent_cmdline"], r  # the pool worker
                assert r["fork"] == {"parent": r["ppid"], "threads": 1, "zmq_contexts": 0}
                assert r["parent_threads"] == 1
        else:
            for r in seen:
                assert "multiprocessing" in r["parent_cmdline"], r  # the worker's own child
                assert r["fork"] is None
        html[mode] = {u["unit"]: (out / u["dir"] / "report.html").read_bytes() for u in (
            manifest(out)["units"])}  # fmt: skip
    assert html["fork"] == html["no-fork"]


def process_tree(root: int) -> dict[int, str]:
    """pid -> command line of every live descendant of root."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "status").read_text().split("PPid:")[1].split()[0])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                tree[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().decode()
            except OSError:
                continue
            todo.append(child)
    return tree


@pytest.mark.parametrize(
    "signum",
    [
        signal.SIGKILL,
        signal.SIGTERM,
        signal.SIGINT,
    ],
)
def test_stopping_the_driver_leaves_no_warm_parent_or_kernel(demo_workbook, tmp_path, signum):
    """However the driver is stopped, its workers' warm parents and kernels end with it, long
    before the cell they are in (two minutes of sleep) would have."""
    records = tmp_path / "records.jsonl"
    notebook = record_notebook(tmp_path, records, "\nimport time\ntime.sleep(120)\n")
    driver = subprocess.Popen(
        [
            str(BIN / "reportkit"),
            "run",
            str(demo_workbook),
            "--out",
            "out",
            "--notebook",
            str(notebook),
            "--jobs",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(read_records(records)) >= 2)  # both workers are in a cell
        tree = process_tree(driver.pid)
        kernels_now = read_records(records)
        assert {r["pid"] for r in kernels_now} <= set(tree)
        parents = {r["ppid"] for r in kernels_now}  # one warm parent per worker
        assert len(parents) == 2
        assert all("reportkit.run.kernels.warm_parent" in tree[pid] for pid in parents)
        driver.send_signal(signum)
        driver.wait(timeout=45)
        deadline = time.monotonic() + 30
        while any(map(alive, tree)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [tree[pid] for pid in tree if alive(pid)]
    finally:
        driver.kill()
        driver.wait()


# -- the provisioner through jupyter_client alone --------------------------------------------


@pytest.fixture
def worker_kernels(monkeypatch):
    """What a pool worker's initialiser does, undone afterwards."""

    def start(standby: str | None = None, **parent_env: str) -> warm_parent.WarmParent | None:
        if parent_env:
            monkeypatch.setattr(warm_parent, "SINGLE_THREAD_ENV", parent_env)
        kernels.start_worker_kernels(standby)
        return kernels.current_warm_parent()

    monkeypatch.setattr(kernels, "_warm_parent", None)
    monkeypatch.setenv("JUPYTER_PATH", os.environ.get("JUPYTER_PATH", ""))
    yield start
    if kernels.current_warm_parent():
        kernels.current_warm_parent().close()


def start_kernel() -> tuple:
    """A reportkit kernel and its client, on the sockets a unit's kernel manager would use
    (jupyter_client's start_new_kernel, with reportkit's transport)."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL_NAME, **local_transport())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def abstract_sockets(prefix: str) -> set[str]:
    """The abstract Unix socket names in use that start with `prefix` ("@...")."""
    lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    names = {line.split()[-1] for line in lines if len(line.split()) == 8}
    return {name for name in names if name.startswith(prefix + "-")}


def run_code(client, code: str) -> tuple[dict, str]:
    printed: list[str] = []

    def keep(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    reply = client.execute_interactive(code, output_hook=keep, timeout=60)
    return reply["content"], "".join(printed)


def test_provisioner_forks_interrupts_kills_and_reports_exit_codes(worker_kernels):
    parent = worker_kernels()
    assert parent is not None
    km, kc = start_kernel()
    try:
        assert isinstance(km.provisioner, WarmForkProvisioner)
        _, printed = run_code(kc, "import os; print(os.getpid(), os.getppid())")
        pid, ppid = map(int, printed.split())
        assert ppid == parent.process.pid
        assert pid == km.provisioner.pid
        kc.execute("import time; time.sleep(60)")
        time.sleep(1)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        km.shutdown_kernel(now=True)
        assert not km.is_alive()
        assert not alive(pid)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    km, kc = start_kernel()
    try:
        kc.execute("import os; os._exit(3)")
        wait_for(lambda: not km.is_alive(), timeout=30)
        assert asyncio.run(km.provisioner.poll()) == 3  # as the warm parent reaped it
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_parent_holding_threads_falls_back_to_the_ordinary_launcher(worker_kernels):
    # Let OpenBLAS and Arrow's allocator start their threads in the parent.
    parent = worker_kernels(OPENBLAS_NUM_THREADS="2", JE_ARROW_MALLOC_CONF="background_thread:true")
    km, kc = start_kernel()
    try:
        threads = Path(f"/proc/{parent.process.pid}/status").read_text()
        assert int(threads.split("Threads:")[1].split()[0]) > 1
        _, printed = run_code(kc, "import os; print(os.getppid())")
        assert int(printed) == os.getpid()  # launched by us, as LocalProvisioner does
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# -- spare kernels: forked before they are asked for -----------------------------------------

#: Which process runs the code, and what it finds of the kernel before it.
WHO_CODE = """
import os
import reportkit.report as _module
print(os.getpid(), os.getppid(), globals().get("_leak"), getattr(_module, "_leak", None))
_leak = _module._leak = "set"
"""


def spare_of(parent: warm_parent.WarmParent) -> int:
    """The warm parent's one live child while no kernel is in use: its spare kernel."""

    def children() -> list[int]:
        found = psutil.Process(parent.process.pid).children()
        return [c.pid for c in found if c.status() != psutil.STATUS_ZOMBIE]

    wait_for(lambda: len(children()) == 1, timeout=60)
    return children()[0]


def spare_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("reportkit-kernel-*.json"))


def test_a_spare_kernel_serves_the_next_unit_as_a_fresh_process(
    worker_kernels, tmp_path, monkeypatch
):
    """Each kernel the worker asks for was forked before the request (it is the spare the
    warm parent already held), is the warm parent's child, sees nothing of the kernel before,
    and leaves no connection file behind. It is reached over Unix sockets of its own name, in
    the abstract namespace (no file)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parent = worker_kernels()
    pids = []
    for _ in range(2):
        spare = spare_of(parent)
        (connection_file,) = spare_files(tmp_path)
        km, kc = start_kernel()
        try:
            _, printed = run_code(kc, WHO_CODE)
            listening = abstract_sockets(km.ip)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        assert km.transport == "ipc"
        assert len(listening) == 5, listening  # shell, iopub, stdin, control, heartbeat
        pid, ppid, leaked_global, leaked_module = printed.split()
        assert int(pid) == spare
        assert int(ppid) == parent.process.pid
        assert (leaked_global, leaked_module) == ("None", "None")
        assert not alive(spare)
        assert connection_file not in spare_files(tmp_path)
        pids.append(spare)
    assert pids[0] != pids[1]


def test_a_spare_that_died_while_idle_is_not_used(worker_kernels, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parent = worker_kernels()
    dead = spare_of(parent)
    pidfd = os.pidfd_open(dead)
    os.kill(dead, signal.SIGKILL)
    # Dead as the provisioner sees it: the pidfd turns readable once every thread has exited,
    # a little after /proc shows the main thread as a zombie.
    wait_for(lambda: warm_parent.pidfd_exited(pidfd), timeout=30)
    os.close(pidfd)
    km, kc = start_kernel()
    try:
        assert not spare_files(tmp_path)  # the dead spare's file is gone, no new spare yet
        _, printed = run_code(kc, WHO_CODE)
        pid, ppid, *_ = printed.split()
        assert int(pid) not in (dead, parent.process.pid)
        assert int(ppid) == parent.process.pid
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert spare_of(parent) != dead  # replaced once the kernel was cleaned up


def test_no_spare_kernel_or_connection_file_is_left_after_the_worker_closes(
    worker_kernels, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parent = worker_kernels()
    km, kc = start_kernel()
    kc.stop_channels()
    km.shutdown_kernel(now=True)  # the next spare is forked now
    spare = spare_of(parent)
    assert len(spare_files(tmp_path)) == 1
    kernels.stop_worker_kernels()
    assert parent.process.returncode is not None
    wait_for(lambda: not alive(spare), timeout=30)
    assert not spare_files(tmp_path)


def test_a_standby_warm_parent_serves_one_worker_and_the_next_starts_its_own(worker_kernels):
    """A driver's standby warm parent (dask LocalCluster): the first worker to attach gets it,
    and its kernels are forked by it; it then listens no more, so a worker that replaces a dead
    one starts a warm parent of its own."""
    standby = warm_parent.StandbyWarmParents(1)
    try:
        parent = worker_kernels(standby=standby.names[0])
        assert parent is not None
        assert parent.process is None  # not the worker's child
        assert psutil.Process(parent.pid).ppid() == os.getpid()  # the "driver's"
        km, kc = start_kernel()
        try:
            _, printed = run_code(kc, "import os; print(os.getppid())")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        assert int(printed) == parent.pid
        with pytest.raises(ConnectionRefusedError):
            warm_parent.WarmParent(attach=standby.names[0])
        kernels.stop_worker_kernels()  # the worker goes: so does the warm parent it took
        wait_for(lambda: not alive(parent.pid), timeout=30)
        replacement = worker_kernels(standby=standby.names[0])
        assert replacement is not None
        assert replacement.process is not None  # its own, started with subprocess
    finally:
        standby.close()
