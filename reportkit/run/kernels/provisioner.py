"""A jupyter_client kernel provisioner that asks the worker's warm parent to fork the kernel.

The forked kernel is the warm parent's child, not ours, so we cannot wait() for it: liveness
comes from a pidfd (readable once the process has exited), signals go to its process group
(it calls setsid), and the exit code comes from the warm parent, which reaps it. When the warm
parent holds a spare kernel forked for this very launch (spare.py), that one is handed over
instead, and each cleanup has the next spare forked. Wherever the fork cannot be used (no warm
parent, REPORTKIT_NO_FORK=1, not Linux, a parent that holds more than one thread), this is
exactly jupyter_client's LocalProvisioner.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from reportkit.run.kernels import current_warm_parent, prepare_spare_kernel
from reportkit.run.kernels.spare import SpareKernel, return_ports
from reportkit.run.kernels.warm_parent import pidfd_exited

#: How long kill() waits for the kernel to be gone (jupyter_client itself waits up to 5 s).
KILL_WAIT = 5.0


class WarmForkProvisioner(LocalProvisioner):
    """Registered as `reportkit-warm-fork` (entry point `jupyter_client.kernel_provisioners`)."""

    _pidfd: int | None = None
    _exit_code: int | None = None
    _spare_file: str | None = None

    @property
    def has_process(self) -> bool:
        return self._pidfd is not None or super().has_process

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        parent = current_warm_parent()
        if parent is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = kwargs.get("env") or dict(os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        self._exit_code = None
        self.cwd = cwd
        try:
            spare = parent.take_spare()
            if spare is not None:
                km_file = self.parent.connection_file
                if spare.serves(cmd, env, cwd, km_file, self.connection_info):
                    return self._adopt(spare)
                spare.discard()  # stale (other launch, or it died while idle): fork anew
            reply = parent.fork(cmd, env, cwd)
        except OSError as exc:
            reply = {"refused": f"warm parent unavailable: {exc}"}
        if "refused" in reply:
            self.log.warning("Starting the kernel without the warm parent: %s", reply["refused"])
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = reply["pid"]
        self._pidfd = os.pidfd_open(self.pid)
        return self.connection_info

    def _adopt(self, spare: SpareKernel) -> KernelConnectionInfo:
        """Take over a spare kernel; the kernel manager then adopts its connection info, and
        the ports it had taken for the kernel it would have started go back to the cache."""
        if self.ports_cached:
            return_ports(self.connection_info)
        self.ports_cached = spare.cached_ports  # cleanup then returns the spare's ports
        self.connection_info = spare.connection_info
        self._spare_file = spare.connection_file
        self.pid = self.pgid = spare.pid
        self._pidfd = spare.pidfd
        return self.connection_info

    def _exited(self) -> bool:
        assert self._pidfd is not None
        return pidfd_exited(self._pidfd)

    async def _until_exited(self, timeout: float | None = None) -> None:
        """Wait for the kernel to exit: its pidfd becomes readable then."""
        assert self._pidfd is not None
        if self._exited():
            return
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        loop.add_reader(self._pidfd, lambda: exited.done() or exited.set_result(None))
        try:
            await asyncio.wait_for(exited, timeout)
        finally:
            loop.remove_reader(self._pidfd)

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
        await self._until_exited()
        code = await self.poll()
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
        """SIGKILL, then wait (briefly) until it is gone: the kernel manager checks right
        away, and would otherwise sleep 0.1 s before checking again."""
        if self._pidfd is None:
            return await super().kill(restart)
        await self.send_signal(signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            await self._until_exited(KILL_WAIT)
        return None

    async def terminate(self, restart: bool = False) -> None:
        if self._pidfd is None:
            return await super().terminate(restart)
        return await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        """Release this kernel's resources, then have the next unit's kernel forked: it starts
        while this worker renders the unit that just ended."""
        self._close_pidfd()
        if self._spare_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._spare_file)
            self._spare_file = None
        await super().cleanup(restart)
        prepare_spare_kernel()

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
