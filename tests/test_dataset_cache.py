"""The dataset cache runs read from: immutable folders named by content, held while in use."""

from __future__ import annotations

import datetime as dt
import fcntl
import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest

from reportkit.data import dataset as dataset_module
from reportkit.data import dataset_cache
from reportkit.data.dataset import load_unit
from reportkit.data.dataset_cache import LOCK, Builder, default_cache_dir, open_dataset
from reportkit.data.dataset_meta import list_units, read_meta, unit_fingerprints
from reportkit.data.ingest import files as files_module
from reportkit.data.ingest import reader
from reportkit.errors import ValidationFailed

HEADER = ["日期", "单位", "党支部", "活动类型", "主题", "应到人数", "实到人数"]


def book(write_xlsx, name: str, unit: str, topic: str = "主题") -> Path:
    rows = [HEADER, [dt.datetime(2020, 1, 3), unit, "一支部", "主题党日", topic, 8, 8]]
    return write_xlsx(name, {"活动台账": rows})


def read_only_in_a_child(monkeypatch) -> None:
    """Make reading workbooks fail in this process only: a child, forked with this patch or
    spawned without it, reads as usual."""
    driver = os.getpid()
    original = dataset_module.read_workbooks

    def guarded(*args, **kwargs):
        assert os.getpid() != driver, "read in the driver"
        return original(*args, **kwargs)

    monkeypatch.setattr(dataset_module, "read_workbooks", guarded)


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
            assert list_units(first.dir) == ["甲局"]
            assert list_units(second.dir) == ["乙局"]
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
    monkeypatch.setattr(dataset_cache, "KEEP_DATASETS", 0)
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
            assert rebuilt.dir == gone
            assert read_meta(rebuilt.dir)["units"] == ["甲局"]


def test_one_edited_row_writes_one_units_part_and_links_the_rest(write_xlsx, tmp_path):
    cache = tmp_path / "cache"

    def two_units(topic: str) -> Path:
        rows = [
            HEADER,
            [dt.datetime(2020, 1, 3), "甲局", "一支部", "主题党日", topic, 8, 8],
            [dt.datetime(2020, 2, 3), "乙局", "二支部", "党课", "乙的党课", 6, 6],
        ]
        return write_xlsx("log.xlsx", {"活动台账": rows})

    with open_dataset([two_units("旧")], cache) as before:
        old_parts = read_meta(before.dir)["parts"]["activities"]
        old_prints = unit_fingerprints(before.dir)
    with open_dataset([two_units("新")], cache) as after:
        new_parts = read_meta(after.dir)["parts"]["activities"]
        assert new_parts["乙局"] == old_parts["乙局"]
        assert new_parts["甲局"] != old_parts["甲局"]
        # The untouched part is the same file (a hard link), not a copy written again.
        same = (before.dir / "activities" / old_parts["乙局"]).stat()
        assert (after.dir / "activities" / new_parts["乙局"]).stat().st_ino == same.st_ino
        prints = unit_fingerprints(after.dir)
        assert prints["乙局"] == old_prints["乙局"]
        assert prints["甲局"] != old_prints["甲局"]
        assert load_unit(after.dir, "甲局").activities["topic"].tolist() == ["新"]


