"""One run per output folder, and SIGTERM treated like Ctrl-C while a run holds it."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reportkit.errors import OutputError
from reportkit.layout import os_reason

LOCK_NAME = ".reportkit.lock"


@contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """One run per output folder. flock is released by the kernel when a run dies, so a killed
    run never leaves a lock that blocks the next one."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise OutputError(f"无法创建输出目录 {out}：{os_reason(exc)}") from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                handle.seek(0)
                holder = handle.read().strip() or "未知进程"
                raise OutputError(
                    f"另一个 reportkit run 正在写入 {out}（{holder}），请等待其结束后再运行。"
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}，开始于 {dt.datetime.now():%Y-%m-%d %H:%M:%S}")
        handle.flush()
        yield
    finally:
        handle.close()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so `kill` also stops a run cleanly with a consistent manifest."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
