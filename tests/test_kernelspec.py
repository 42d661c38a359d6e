"""The reportkit kernelspec is found only on the JUPYTER_PATH the workers set, and selects the
warm-fork provisioner through jupyter_client's entry point."""

from __future__ import annotations

import os

import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.provisioning import KernelProvisionerFactory

from reportkit.run import kernels
from reportkit.run.kernels.provisioner import WarmForkProvisioner


def test_kernelspec_selects_the_warm_fork_provisioner(monkeypatch):
    monkeypatch.setattr(kernels, "fork_supported", lambda: False)  # no warm parent needed here
    monkeypatch.setenv("JUPYTER_PATH", "/somewhere/else")
    kernels.start_worker_kernels()
    assert kernels.current_warm_parent() is None
    spec = KernelSpecManager().get_kernel_spec(kernels.KERNEL_NAME)
    assert spec.metadata["kernel_provisioner"]["provisioner_name"] == "reportkit-warm-fork"
    factory = KernelProvisionerFactory.instance()
    assert factory.is_provisioner_available(spec)
    provisioner = factory.create_provisioner_instance("id", spec, parent=None)
    assert isinstance(provisioner, WarmForkProvisioner)
    assert "/somewhere/else" in os.environ["JUPYTER_PATH"].split(os.pathsep)  # theirs kept


def test_the_users_kernels_do_not_see_it(monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", "")
    with pytest.raises(NoSuchKernel):
        KernelSpecManager().get_kernel_spec(kernels.KERNEL_NAME)


@pytest.mark.parametrize(
    ("code", "timeout", "error"),
    [
        ("import sys; sys.exit(3)", 60, "before replying to kernel_info"),
        ("import time; time.sleep(60)", 2, "didn't respond in 2 seconds"),
    ],
    ids=["exits", "stays-silent"],
)
def test_a_kernel_that_never_answers_is_a_start_failure(
    tmp_path, monkeypatch, code, timeout, error
):
    """The client's readiness check (run/kernels/manager.py) tells a kernel that exited, or
    stayed silent, before kernel_info apart, as KernelStartFailed, so that execution starts
    the unit once more."""
    import asyncio
    import json
    import sys

    from reportkit.run.kernels.manager import KernelStartFailed, ReportKernelManager

    spec = tmp_path / "kernels" / "mute"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", code, "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    async def start() -> None:
        manager = ReportKernelManager(kernel_name="mute")
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        try:
            with pytest.raises(KernelStartFailed, match=error):
                await client.wait_for_ready(timeout=timeout)
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    asyncio.run(start())
