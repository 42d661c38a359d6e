"""The output folder: safe per-unit folder names and writes that are never half-done.

Unit names come from workbooks, so they may hold path separators, `..`, control characters or
300 characters. Every file reportkit writes goes to a temporary name in the same folder and is
renamed into place, so a crash or a full disk never leaves a truncated file at a final path.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from reportkit.errors import OutputError

_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
MAX_DIR_BYTES = 180  # leaves room for suffixes and temporary names under NAME_MAX (255)


_REASONS = {
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "超出磁盘配额",
    errno.EROFS: "文件系统为只读",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.ENOENT: "目录不存在",
    # `ulimit -f`: Python ignores SIGXFSZ, so an over-long write fails with EFBIG instead.
    errno.EFBIG: "文件超过大小上限",
}


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def os_reason(exc: OSError) -> str:
    """Why a write failed, in Chinese, with the system's words kept for searching."""
    reason = _REASONS.get(exc.errno or 0)
    detail = exc.strerror or str(exc)
    return f"{reason}（{detail}）" if reason else detail


#: Names OUT itself uses: a unit called "index.html" must not take the index's place.
RESERVED_NAMES = frozenset(
    name.casefold()
    for name in (
        "index.html",
        "manifest.json",
        "run.log",
        "reportkit.lock",
        *(f"summary.{ext}" for ext in ("ipynb", "failed.ipynb", "html", "pdf", "docx")),
    )
)
#: Device names Windows refuses as a file or folder name (OUT is often copied to a share).
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def safe_dirname(unit: str, taken: set[str]) -> str:
    """A folder name for a unit: readable (Chinese kept), inside OUT, and unique in `taken`.

    Separators, reserved and control characters become "_"; leading dots go (no "..", no
    hidden folder) and so do trailing dots and spaces (Windows drops them); the name is cut to
    MAX_DIR_BYTES, kept off the names of OUT's own files and Windows device names, and given a
    "-2", "-3" … suffix when another unit already has it (compared without case).
    """
    name = _UNSAFE.sub("_", unit).strip().lstrip(".").strip()
    while len(name.encode("utf-8")) > MAX_DIR_BYTES:
        name = name[:-1]
    name = name.rstrip(". ") or "unit"
    device = _WINDOWS_DEVICES.match(name)
    if device:  # Windows reads "con.txt" as the device too: mark the part before the dot
        name = f"{device.group(1)}_{name[device.end(1) :]}"
    candidate, index = name, 2
    while candidate.casefold() in taken or candidate.casefold() in RESERVED_NAMES:
        candidate, index = f"{name}-{index}", index + 1
    taken.add(candidate.casefold())
    return candidate


def assign_dirs(units: Iterable[str]) -> dict[str, str]:
    """Folder names for all units, in a stable order, so a subset run keeps the same folders."""
    taken: set[str] = set()
    return {unit: safe_dirname(unit, taken) for unit in units}


def _staged(path: Path, write: Callable[[Path], None]) -> Path:
    """A complete, fsynced temporary file beside `path`, written by `write(tmp)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"无法写入输出目录 {path.parent}：{os_reason(exc)}") from exc
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            # mkstemp makes the file private (0600); outputs are shared like any new file.
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"写入 {path} 失败：{os_reason(exc)}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomically(path: Path, write: Callable[[Path], None], *, overwrite: bool = True) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, fsync it, then move it into place.

    A crash, a full disk or Ctrl-C mid-write leaves the old file (or none) at `path`, never a
    truncated one. With `overwrite=False` an existing file is never replaced, even one that
    appears while we write (FileExistsError).
    """
    tmp = _staged(path, write)
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        raise OutputError(f"写入 {path} 失败：{os_reason(exc)}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_files_atomic(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write several files so that all of them take their final names or none does: a unit's
    report files always come from one run, never half from the last run and half from this."""
    staged: dict[Path, Path] = {}
    try:
        for name, data in files.items():
            path = folder / name
            staged[path] = _staged(path, lambda tmp, data=data: tmp.write_bytes(data))
        for path, tmp in staged.items():
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OutputError(f"写入 {path} 失败：{os_reason(exc)}") from exc
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def _move_no_clobber(tmp: Path, path: Path) -> None:
    """Move tmp to path unless path exists (a hard link where supported, else a checked rename)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network or FAT shares)
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomically(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False))


def remove_unit_folder(out: Path, name: str) -> None:
    """Delete a unit's folder (`--prune`): only ever a real folder directly inside OUT, whatever
    a manifest claims."""
    folder = out / name
    if not name or name != folder.name or name.startswith(".") or folder.is_symlink():
        return
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise OutputError(f"无法删除 {folder}：{os_reason(exc)}") from exc
