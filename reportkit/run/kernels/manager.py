"""The kernel manager papermill is given for every unit: jupyter_client's, with a client that
knows a kernel is ready as soon as the kernel says so, and Unix sockets instead of TCP ports.

jupyter_client's `wait_for_ready` sends kernel_info, waits for the reply and for any IOPub
message (so IOPub is known to be connected), then reads IOPub until it has been silent for 0.2 s:
a fixed 0.2 s of idle wall time per unit, longer than a spare kernel takes to answer. This
client stops reading at the kernel's "idle" status for its own kernel_info request, which is the
last message that request causes (after its reply); nbclient only reads the messages of the
cells it sends anyway.

Why Unix sockets (zmq's ipc transport): with TCP, a port is found free, then bound by the
kernel a moment later, and on a busy machine another process can take it in between. Worse, a
client that connects before the kernel has bound can be given that very port as its own source
port, and the socket connects to itself; zmq then drops the connection as a protocol error and
never tries again, so the kernel runs but its client never hears it ("Kernel didn't respond",
seen in CI with eight runs at once). A socket named by a fresh UUID has no such race. As with
TCP on 127.0.0.1, other local processes could reach it; every message is signed with the
kernel's own key.
"""

from __future__ import annotations

import sys
import time
import uuid
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

#: How long IOPub may stay silent before kernel_info is sent again (jupyter_client's value).
IOPUB_WAIT = 0.2


def local_transport() -> dict[str, str]:
    """A kernel manager's settings for one kernel on this machine: on Linux, Unix sockets in the
    abstract namespace under a new name ("@reportkit-<uuid>-1" ... "-5"; no file to remove,
    even after kill -9); elsewhere, TCP."""
    if not sys.platform.startswith("linux"):
        return {"transport": "tcp"}
    return {"transport": "ipc", "ip": f"@reportkit-{uuid.uuid4().hex}"}


class KernelStartFailed(RuntimeError):
    """The kernel exited, or stayed silent, before it answered kernel_info, so no cell ran:
    starting another one is safe."""


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's asynchronous client; only `wait_for_ready` differs."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if (
                reply is not None
                and reply["msg_type"] == "kernel_info_reply"
                # The request it answers may be an earlier one, if that took more than 1 s.
                and await self._idle_after(reply["parent_header"].get("msg_id"))
            ):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise KernelStartFailed("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise KernelStartFailed(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _idle_after(self, request: str | None) -> bool:
        """Read IOPub up to the idle status of `request`; False if IOPub falls silent first
        (not connected yet: jupyter_client then asks again, and so do we)."""
        while True:
            try:
                msg: dict[str, Any] = await self.iopub_channel.get_msg(timeout=IOPUB_WAIT)
            except Empty:
                return False
            if (
                msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
                and msg["parent_header"].get("msg_id") == request
            ):
                return True


class ReportKernelManager(AsyncKernelManager):
    """What papermill runs each unit's kernel with (`kernel_manager_class`)."""

    client_factory = Type(ReadyKernelClient, klass=AsyncKernelClient)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**local_transport(), **kwargs})
