"""Which files a command reads: folders, and the lock files an open workbook leaves beside it.

Every case is a real folder of real files given to the real console script.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportkit.data.sources import find_workbooks
from tests.test_bad_input import HEADER, act, reportkit, xlsx

OPEN_NOTE = "正在 Excel/WPS 中打开：尚未保存的修改不会包含在内"


def owner_file(path: Path, user: str = "alice") -> Path:
    """An owner file as Excel writes it: 165 bytes, the user's name in ANSI and UTF-16."""
    data = bytes([len(user)]) + user.encode() + b" " * (53 - len(user))
    data += user.encode("utf-16-le") + b"\x00" * 8
    path.write_bytes(data.ljust(165, b"\x00"))
    return path


def good(path: Path, unit: str = "甲局") -> Path:
    return xlsx(path, {"活动台账": [HEADER, act(单位=unit), act(单位=unit, 活动类型="党课")]})


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("提示：")]


# -- owner and lock files ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_owner_file_beside_a_good_workbook_is_skipped_with_a_note(
    command: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    good(data / "demo.xlsx")
    owner = owner_file(data / "~$demo.xlsx")
    proc = reportkit(command, data / "demo.xlsx", owner, cwd=tmp_path)  # as data/*.xlsx expands
    assert proc.returncode == 0, proc.stderr
    (note,) = notes(proc.stderr)
    assert note.startswith(f"提示：{owner}：") and "「demo.xlsx」" in note and OPEN_NOTE in note
    assert "已损坏" not in proc.stderr and "错误" not in proc.stderr


@pytest.mark.slow
def test_run_succeeds_with_an_owner_file_in_the_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good(data / "demo.xlsx")
    owner_file(data / "~$demo.xlsx")
    proc = reportkit(
        "run", data, "--out", "OUT", "--formats", "html", "--jobs", "1", cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert len(notes(proc.stderr)) == 1 and OPEN_NOTE in proc.stderr
    manifest = json.loads((tmp_path / "OUT" / "manifest.json").read_text(encoding="utf-8"))
    assert [u["unit"] for u in manifest["units"]] == ["甲局"]
    assert [u["status"] for u in manifest["units"]] == ["ok"]


def test_every_kind_of_lock_and_hidden_file_gets_one_note(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good(data / "report.xlsx")
    owner_file(data / "~$port.xlsx")  # Excel cuts the first two characters of a long name
    (data / ".~lock.report.xlsx#").write_text(",alice,host,30.11.2026 09:00,file:///home/a;")
    owner_file(data / ".~report.xlsx")  # WPS on Linux
    (data / "._report.xlsx").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)  # macOS metadata
    (data / "报告.校验.xlsx").write_bytes(good(tmp_path / "copy.xlsx").read_bytes())
    (data / "说明.txt").write_text("not a workbook")
    found = find_workbooks([data])
    assert found.files == [data / "report.xlsx"]
    by_file = {Path(n.file).name: n.message for n in found.notes}
    assert sorted(by_file) == sorted(
        ["~$port.xlsx", ".~lock.report.xlsx#", ".~report.xlsx", "._report.xlsx", "报告.校验.xlsx"]
    )
    for lock in ("~$port.xlsx", ".~lock.report.xlsx#", ".~report.xlsx"):
        assert "「report.xlsx」" in by_file[lock] and OPEN_NOTE in by_file[lock]
    assert "隐藏文件" in by_file["._report.xlsx"]
    assert "标注副本" in by_file["报告.校验.xlsx"]
    assert all(n.severity == "note" for n in found.notes)


def test_only_skipped_files_is_a_usage_error(tmp_path: Path) -> None:
    owner = owner_file(tmp_path / "~$demo.xlsx")
    proc = reportkit("validate", owner, cwd=tmp_path)
    assert proc.returncode == 2
    assert len(notes(proc.stderr)) == 1
    assert proc.stderr.splitlines()[-1].startswith("reportkit：没有可读取的工作簿")


# -- folders ---------------------------------------------------------------------------------


def _tree(root: Path) -> Path:
    """Two workbooks in the folder, one in a subfolder and one in a hidden subfolder."""
    good(root / "b.xlsx", "乙局")
    good(root / "a.xlsx", "甲局")
    good(root / "sub" / "c.xlsx", "丙局")
    good(root / ".hidden" / "d.xlsx", "丁局")
    return root


def test_a_folder_means_the_workbooks_directly_in_it_sorted_by_name(tmp_path: Path) -> None:
    root = _tree(tmp_path / "round1")
    assert find_workbooks([root]).files == [root / "a.xlsx", root / "b.xlsx"]
    assert find_workbooks([root], recursive=True).files == [
        root / "a.xlsx",
        root / "b.xlsx",
        root / "sub" / "c.xlsx",
    ]
    # A file named again beside its folder is read once.
    assert find_workbooks([root, root / "a.xlsx"]).files == [root / "a.xlsx", root / "b.xlsx"]


@pytest.mark.parametrize(
    ("args", "units"),
    [(["round1"], "2 个单位"), (["round1", "--recursive"], "3 个单位")],
    ids=["folder", "recursive"],
)
def test_validate_and_ingest_read_a_folder(args: list[str], units: str, tmp_path: Path) -> None:
    _tree(tmp_path / "round1")
    proc = reportkit("validate", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert units in proc.stdout
    proc = reportkit("ingest", *args, "--out", "ds", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text(encoding="utf-8"))
    expected = ["round1/a.xlsx", "round1/b.xlsx"]
    if "--recursive" in args:
        expected.append("round1/sub/c.xlsx")
    assert meta["files"] == expected


@pytest.mark.parametrize("command", ["validate", "ingest", "run"])
def test_an_empty_folder_is_a_chinese_usage_error(command: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "说明.txt").write_text("no workbook here")
    (empty / "sub").mkdir()
    good(empty / "sub" / "a.xlsx")
    proc = reportkit(command, empty, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"reportkit：文件夹「{empty}」中没有工作簿（.xlsx、.xlsm、.xls、.ods）")
    assert "--recursive" in last  # the workbook is one level down
    assert not (tmp_path / "reports").exists() and not (tmp_path / "build").exists()
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    proc = reportkit(command, nothing, "--recursive", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"reportkit：文件夹「{nothing}」及其子文件夹中没有工作簿（.xlsx、.xlsm、.xls、.ods）。"
    )
