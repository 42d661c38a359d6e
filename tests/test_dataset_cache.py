"""The dataset cache runs read from: immutable folders named by content, held while in use."""

from __future__ import annotations

import datetime as dt
import fcntl
from pathlib import Path

import pytest

from reportkit import dataset as dataset_module
from reportkit.dataset import (
    LOCK,
    default_cache_dir,
    list_units,
    load_unit,
    open_dataset,
    read_meta,
)
from reportkit.errors import ValidationFailed

HEADER = ["日期", "单位", "党支部", "活动类型", "主题", "应到人数", "实到人数"]


def book(write_xlsx, name: str, unit: str, topic: str = "主题") -> Path:
    rows = [HEADER, [dt.datetime(2020, 1, 3), unit, "一支部", "主题党日", topic, 8, 8]]
    return write_xlsx(name, {"活动台账": rows})


def folders(cache: Path) -> list[Path]:
    return sorted((cache / "datasets").iterdir())


def test_default_cache_is_the_users_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "reportkit"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec ignores these
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "reportkit"


def test_each_workbook_gets_its_own_folder_and_the_other_is_untouched(write_xlsx, tmp_path):
    cache = tmp_path / "cache"
    with open_dataset([book(write_xlsx, "a.xlsx", "甲局")], cache) as first:
        meta = (first.dir / "meta.json").read_bytes()
        with open_dataset([book(write_xlsx, "b.xlsx", "乙局")], cache) as second:
            assert second.dir != first.dir
            assert list_units(first.dir) == ["甲局"] and list_units(second.dir) == ["乙局"]
        assert (first.dir / "meta.json").read_bytes() == meta
    assert len(folders(cache)) == 2


def test_same_content_reuses_the_folder_without_parsing(write_xlsx, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    path = book(write_xlsx, "a.xlsx", "甲局")
    with open_dataset([path], cache) as first:
        made = (first.dir / "meta.json").stat().st_mtime_ns

    def no_parse(*_args, **_kwargs):
        raise AssertionError("the workbook was parsed again")

    monkeypatch.setattr(dataset_module, "read_workbooks", no_parse)
    with open_dataset([path], cache) as again:
        assert again.dir == first.dir
        assert (again.dir / "meta.json").stat().st_mtime_ns == made
    # The extra activity types are part of the key: they change what the rows mean.
    monkeypatch.undo()
    with open_dataset([path], cache, extra_types={"读书班": []}) as other:
        assert other.dir != first.dir


def test_bad_workbook_writes_nothing(write_xlsx, tmp_path):
    rows = [HEADER, [dt.datetime(2020, 1, 3), "甲局", "一支部", "不存在的类型", "", 8, 8]]
    path = write_xlsx("bad.xlsx", {"活动台账": rows})
    with pytest.raises(ValidationFailed):
        open_dataset([path], tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_clean_up_removes_only_datasets_no_run_holds(write_xlsx, tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, "KEEP_DATASETS", 0)
    cache = tmp_path / "cache"
    held = open_dataset([book(write_xlsx, "a.xlsx", "甲局")], cache)
    released = open_dataset([book(write_xlsx, "b.xlsx", "乙局")], cache)
    released.close()
    dead = cache / "datasets" / ".tmp-dead-writer"  # a writer that was killed
    dead.mkdir()
    (dead / LOCK).touch()
    # A third dataset's clean-up: the held one stays, readable; the released one goes.
    with open_dataset([book(write_xlsx, "c.xlsx", "丙局")], cache) as third:
        assert folders(cache) == sorted([held.dir, third.dir])
        assert load_unit(held.dir, "甲局").activities["topic"].tolist() == ["主题"]
    held.close()


def test_a_dataset_being_removed_is_never_handed_out(write_xlsx, tmp_path):
    cache = tmp_path / "cache"
    path = book(write_xlsx, "a.xlsx", "甲局")
    open_dataset([path], cache).close()
    (gone,) = folders(cache)
    # A clean-up holds the exclusive lock and has moved the folder aside: a run that finds the
    # lock file moved builds the dataset again instead of reading a folder about to vanish.
    with (gone / LOCK).open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        aside = gone.with_name(".trash-test")
        gone.rename(aside)
        with open_dataset([path], cache) as rebuilt:
            assert rebuilt.dir == gone and read_meta(rebuilt.dir)["units"] == ["甲局"]
