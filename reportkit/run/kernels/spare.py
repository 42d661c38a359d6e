"""A spare kernel: the next unit's kernel, forked by the warm parent before anyone asks for it,
so that its start overlaps the current unit's rendering instead of holding up the next unit.

It is an ordinary forked kernel that no unit has used: the worker picks its sockets and key
as a unit's kernel manager would (reportkit.run.kernels.manager: Unix sockets of its own, or
TCP ports from jupyter_client's port cache), writes them in a file of its own, and the warm
parent forks it with the command line, environment and folder that jupyter_client will ask
for. When a unit's kernel manager then asks for a kernel, the provisioner hands this one over
if the request is the same apart from the connection file and sockets, and the spare is still
alive; jupyter_client adopts the connection information the provisioner returns (it "is
considered the truth"), key included. Otherwise the spare is killed and a kernel forked as
usual. Parameters still reach the notebook only through papermill, which sends them as the
first cell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from dataclasses import dataclass

from jupyter_client.connect import (
    KernelConnectionInfo,
    LocalPortCache,
    port_names,
    write_connection_file,
)
from jupyter_client.session import new_id_bytes

from reportkit.run.kernels.manager import ReportKernelManager
from reportkit.run.kernels.warm_parent import pidfd_exited

#: Connection settings a request must share with the spare (no CurveZMQ keys on either side).
#: Over Unix sockets, "ip" is a socket name prefix of the kernel's own, like its ports.
_SETTINGS = ("transport", "signature_scheme", "curve_publickey")
_PLACEHOLDER = "{connection_file}"


def _generic(argv: list[str], connection_file: str) -> list[str]:
    """The command line with its connection file left out, for comparing two launches."""
    path = os.path.realpath(connection_file)
    return [_PLACEHOLDER if arg == path else arg for arg in argv]


@dataclass
class SpareKernel:
    """A kernel forked ahead of time: what it was launched with, and (once the warm parent has
    answered) its pid and a pidfd."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    connection_file: str
    connection_info: KernelConnectionInfo
    pid: int | None = None
    pidfd: int | None = None

    @classmethod
    def prepare(cls, kernel_name: str) -> SpareKernel:
        """Sockets as a unit's kernel manager takes them (TCP ports through jupyter_client's
        port cache), a key and a connection file, and the launch jupyter_client would make for
        kernel_name: the kernelspec's command, a copy of this process's environment, its folder."""
        fd, path = tempfile.mkstemp(prefix="reportkit-kernel-", suffix=".json")
        os.close(fd)
        km = ReportKernelManager(kernel_name=kernel_name, connection_file=path)
        ports = {}
        if km.transport == "tcp":
            ports = {
                name: LocalPortCache.instance().find_available_port(km.ip) for name in port_names
            }
        _, info = write_connection_file(
            path,
            transport=km.transport,
            ip=km.ip,
            key=new_id_bytes(),
            kernel_name=kernel_name,
            **ports,
        )
        info["key"] = info["key"].encode()  # bytes, as a kernel manager holds it
        return cls(
            argv=km.format_kernel_cmd(),
            env=dict(os.environ),
            cwd=os.getcwd(),
            connection_file=path,
            connection_info=info,
        )

    @property
    def cached_ports(self) -> bool:
        """Whether its ports came from jupyter_client's port cache (TCP), which wants them back."""
        return self.connection_info.get("transport") == "tcp"

    def started(self, pid: int) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)

    def alive(self) -> bool:
        return self.pidfd is not None and not pidfd_exited(self.pidfd)

    def serves(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        connection_file: str,
        connection_info: KernelConnectionInfo,
    ) -> bool:
        """Whether this spare is the kernel a launch request asks for, and still alive."""
        return (
            _generic(argv, connection_file) == _generic(self.argv, self.connection_file)
            and env == self.env
            and cwd == self.cwd
            and all(connection_info.get(k) == self.connection_info.get(k) for k in _SETTINGS)
            and (not self.cached_ports or connection_info.get("ip") == self.connection_info["ip"])
            and self.alive()
        )

    def discard(self) -> None:
        """Kill it if it runs (the warm parent reaps it), remove its file, return its ports."""
        if self.pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            os.close(self.pidfd)
            self.pidfd = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.connection_file)
        if self.cached_ports:
            return_ports(self.connection_info)


def return_ports(info: KernelConnectionInfo) -> None:
    """Give a kernel's ports back to jupyter_client's port cache, which a local kernel manager
    takes them from."""
    cache = LocalPortCache.instance()
    for name in port_names:
        cache.return_port(info[name])
