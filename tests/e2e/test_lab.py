"""JupyterLab (the `lab` extra) runs unit_report.ipynb as it stands: Run All in a real Chromium."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from reportkit.resources import NOTEBOOKS_DIR, UNIT_NOTEBOOK
from tests.e2e.helpers import BIN, CHROMIUM, REPO, reportkit

pytestmark = pytest.mark.slow
ARTIFACTS = Path(os.environ.get("REPORTKIT_ARTIFACTS", REPO / "build" / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a free local port with a token, serving a copy of notebooks/ (Lab saves
    what it edits), with its settings and runtime files kept in tmp_path."""
    if not (BIN / "jupyter-lab").exists() and os.environ.get("REPORTKIT_NO_SKIP") != "1":
        pytest.skip("JupyterLab (the lab extra) is not installed; run make setup")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, notebooks)
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
    }
    command = [
        str(BIN / "jupyter-lab"), "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--notebook-dir={notebooks}",
        "--ServerApp.port_retries=0", "--LabApp.news_url=",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    log = tmp_path / "lab.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_run_all_in_jupyterlab_renders_the_report(lab, tmp_path, demo_workbook):
    url, token = lab
    reportkit("ingest", str(demo_workbook), "--out", "dataset", cwd=tmp_path)
    from reportkit.data.dataset_meta import list_units

    unit = list_units(tmp_path / "dataset")[-1]
    dataset = tmp_path / "dataset"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{url}/lab/tree/unit_report.ipynb?token={token}")
            parameters = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-content")
            parameters.wait_for(timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=90_000)  # fmt: skip
            # Set the unit (and this test's dataset) in the parameters cell, as an analyst does.
            parameters.click()
            page.wait_for_selector(".jp-Notebook.jp-mod-editMode")
            page.keyboard.press("Control+End")
            page.keyboard.press("Enter")
            page.keyboard.insert_text(f'unit = "{unit}"\ndataset = "{dataset}"')
            expect(parameters).to_contain_text(f'dataset = "{dataset}"')
            page.keyboard.press("Escape")
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            heading = page.locator(".jp-OutputArea-output h2", has_text="一、党建工作主要情况")
            heading.wait_for(timeout=180_000)
            assert page.locator(".jp-OutputArea-output", has_text=unit).count() >= 1
            assert page.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0
            page.screenshot(path=str(_artefact("lab-run-all.png")))
        except Exception:
            page.screenshot(path=str(_artefact("lab-failure.png")))
            _artefact("lab-failure.txt").write_text(page.locator(".jp-Notebook").inner_text())
            raise
        finally:
            browser.close()


def _artefact(name: str) -> Path:
    (ARTIFACTS / "lab").mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / "lab" / name


def test_the_notebook_alone_takes_the_default_dataset_and_first_unit(tmp_path, monkeypatch):
    """Run All with nothing set: no dataset gives the Chinese hint naming `reportkit ingest`."""
    import papermill

    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nowhere"
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(UNIT_NOTEBOOK), str(tmp_path / "out.ipynb"),
            parameters={"dataset": str(missing)}, kernel_name="python3", progress_bar=False,
        )  # fmt: skip
    assert "请先运行 reportkit ingest" in str(failure.value.evalue)
    assert sys.executable  # the kernel is the project's .venv python3 kernel
