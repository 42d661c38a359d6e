"""The warm parent: a process that has imported ipykernel and the report's heavy modules once,
and forks one fresh kernel process per unit on request.

Both ends of its small protocol live here: `serve` runs in the warm parent (started with
`python -P -c ...`), `WarmParent` is the pool worker's handle on it. A worker usually starts
its own warm parent, over a Unix socket pair. A driver that is about to start workers on this
machine (a dask LocalCluster) may start them first instead (`StandbyWarmParents`): each then
warms up while the workers start, and listens under a name for the one worker that attaches.
Requests and replies are JSON lines:

- ``{"op": "fork", "argv": [...], "env": {...}, "cwd": "..."}`` answers ``{"pid": N, "threads":
  1, "zmq_contexts": 0}``, or ``{"refused": reason}`` when forking would not be safe;
- ``{"op": "status", "pid": N}`` answers ``{"status": exit code or null while it runs}``.

A spare kernel (spare.py) is an ordinary fork request whose reply the worker reads later.

Why the rules below: a process may only fork safely while it holds a single thread (a lock held
by another thread stays locked forever in the child) and no zmq context (its I/O threads and
sockets are not copied). So the parent never starts a thread and never touches zmq; OpenBLAS
and Arrow's jemalloc, which would start threads on import, are told not to.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import importlib
import json
import os
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
import uuid
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from reportkit.run.kernels.spare import SpareKernel

#: What a unit or summary notebook imports; a forked kernel finds them already loaded.
WARM_MODULES = (
    "ipykernel.kernelapp",
    # What IPKernelApp.initialize imports in every kernel (traitlets resolves the kernel class
    # and the debugger lazily): 0.1 CPU-s per kernel, most of it debugpy, which starts no
    # thread on import (the fork check would refuse to fork if it did).
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "tornado.platform.asyncio",
    "faulthandler",
    "pandas",
    "pyarrow",
    "matplotlib",
    "matplotlib.pyplot",
    "jinja2",
    "reportkit.report",
    "reportkit.render.summary",
    "reportkit.notebook",
    "matplotlib_inline.backend_inline",  # what use_report_figures sets up: inline SVG + PNG
    "matplotlib.backends.backend_svg",
    "IPython.core.magics.pylab",  # %matplotlib, which IPython loads on first use
    "IPython.core.magics.execution",
)
#: Called after the imports (module:function): caches that every kernel would fill the same way.
WARM_CALLS = (
    "reportkit.render.outline:compile_templates",
    "reportkit.notebook:read_backend_entry_points",
)
#: Set before the imports, so that the libraries start no thread of their own in the parent.
SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
}
#: Set in the parent too: debugpy logs its file-validation warning (which concerns breakpoints,
#: and no report sets any) at debug level, instead of once per worker in run.log.
QUIET_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
#: Set in each forked kernel's environment: what the parent held when it forked (for tests).
FORK_INFO_ENV = "REPORTKIT_WARM_FORK"
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Linux: get SIGKILL when the process that started us dies. fork() clears this setting,
    so every process in the chain (worker, warm parent, kernel) sets it for itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def thread_count() -> int:
    """Threads of this process as the OS sees them, native ones (BLAS, allocators) included."""
    return len(os.listdir("/proc/self/task"))


def pidfd_exited(pidfd: int) -> bool:
    """Whether the process behind a pidfd has exited (its pidfd is readable from then on)."""
    return bool(select.select([pidfd], [], [], 0)[0])


def zmq_context_count() -> int:
    """Live zmq contexts among the objects the garbage collector tracks and has not frozen."""
    zmq = sys.modules.get("zmq")
    if zmq is None:
        return 0
    return sum(1 for obj in gc.get_objects() if isinstance(obj, zmq.Context))


# -- the warm parent ------------------------------------------------------------------------


def _warm_up() -> tuple[bool, int]:
    """Import what kernels need and fill their shared caches, then freeze those objects: the
    collector never touches them again, so children share their memory pages instead of
    copying them, and the per-fork zmq check only scans what was created since. Returns
    (ipykernel imported, zmq contexts among the frozen objects)."""
    ready = True
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a kernel will meet and report the same error itself
            traceback.print_exc()
            ready = ready and not name.startswith("ipykernel")
    for call in WARM_CALLS:
        module, _, function = call.partition(":")
        try:
            getattr(importlib.import_module(module), function)()
        except Exception:  # noqa: BLE001 - the kernel fills the cache itself then
            traceback.print_exc()
    gc.collect()
    frozen_contexts = zmq_context_count()
    gc.freeze()
    return ready, frozen_contexts


def _run_kernel(request: dict[str, Any], control: socket.socket, info: dict[str, Any]) -> None:
    """In the forked child: become the process `python -m ipykernel_launcher ...` would be."""
    code = 1
    try:
        die_with_parent(info["parent"])
        os.setsid()  # its own process group, as jupyter_client's launcher gives kernels
        os.close(control.detach())
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # What jupyter_client's launcher tells a kernel: who its parent is, to exit with it.
        # ipykernel read JPY_PARENT_PID when the parent imported it, so say it on the command line.
        os.environ["JPY_PARENT_PID"] = str(info["parent"])
        os.environ[FORK_INFO_ENV] = json.dumps(info)
        if "numpy" in sys.modules:  # a fresh process would seed its own global generator
            sys.modules["numpy"].random.seed()
        sys.path.insert(0, os.getcwd())  # as `python -m` does; the launcher removes it again
        sys.argv = [
            "ipykernel_launcher",
            *request["argv"][3:],
            f"--IPKernelApp.parent_handle={info['parent']}",
        ]
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report it on stderr as a kernel would, then exit
        traceback.print_exc()
    finally:
        exit_without_teardown(code)


def _is_ipykernel(argv: list[str]) -> bool:
    return (
        len(argv) >= 3
        and os.path.realpath(argv[0]) == os.path.realpath(sys.executable)
        and argv[1:3] == ["-m", "ipykernel_launcher"]
    )


def _fork(
    request: dict[str, Any], control: socket.socket, ready: bool, frozen_contexts: int
) -> dict[str, Any]:
    if not ready:
        return {"refused": "ipykernel could not be imported in the warm parent"}
    if not _is_ipykernel(request["argv"]):
        return {"refused": "not an ipykernel command for this interpreter"}
    info = {
        "parent": os.getpid(),
        "threads": thread_count(),
        "zmq_contexts": frozen_contexts + zmq_context_count(),
    }
    if info["threads"] != 1 or info["zmq_contexts"] != 0:
        return {"refused": f"unsafe to fork: {info}"}
    pid = os.fork()
    if pid == 0:
        _run_kernel(request, control, info)
    return {"pid": pid, **info}


def _reap(statuses: dict[int, int]) -> None:
    """Collect every child that has exited, so none stays a zombie."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        statuses[pid] = os.waitstatus_to_exitcode(status)


