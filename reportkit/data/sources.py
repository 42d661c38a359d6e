"""Which files a command reads: folders become the workbooks in them, and the files an office
program leaves beside an open workbook are skipped with a note instead of failing the run.

Excel and WPS keep an owner file `~$name.xlsx` beside every open workbook, LibreOffice a lock
file `.~lock.name.xlsx#`, and WPS on Linux `.~name.xlsx`. `data/*.xlsx` picks the first up; it
is no workbook, and it means the user's edits may not be saved yet, which is what they need to
hear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reportkit.data.ingest import WORKBOOK_SUFFIXES
from reportkit.errors import Issue, ReportkitError, UsageError

#: How `validate --annotate` names its copies; such a copy is never read as an input.
ANNOTATED_SUFFIX = ".校验.xlsx"


@dataclass
class Inputs:
    """The workbooks to read, in order, and one note per file that was skipped."""

    files: list[Path] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)


def find_workbooks(paths: Iterable[Path], recursive: bool = False) -> Inputs:
    """Expand folders (sorted by name; `recursive` goes into subfolders) and skip lock files.

    A path that is neither a folder nor a skipped file is kept as given, so that reading it
    reports what is wrong with it. A folder with no workbook is a UsageError.
    """
    found = Inputs()
    for path in paths:
        if path.is_dir():
            before = len(found.files)
            _walk(path, recursive, found, seen={_identity(path)})
            if len(found.files) == before:
                raise UsageError(_empty_folder_message(path, recursive))
        elif (note := skip_note(path)) is not None:
            found.notes.append(note)
        else:
            found.files.append(path)
    unique: dict[object, Path] = {}
    for path in found.files:
        unique.setdefault(_identity(path), path)
    found.files = list(unique.values())
    return found


def skip_note(path: Path) -> Issue | None:
    """Why a file must not be read as a workbook, as a note; None for an ordinary file."""
    name = path.name
    owner = _owned_workbook(path)
    if owner is not None:
        message = (
            f"这是 Excel/WPS 打开「{owner}」时生成的占位文件，已跳过。"
            f"「{owner}」正在 Excel/WPS 中打开：尚未保存的修改不会包含在内，请先保存"
        )
    elif name.startswith("."):
        message = "这是隐藏文件（通常由系统或办公软件生成），已跳过"
    elif name.endswith(ANNOTATED_SUFFIX):
        message = "这是 reportkit 生成的标注副本，已跳过；请在原工作簿中修改"
    else:
        return None
    return Issue(str(path), None, None, None, None, message, "note")


def _owned_workbook(path: Path) -> str | None:
    """The workbook an owner or lock file stands for, or None when `path` is not one."""
    name = path.name
    if name.startswith(".~lock.") and name.endswith("#"):
        return name[len(".~lock.") : -1]
    if name.startswith(".~"):
        return name[2:]
    if not name.startswith("~$"):
        return None
    tail = name[2:]
    # Excel keeps the whole name when it is short and replaces the first two characters of a
    # longer one (report.xlsx -> ~$port.xlsx); name the sibling when there is exactly one.
    try:
        siblings = [p.name for p in path.parent.iterdir() if p != path]
    except OSError:
        siblings = []
    if tail in siblings:
        return tail
    matches = [s for s in siblings if len(s) == len(name) and s.endswith(tail)]
    return matches[0] if len(matches) == 1 else f"…{tail}"


def _walk(folder: Path, recursive: bool, found: Inputs, seen: set[object]) -> None:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise ReportkitError(f"无法读取文件夹「{folder}」：{exc.strerror or exc}") from None
    for entry in entries:
        if entry.is_dir():
            identity = _identity(entry)
            if recursive and not entry.name.startswith(".") and identity not in seen:
                seen.add(identity)
                _walk(entry, recursive, found, seen)
            continue
        is_workbook = entry.suffix.lower() in WORKBOOK_SUFFIXES
        if not is_workbook and _owned_workbook(entry) is None:
            continue  # README.txt, .DS_Store: not ours to mention
        note = skip_note(entry)
        if note is not None:
            found.notes.append(note)
        else:
            found.files.append(entry)


def _identity(path: Path) -> object:
    """Device and inode, so a file named twice (data/ and data/a.xlsx) is read once."""
    try:
        info = path.stat()
    except OSError:
        return str(path)
    return info.st_dev, info.st_ino


def _empty_folder_message(folder: Path, recursive: bool) -> str:
    kinds = "、".join(WORKBOOK_SUFFIXES)
    where = "及其子文件夹" if recursive else ""
    hint = ""
    if not recursive and _has_subfolders(folder):
        hint = "；要读取子文件夹中的工作簿，请加 --recursive"
    return f"文件夹「{folder}」{where}中没有工作簿（{kinds}）{hint}。"


def _has_subfolders(folder: Path) -> bool:
    try:
        return any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False
