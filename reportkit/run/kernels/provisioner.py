"""A jupyter_client kernel provisioner that asks the worker's warm parent to fork the kernel.

The forked kernel is the warm parent's child, not ours, so we cannot wait() for it: liveness
comes from a pidfd (readable once the process has exited), signals go to its process group
(it calls setsid), and the exit code comes from the warm parent, which reaps it. Wherever the
fork cannot be used (no warm parent, REPORTKIT_NO_FORK=1, not Linux, a parent that holds more
than one thread), this is exactly jupyter_client's LocalProvisioner.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from reportkit.run.kernels import current_warm_parent


class WarmForkProvisioner(LocalProvisioner):
    """Registered as `reportkit-warm-fork` (entry point `jupyter_client.kernel_provisioners`)."""

    _pidfd: int | None = None
    _exit_code: int | None = None

    @property
    def has_process(self) -> bool:
        return self._pidfd is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        parent = current_warm_parent()
        if parent is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = kwargs.get("env") or dict(os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        try:
            reply = parent.fork(cmd, env, cwd)
        except OSError as exc:
            reply = {"refused": f"warm parent unavailable: {exc}"}
        if "refused" in reply:
            self.log.warning("Starting the kernel without the warm parent: %s", reply["refused"])
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = reply["pid"]
        self._pidfd = os.pidfd_open(self.pid)
        self._exit_code = None
        self.cwd = cwd
        return self.connection_info

    def _exited(self) -> bool:
        assert self._pidfd is not None
        return bool(select.select([self._pidfd], [], [], 0)[0])

    async def poll(self) -> int | None:
        if self._pidfd is None:
            return await super().poll()
        if not self._exited():
            return None
        if self._exit_code is None:
            parent = current_warm_parent()
            try:
                status = parent.exit_status(self.pid) if parent else None
            except OSError:
                status = None
            # -SIGKILL if the parent cannot say: it is gone, so its kernel was killed with it.
            self._exit_code = -signal.SIGKILL if status is None else status
        return self._exit_code

    async def wait(self) -> int | None:
        if self._pidfd is None:
            return await super().wait()
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.05)
        self._close_pidfd()
        return code

    async def send_signal(self, signum: int) -> None:
        if self._pidfd is None:
            return await super().send_signal(signum)
        if self._exited():
            return None
        try:
            os.killpg(self.pgid, signum)  # the kernel and whatever it started
        except ProcessLookupError:  # it has not called setsid yet
            signal.pidfd_send_signal(self._pidfd, signum)
        return None

    async def kill(self, restart: bool = False) -> None:
        if self._pidfd is None:
            return await super().kill(restart)
        return await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self._pidfd is None:
            return await super().terminate(restart)
        return await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        self._close_pidfd()
        await super().cleanup(restart)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
