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