def serve(control: socket.socket, ready: bool, frozen_contexts: int) -> None:
    """Answer requests until the worker closes its end or dies (either ends the stream; a warm
    parent the worker started dies with it anyway)."""
    statuses: dict[int, int] = {}
    with control, control.makefile("rwb") as stream:
        for line in stream:
            request = json.loads(line)
            _reap(statuses)
            if request["op"] == "fork":
                reply = _fork(request, control, ready, frozen_contexts)
            else:
                reply = {"status": statuses.pop(request["pid"], None)}
            stream.write(json.dumps(reply).encode() + b"\n")
            stream.flush()


def _abstract(name: str) -> str:
    """The socket address of an abstract name written "@name" (no file; Linux)."""
    return "\0" + name.removeprefix("@")


def _listen(name: str) -> socket.socket:
    """A Unix socket listening under an abstract name; made by the driver, so a worker that
    connects before its warm parent is warm (or even started) waits in the backlog."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(_abstract(name))
    listener.listen(1)
    return listener


def _accept_one(listener: socket.socket) -> socket.socket:
    """The first connection from a process of this user; then nobody else may attach."""
    with listener:
        while True:
            conn, _ = listener.accept()
            credentials = conn.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
            )
            _, uid, _ = struct.unpack("3i", credentials)
            if uid == os.getuid():
                return conn
            conn.close()


# -- the worker's handle --------------------------------------------------------------------


def _fork_request(argv: list[str], env: dict[str, str], cwd: str) -> dict[str, Any]:
    return {"op": "fork", "argv": argv, "env": env, "cwd": cwd}


def _spawn(control: str, pass_fds: tuple[int, ...]) -> subprocess.Popen[bytes]:
    """Start a warm parent (with subprocess, never forked from a threaded process) that serves
    `control`: an inherited socket's file descriptor, or "listen:FD" for an inherited listening
    socket, to accept one worker on."""
    return subprocess.Popen(
        # -P: nothing is imported from the starting process's working directory.
        [sys.executable, "-P", "-c", _MAIN, control, str(os.getpid())],
        pass_fds=pass_fds,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **SINGLE_THREAD_ENV, **QUIET_ENV},
    )


class StandbyWarmParents:
    """Warm parents a driver starts for the workers it is about to start on this machine, so
    that they warm up while the workers start. Each listens under its own name for one worker
    (`WarmParent(attach=name)`), and dies with the driver; the driver kills any left at close."""

    def __init__(self, count: int) -> None:
        self.names = [f"@reportkit-warm-{uuid.uuid4().hex}" for _ in range(count)]
        self._processes = []
        for name in self.names:
            with _listen(name) as listener:
                fd = listener.fileno()
                self._processes.append(_spawn(f"listen:{fd}", pass_fds=(fd,)))

    def close(self) -> None:
        for process in self._processes:
            process.kill()
        for process in self._processes:
            process.wait()


class WarmParent:
    """A pool worker's warm parent: started with subprocess (never forked from the worker), or
    a standby one the driver started (`attach`); ended when the worker closes it or dies. It
    keeps at most one spare kernel (spare.py) forked ahead of time; its fork request is sent
    without waiting, and the reply read before the next exchange, so that asking for a spare
    never holds up the worker."""

    def __init__(self, attach: str | None = None) -> None:
        """`attach`: a standby warm parent's name; OSError if it is gone or already taken."""
        self.process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None  # a standby one says it, first thing once it has accepted us
        if attach is not None:
            ours = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                ours.connect(_abstract(attach))
            except OSError:
                ours.close()
                raise
        else:
            ours, theirs = socket.socketpair()
            self.process = _spawn(str(theirs.fileno()), pass_fds=(theirs.fileno(),))
            theirs.close()
            self._pid = self.process.pid
        self._socket = ours
        self._stream = ours.makefile("rwb")
        self._lock = threading.Lock()
        self._spare: SpareKernel | None = None
        self._spare_unanswered = False
        self._closed = False

    def _send(self, request: dict[str, Any]) -> None:
        self._stream.write(json.dumps(request).encode() + b"\n")
        self._stream.flush()

    def _receive(self) -> dict[str, Any]:
        line = self._stream.readline()
        if not line:
            raise ConnectionError("the warm parent has exited")
        return json.loads(line)

    @property
    def pid(self) -> int:
        """The warm parent's process id (a standby one's, once it is warm and has accepted)."""
        with self._lock:
            self._greet()
        assert self._pid is not None
        return self._pid

    def _greet(self) -> None:
        """Read a standby warm parent's first line, its pid, if still unread (holding the lock).
        Asking the socket (SO_PEERCRED) would name the driver, which made it listen."""
        if self._pid is None:
            self._pid = int(self._receive()["pid"])

    def _settle(self) -> None:
        """Read the reply to the spare's fork request, if it is still unread (holding the lock)."""
        self._greet()
        if not self._spare_unanswered:
            return
        assert self._spare is not None
        self._spare_unanswered = False
        reply = self._receive()
        if "pid" in reply:
            self._spare.started(reply["pid"])
        else:
            self._spare.discard()
            self._spare = None

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._settle()
            self._send(request)
            return self._receive()

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> dict[str, Any]:
        """Fork a kernel running `argv`; the reply has "pid", or "refused" with a reason."""
        return self._ask(_fork_request(argv, env, cwd))

    def exit_status(self, pid: int) -> int | None:
        """The exit code of a kernel that has exited (None while the parent has not reaped it)."""
        return self._ask({"op": "status", "pid": pid})["status"]

    def has_spare(self) -> bool:
        return self._spare is not None

    def fork_spare(self, spare: SpareKernel) -> None:
        """Have the parent fork `spare` now, without waiting for its reply; discard it if there
        is a spare already or the parent is closed."""
        with self._lock:
            if self._spare is None and not self._closed:
                self._send(_fork_request(spare.argv, spare.env, spare.cwd))
                self._spare, self._spare_unanswered = spare, True
                return
        spare.discard()

    def take_spare(self) -> SpareKernel | None:
        """The spare kernel, now the caller's to use or discard (None if there is none)."""
        with self._lock:
            self._settle()
            spare, self._spare = self._spare, None
        return spare

    def close(self) -> None:
        """End of input makes the parent return; its kernels get SIGKILL with it. The spare is
        killed, and its connection file removed, here."""
        with self._lock:
            self._closed = True
            with contextlib.suppress(OSError):  # unread, the reply would reset the connection
                self._settle()
            spare, self._spare = self._spare, None
            self._stream.close()
            self._socket.close()
        if spare is not None:  # without a reply (parent gone), it has died with the parent
            spare.discard()
        if self.process is None:  # a standby one: the driver that started it reaps it
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    """`python -P -c _MAIN CONTROL OWNER_PID` (see `_spawn` for CONTROL).

    Once the worker has closed its end, exit at once: the closing worker waits for this process.
    """
    control, owner = sys.argv[1], int(sys.argv[2])
    die_with_parent(owner)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    listening = control.startswith("listen:")
    sock = socket.socket(fileno=int(control.removeprefix("listen:")))
    ready, frozen_contexts = _warm_up()
    if listening:
        sock = _accept_one(sock)
        sock.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    serve(sock, ready, frozen_contexts)
    exit_without_teardown()


def exit_without_teardown(code: int = 0) -> NoReturn:
    """Run the exit handlers (temporary folders) and flush, then exit at once, without the
    interpreter's teardown of every module and object: with pandas, papermill or the PDF
    compiler loaded, that takes a dask worker over a second (benchmarks/README.md)."""
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


_MAIN = f"from {__name__} import main; main()"