def test_only_the_changed_workbook_is_read_again(write_xlsx, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    books = [book(write_xlsx, f"{unit}.xlsx", unit) for unit in ("甲局", "乙局", "丙局")]
    open_dataset(books, cache).close()
    assert stat.S_IMODE((cache / "parsed").stat().st_mode) == 0o700  # it holds roster names
    read: list[str] = []
    original = reader.Reader.read_file

    def counting(self, path):
        read.append(path.name)
        return original(self, path)

    monkeypatch.setattr(reader.Reader, "read_file", counting)
    book(write_xlsx, "乙局.xlsx", "乙局", topic="改过的主题")
    with open_dataset(books, cache) as again:
        assert read == ["乙局.xlsx"]
        assert list_units(again.dir) == ["甲局", "乙局", "丙局"]
        assert load_unit(again.dir, "乙局").activities["topic"].tolist() == ["改过的主题"]
        assert load_unit(again.dir, "丙局").activities["topic"].tolist() == ["主题"]


def test_a_set_with_errors_keeps_no_parse(write_xlsx, tmp_path):
    good = book(write_xlsx, "good.xlsx", "甲局")
    rows = [HEADER, [dt.datetime(2020, 1, 3), "乙局", "一支部", "不存在的类型", "", 8, 8]]
    bad = write_xlsx("bad.xlsx", {"活动台账": rows})
    with pytest.raises(ValidationFailed):
        open_dataset([good, bad], tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_large_workbooks_are_read_in_a_child_process(write_xlsx, tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_cache, "IN_CHILD_BYTES", 0)

    read_only_in_a_child(monkeypatch)
    with open_dataset([book(write_xlsx, "a.xlsx", "甲局")], tmp_path / "cache") as held:
        assert list_units(held.dir) == ["甲局"]
    rows = [HEADER, [dt.datetime(2020, 1, 3), "乙局", "一支部", "不存在的类型", "", 8, 8]]
    with pytest.raises(ValidationFailed) as failed:
        open_dataset([write_xlsx("bad.xlsx", {"活动台账": rows})], tmp_path / "cache")
    errors = [i for i in failed.value.issues if i.severity == "error"]
    assert [(i.row, i.column) for i in errors] == [(2, "活动类型")]


def test_a_builder_started_first_reads_new_workbooks_and_then_keeps_their_parse(
    write_xlsx, tmp_path, monkeypatch
):
    monkeypatch.setattr(dataset_cache, "IN_CHILD_BYTES", 0)
    cache = tmp_path / "cache"
    books = [book(write_xlsx, "a.xlsx", "甲局")]

    read_only_in_a_child(monkeypatch)
    with Builder.for_inputs(books, cache) as builder:
        assert builder.waiting  # large and never read: a child waits for the job
        with open_dataset(books, cache, builder=builder) as held:
            assert list_units(held.dir) == ["甲局"]
            assert not builder.waiting  # its one job is done
    assert not multiprocessing.active_children()  # the child ended once it had tidied up
    assert read_meta(held.dir)["parsed"] == sorted(p.name for p in (cache / "parsed").iterdir())
    with Builder.for_inputs(books, cache) as again:
        assert not again.waiting  # a cached dataset was read from them: no child
    book(write_xlsx, "a.xlsx", "甲局", topic="改过的主题")
    with Builder.for_inputs(books, cache) as edited:
        assert edited.waiting


def test_a_builder_that_was_not_needed_is_stopped(write_xlsx, tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_cache, "IN_CHILD_BYTES", 0)
    books = [book(write_xlsx, "a.xlsx", "甲局")]

    def fail_before_the_build() -> None:
        with Builder.for_inputs(books, tmp_path / "cache") as builder:
            assert builder.waiting
            raise RuntimeError("e.g. bad parameters")

    with pytest.raises(RuntimeError):
        fail_before_the_build()
    assert not multiprocessing.active_children()
    with Builder.for_inputs(books, tmp_path / "cache") as unused:
        assert unused.waiting
    assert not multiprocessing.active_children()
    assert not (tmp_path / "cache").exists()


def test_a_workbook_changed_after_it_was_read_ahead_is_read_again(
    write_xlsx, tmp_path, monkeypatch
):
    def read_ahead(path: Path) -> dataset_cache._ReadAhead:
        ahead = dataset_cache._ReadAhead([path])
        ahead.stop()
        while path not in ahead._read:  # the thread registers the file before reading it
            time.sleep(0.01)
        ahead._read[path][1].result()
        return ahead

    path = book(write_xlsx, "a.xlsx", "甲局", topic="读前的主题")
    ahead = read_ahead(path)
    book(write_xlsx, "a.xlsx", "甲局", topic="改过的主题")
    ((_sheet, rows, _merged),) = ahead.read(path).grids
    assert rows[1][4] == "改过的主题"

    unchanged = read_ahead(path)

    def no_read(_path: Path) -> None:
        raise AssertionError("read again")

    monkeypatch.setattr(files_module, "read_cells", no_read)
    ((_sheet, rows, _merged),) = unchanged.read(path).grids
    assert rows[1][4] == "改过的主题"


def test_a_datasets_lock_file_appears_already_held(tmp_path):
    """A clean-up removes a .tmp- folder whose lock it can take (a killed writer's): the
    writer's lock file must never be visible unlocked, or a clean-up between its creation and
    its locking removes the folder being written."""
    cache = tmp_path / "cache"
    writing = cache / "datasets" / ".tmp-writer"
    writing.mkdir(parents=True)
    held = dataset_cache._born_held(writing)
    try:
        assert [p.name for p in writing.iterdir()] == [LOCK]
        other = (writing / LOCK).open("rb")
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        other.close()
        dataset_cache._clean_up(cache)
        assert writing.is_dir()
    finally:
        held.close()
    dataset_cache._clean_up(cache)  # now it is what a killed writer leaves
    assert not writing.exists()
