"""The dask executor's fonts: bytes travel only to workers that lack the file, and whatever a
worker uses is checked by SHA-256 against the driver's file."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import matplotlib
import pytest

from reportkit.run.executors import dask as executor

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


class Worker:
    """What FontPlugin reads of a distributed Worker."""

    def __init__(self, folder: Path) -> None:
        self.local_directory = str(folder)


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Worker:
    monkeypatch.setattr(executor, "_shipped_fonts", {})
    monkeypatch.setattr(executor, "_font_sets", set())
    monkeypatch.setenv("FONTCONFIG_FILE", "")  # setup() points it at the copies; restored after
    return Worker(tmp_path / "worker")


@pytest.fixture
def driver_font(tmp_path: Path) -> Path:
    path = tmp_path / "driver" / "DejaVuSans.ttf"
    path.parent.mkdir()
    shutil.copy(FONT, path)
    return path


def digests_of(path: Path) -> dict[str, str]:
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}


def test_a_worker_without_the_file_gets_its_bytes_once(worker: Worker, driver_font: Path):
    digests, data = digests_of(driver_font), driver_font.read_bytes()
    driver_font.unlink()  # the worker's machine has no such file
    assert executor.fonts_at_hand(digests, worker) == []
    plugin = executor.FontPlugin(digests, {str(driver_font): data})
    plugin.setup(worker)
    copy = Path(executor._shipped_fonts[str(driver_font)])
    assert copy.read_bytes() == data
    assert not copy.is_symlink()
    assert plugin.name in executor._font_sets
    listed = subprocess.run(
        ["fc-list", "--format", "%{file}\\n"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == [str(copy)]  # fontconfig (and so the PDF engine) sees only the copy
    assert executor.fonts_at_hand(digests, worker) == [str(driver_font)]  # next run: no bytes


def test_the_same_file_already_on_the_worker_is_linked_not_sent(worker: Worker, driver_font: Path):
    digests = digests_of(driver_font)
    assert executor.fonts_at_hand(digests, worker) == [str(driver_font)]
    executor.FontPlugin(digests, {}).setup(worker)
    copy = Path(executor._shipped_fonts[str(driver_font)])
    assert copy.is_symlink()
    assert copy.resolve() == driver_font.resolve()


def test_another_file_at_the_drivers_path_plays_no_part(worker: Worker, driver_font: Path):
    digests, data = digests_of(driver_font), driver_font.read_bytes()
    driver_font.write_bytes(data[:-1] + b"\0")  # the worker's own, different version
    assert executor.fonts_at_hand(digests, worker) == []
    with pytest.raises(RuntimeError, match=r"DejaVuSans\.ttf"):
        executor.FontPlugin(digests, {}).setup(worker)
    executor.FontPlugin(digests, {str(driver_font): data}).setup(worker)
    assert Path(executor._shipped_fonts[str(driver_font)]).read_bytes() == data


def test_bytes_damaged_on_the_way_are_refused(worker: Worker, driver_font: Path):
    digests, data = digests_of(driver_font), driver_font.read_bytes()
    driver_font.unlink()
    with pytest.raises(RuntimeError, match="校验失败"):
        executor.FontPlugin(digests, {str(driver_font): data[:-1]}).setup(worker)
    assert not executor._font_sets
