"""Kernels forked from a warm parent: each unit still gets its own fresh kernel process, but
that process starts as a copy of one that has already imported ipykernel, pandas, pyarrow,
matplotlib and reportkit, instead of paying about 1.5 CPU-s to import them again.

The warm parent also forks each kernel before it is asked for (a spare: see
reportkit.run.kernels.spare), the first as soon as it is warm, each next one when a unit's
kernel is cleaned up, so that the kernel's start overlaps the worker's rendering of that unit.

A pool worker calls `start_worker_kernels()` once, in its initialiser, and papermill runs
notebooks with `kernel_name=KERNEL_NAME`. That kernelspec lives in this package's `jupyter/`
folder, which only the worker's JUPYTER_PATH names, and selects the `reportkit-warm-fork`
provisioner (reportkit.run.kernels.provisioner). The user's own kernels are untouched.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

from reportkit.run.kernels.warm_parent import WarmParent

__all__ = [
    "KERNEL_NAME",
    "prepare_spare_kernel",
    "renew_spare_kernel",
    "start_worker_kernels",
    "stop_worker_kernels",
]

#: The kernelspec papermill is told to use.
KERNEL_NAME = "reportkit"
#: A Jupyter data folder holding kernels/reportkit/kernel.json.
JUPYTER_DATA_DIR = Path(__file__).resolve().parent / "jupyter"
#: Set to 1 to launch every kernel the ordinary way (a new interpreter each time).
NO_FORK_ENV = "REPORTKIT_NO_FORK"

_warm_parent: WarmParent | None = None


def fork_supported() -> bool:
    """Forking needs Linux (prctl, pidfds) and may be turned off."""
    if os.environ.get(NO_FORK_ENV) == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def start_worker_kernels(standby: str | None = None) -> None:
    """Make KERNEL_NAME findable and start this worker's warm parent, or attach to the standby
    one its driver started for it (warm_parent.StandbyWarmParents), if it is still free. Call
    it once per worker, after its stdout/stderr are where kernels should write, from a thread
    that lives as long as the worker: a warm parent's PR_SET_PDEATHSIG fires when the thread
    that started it ends (a pool worker's main thread; a dask worker's event-loop thread)."""
    global _warm_parent
    theirs = os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
    paths = dict.fromkeys([str(JUPYTER_DATA_DIR), *filter(None, theirs)])
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)
    if _warm_parent is None and fork_supported():
        _warm_parent = (standby and _attach(standby)) or WarmParent()
        atexit.register(_warm_parent.close)
        prepare_spare_kernel()  # forked as soon as the parent is warm, for the first unit


def _attach(standby: str) -> WarmParent | None:
    """The standby warm parent, or None if it is gone or taken (e.g. by this worker's
    predecessor, which died: the one that replaces it starts its own)."""
    try:
        return WarmParent(attach=standby)
    except OSError:
        return None


def prepare_spare_kernel() -> None:
    """Have the warm parent fork the next unit's kernel now (reportkit.run.kernels.spare):
    after the parent is started, and whenever a unit's kernel is cleaned up."""
    if _warm_parent is not None and not _warm_parent.has_spare():
        from reportkit.run.kernels.spare import SpareKernel

        _warm_parent.fork_spare(SpareKernel.prepare(KERNEL_NAME))


def renew_spare_kernel() -> None:
    """Replace the spare kernel after this worker's environment changed (a dask worker's font
    configuration): forked with the old one, it would only be found stale, and discarded, when
    the next unit asks for a kernel, which would then wait for a new fork."""
    if _warm_parent is not None:
        spare = _warm_parent.take_spare()
        if spare is not None:
            spare.discard()
        prepare_spare_kernel()


def stop_worker_kernels() -> None:
    """End this worker's warm parent, for workers that outlive their runs (dask)."""
    global _warm_parent
    if _warm_parent is not None:
        atexit.unregister(_warm_parent.close)
        _warm_parent.close()
        _warm_parent = None


def current_warm_parent() -> WarmParent | None:
    """This process's warm parent, or None: then kernels start the ordinary way."""
    return _warm_parent
