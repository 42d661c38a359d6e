"""A unit's files reach OUT all together or not at all, and EFBIG is named (ulimit -f)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = """
import resource, sys
from pathlib import Path
from reportkit.errors import OutputError
from reportkit.layout import write_files_atomic

resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    write_files_atomic(Path(sys.argv[1]), {"a.txt": b"new", "b.txt": b"x" * 5000})
except OutputError as exc:
    print(exc)
"""


def test_a_file_over_the_size_limit_leaves_every_file_of_the_set_as_it_was(tmp_path: Path):
    (tmp_path / "a.txt").write_bytes(b"old")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert f"写入 {tmp_path / 'b.txt'} 失败：文件超过大小上限（File too large）" in proc.stdout
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_all_files_of_the_set_take_their_places(tmp_path: Path):
    from reportkit.layout import write_files_atomic

    (tmp_path / "a.txt").write_bytes(b"old")
    write_files_atomic(tmp_path, {"a.txt": b"new", "b.txt": b"more"})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.txt": b"new",
        "b.txt": b"more",
    }
