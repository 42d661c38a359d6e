"""The cache that runs read datasets from: immutable folders named by content, held while used.

Layout, under $XDG_CACHE_HOME/reportkit (or --cache-dir):

- datasets/<sha256>/: one dataset per set of inputs (the workbooks' names and content, the
  extra activity types, the dataset format and the parser's code), written once into a
  temporary folder, renamed into place and never rewritten. Runs started at the same time on
  other workbooks therefore never see each other's rows. Each run holds a shared flock on its
  dataset's .lock until its last kernel is done; clean-up takes an exclusive one.
- parts/<sha256>.arrow: every unit's part of every table, shared by hard links between the
  datasets that hold it, so a one-row edit writes one unit's part and links the others.
- parsed/<sha256>/: each workbook as read before the checks across files, so an unchanged
  workbook is not read again when another one changed. It holds what the workbook holds,
  roster names included (the datasets never do), so the folder is private (0700).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from reportkit.data.dataset_meta import (
    DATASET_FORMAT,
    PART_SUFFIX,
    cache_key,
    extra_key,
    hash_sources,
    read_meta,
)
from reportkit.errors import Issue, OutputError, ReportkitError, ValidationFailed

if TYPE_CHECKING:  # pandas, pyarrow and the reader load only when a dataset is built
    import pandas as pd
    import pyarrow as pa

    from reportkit.data.ingest import FileParse
    from reportkit.data.ingest.files import WorkbookCells

__all__ = ["KEEP_DATASETS", "Builder", "Dataset", "default_cache_dir", "open_dataset"]

#: In every cached dataset: runs hold a shared flock on it, clean-up an exclusive one.
LOCK = ".lock"
#: Cached datasets kept (most recently used first); older ones go when no run holds them.
KEEP_DATASETS = 8
#: Workbooks larger than this in all are read and written in a child process (even those
#: in the parse cache: their tables take as much memory as newly read ones).
IN_CHILD_BYTES = 2_000_000
#: Parts and parsed workbooks younger than this are kept even if no dataset names them yet:
#: a run may be building the dataset that will.
_GRACE_SECONDS = 3600


@cache
def parser_code() -> str:
    """sha256 of the code that turns workbooks into tables: a change to it re-reads them."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(DATASET_FORMAT).encode())
    files = [
        package / n
        for n in ("schema.py", "vocabulary.py", "text.py", "dataset.py", "dataset_meta.py")
    ]
    for path in [*files, *sorted((package / "ingest").glob("*.py"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/reportkit (~/.cache/reportkit): the user's own, whatever the folder a run
    starts in, and never inside OUT, which is handed to readers."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "reportkit"


@dataclass
class Dataset:
    """A cached dataset that this process holds: no clean-up removes it until `close`."""

    dir: Path
    #: warnings found when the dataset was built (a dataset never has errors)
    issues: list[Issue] = field(default_factory=list)
    _lock: IO[bytes] | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the shared flock
            self._lock = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _flock(folder: Path, mode: int) -> IO[bytes] | None:
    """Lock folder/.lock; None when it is gone or (non-blocking) held in a conflicting way.

    After the lock is granted, the path must still name the file locked: a clean-up may have
    moved the folder away meanwhile, and a lock on a moved folder protects nothing.
    """
    path = folder / LOCK
    try:
        handle = path.open("rb")
    except OSError:
        return None
    try:
        fcntl.flock(handle, mode)
        if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
            handle.close()
            return None
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.ENOENT):
            return None
        raise
    return handle


def _hold(folder: Path) -> IO[bytes] | None:
    """A shared lock on a complete cached dataset, and its last use recorded for clean-up."""
    handle = _flock(folder, fcntl.LOCK_SH)
    if handle is not None:
        with contextlib.suppress(OSError):  # a read-only cache serves, aging as if unused
            os.utime(folder / LOCK)
    return handle


def _born_held(folder: Path) -> IO[bytes]:
    """folder/.lock, already under this process's shared lock when it appears: a clean-up
    takes a .tmp- folder whose lock is free for one a killed writer left, so a lock file
    created first and locked after could lose its folder in between (seen with eight runs
    at once). The lock is taken on a file of another name, which is then renamed."""
    hidden = folder / f"{LOCK}-{uuid.uuid4().hex}"
    handle = hidden.open("xb")
    fcntl.flock(handle, fcntl.LOCK_SH)
    os.rename(hidden, folder / LOCK)
    return handle


def _stored_warnings(folder: Path) -> list[Issue]:
    return [Issue.from_json(w) for w in read_meta(folder).get("warnings", [])]


def open_dataset(
    paths: Sequence[Path | str],
    cache_dir: Path | str,
    extra_types: Mapping[str, Iterable[str]] | None = None,
    file_units: Mapping[str, str] | None = None,
    building: Callable[[], None] | None = None,
    builder: Builder | None = None,
) -> Dataset:
    """The dataset of these workbooks, held for this run; built (and validated) when new.

    `building` is called once, just before the workbooks are read (never when the dataset is
    cached): a run starts a worker then, so that it is ready when the reading is done. A
    `builder` started earlier (see Builder) reads large workbooks; without one, a child
    process is started here.

    Its folder, cache_dir/datasets/<sha256 of the inputs' names and content, the extra types,
    the file units, the dataset format and the parser's code>, is written once and then only
    read. Raises ValidationFailed, writing nothing, when the workbooks have errors.
    """
    paths = [Path(p) for p in paths]
    extra = extra_key(extra_types)
    sources = hash_sources(paths)
    if sources is None:  # a file cannot be read: the reader names it
        from reportkit.data.ingest import read_workbooks

        raise ValidationFailed(read_workbooks(paths, extra, file_units).issues)
    cache_dir = Path(cache_dir)
    units = dict(file_units or {})
    key = json.dumps({**cache_key(sources, extra, units), "parser": parser_code()}, sort_keys=True)
    final = cache_dir / "datasets" / hashlib.sha256(key.encode()).hexdigest()
    held = _hold(final)
    job = _Job(paths, cache_dir, extra, units, sources, final)
    if held is None and building is not None:
        building()
    if held is None and sum(s["size"] for s in sources) > IN_CHILD_BYTES:
        with contextlib.ExitStack() as stack:
            if builder is None or not builder.waiting:
                builder = stack.enter_context(Builder(paths))
            builder.build(job)
        held = _hold(final)
    if held is None:
        held, tidy = _build(job)
        tidy()
    return Dataset(final, _stored_warnings(final), held)


@dataclass(frozen=True)
class _Job:
    """What building one dataset takes; plain data, so that it pickles to a child process."""

    paths: list[Path]
    cache_dir: Path
    extra: dict[str, list[str]]
    file_units: dict[str, str]
    sources: list[dict[str, Any]]
    final: Path


class Builder:
    """A child process that builds a dataset from large workbooks (over IN_CHILD_BYTES).

    Reading a large workbook peaks at several times its tables' size, and memory a process has
    used is not given back; in a child, the run's driver stays small. A run starts it first of
    all (`for_inputs`), so that the child's interpreter, its imports (pandas, pyarrow) and
    calamine's reading of the workbooks overlap the driver's own start-up (parameters, fonts,
    the executor) instead of following it. The child answers as soon as the dataset is in
    place, then keeps the parse and cleans the cache up while the run goes on; leaving the
    `with` block waits for that, or stops a child that was never given a job.
    """

    def __init__(self, paths: Sequence[Path], start: bool = True) -> None:
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._sent = False
        if start:
            context = multiprocessing.get_context(_start_method())
            self._conn, child = context.Pipe()
            self._process = context.Process(
                target=_serve_build, args=(child, paths), name="reportkit-dataset", daemon=True
            )
            self._process.start()
            child.close()  # the child holds the only other end: its death reads as EOF here

    @classmethod
    def for_inputs(cls, paths: Sequence[Path | str], cache_dir: Path | str) -> Builder:
        """Started only when the workbooks are large and no cached dataset was read from
        workbooks with this content: the dataset will most likely be built, and a child that
        is not needed after all costs one interpreter start on the other core."""
        paths = [Path(p) for p in paths]
        sources = hash_sources(paths)
        large = sources is not None and sum(s["size"] for s in sources) > IN_CHILD_BYTES
        return cls(paths, start=large and not _read_before(Path(cache_dir), sources or []))

    @property
    def waiting(self) -> bool:
        """A child is running and has not been given its one job yet."""
        return self._process is not None and not self._sent

    def build(self, job: _Job) -> None:
        """Build the dataset in the child; ValidationFailed when the workbooks have errors."""
        assert self._conn is not None
        assert not self._sent
        self._sent = True
        lost = ReportkitError("读取台账的子进程意外退出（可能内存不足），未写入数据集")
        try:
            self._conn.send(job)
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            raise lost from None
        if kind == "issues":
            raise ValidationFailed(value)
        if kind == "raise":
            raise value

    def __enter__(self) -> Builder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if self._process is None:
            return
        if self._conn is not None:
            self._conn.close()  # a child still waiting for a job reads EOF and ends
        if exc_type is not None or not self._sent:
            self._process.terminate()  # its tidying up is safe to cut short
        self._process.join()
        self._process = None


def _start_method() -> str:
    """Fork while this process holds one thread (a run's start, when `for_inputs` is called):
    the child then reads at once, where a spawned one first starts an interpreter and imports
    (0.15 s of a one-edit run). With more threads, forking could copy a lock that another
    thread holds, so the child is spawned."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _read_before(cache_dir: Path, sources: list[dict[str, Any]]) -> bool:
    """Whether a cached dataset was built from workbooks with these names and content."""
    wanted = [[s["path"], s["sha256"]] for s in sources]
    with contextlib.suppress(OSError):
        for folder in (cache_dir / "datasets").iterdir():
            if folder.name.startswith("."):
                continue
            with contextlib.suppress(ReportkitError, AttributeError, KeyError, TypeError):
                stored = read_meta(folder).get("sources") or []
                if [[s["path"], s["sha256"]] for s in stored] == wanted:
                    return True
    return False


def _serve_build(conn: Connection, paths: Sequence[Path]) -> None:
    """The child: read the workbooks' cells while importing what the checks take, build the one
    dataset it is sent, answer, then keep the parse and clean the cache up. Ctrl-C reaches the
    driver, which stops the child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ahead = _ReadAhead(paths)
    import reportkit.data.dataset  # noqa: F401 - pandas and pyarrow, while calamine reads

    try:
        job = conn.recv()
    except (EOFError, OSError):
        return  # the dataset was cached after all
    ahead.stop()
    tidy: Callable[[], None] | None = None
    try:
        held, tidy = _build(job, ahead.read)
        held.close()  # the driver takes its own shared lock
        answer: tuple[str, Any] = ("ok", None)
    except ValidationFailed as failed:  # it does not pickle; its issues do
        answer = ("issues", failed.issues)
    except Exception as exc:  # noqa: BLE001 - shown by the driver as it would be in-process
        answer = ("raise", exc)
    try:
        conn.send(answer)
    except OSError:
        pass  # the driver is gone: the dataset is in place all the same
    except Exception:  # noqa: BLE001 - an exception that does not pickle
        conn.send(("raise", ReportkitError(f"{type(answer[1]).__name__}: {answer[1]}")))
    conn.close()
    if tidy is not None:
        tidy()


class _ReadAhead:
    """Workbooks read in a thread, in order, from the child's start until its job arrives.

    calamine releases the GIL, so the reading overlaps the child's own imports. A workbook
    changed after it was read ahead (the driver hashes the workbooks meanwhile) is read again,
    so what is read is what the job's key names; one the job takes from the parse cache was
    read for nothing; one not reached yet is read when the job needs it.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._read: dict[Path, tuple[tuple[int, ...] | None, cf.Future[WorkbookCells]]] = {}
        threading.Thread(target=self._run, args=(list(paths),), daemon=True).start()

    def _run(self, paths: list[Path]) -> None:
        from reportkit.data.ingest.files import read_cells

        for path in paths:
            future: cf.Future[WorkbookCells] = cf.Future()
            with self._lock:
                if self._stopped:
                    return
                self._read[path] = (_version(path), future)
            try:
                future.set_result(read_cells(path))
            except BaseException as exc:  # noqa: BLE001 - raised again where the job reads it
                future.set_exception(exc)

    def stop(self) -> None:
        """No more reading ahead: the job reads the rest itself."""
        with self._lock:
            self._stopped = True

    def read(self, path: Path) -> WorkbookCells:
        from reportkit.data.ingest.files import read_cells

        with self._lock:
            version, future = self._read.pop(path, (None, None))
        if future is not None:
            cf.wait([future])
            if version is not None and version == _version(path):
                return future.result()  # a FileProblem too, as read_cells raises it
        return read_cells(path)


def _version(path: Path) -> tuple[int, ...] | None:
    """What changes whenever a file is written or replaced."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _build(
    job: _Job, read: Callable[[Path], WorkbookCells] | None = None
) -> tuple[IO[bytes], Callable[[], None]]:
    """Read, validate and write the dataset at job.final; return the shared lock held on it,
    and what is left to do once the run may go on: keep the parse, clean the cache up."""
    from reportkit.data.dataset import new_folder, parse_workbooks, write_files

    cache_dir, final = job.cache_dir, job.final
    parsed = _ParseStore(cache_dir, job.sources, job.extra)
    result, meta = parse_workbooks(job.paths, job.extra, job.sources, parsed, job.file_units, read)
    meta["parsed"] = parsed.keys
    datasets = final.parent
    tmp = new_folder(datasets, f".tmp-{uuid.uuid4().hex}", datasets)
    try:
        held = _born_held(tmp)
        write_files(tmp, result, meta, _PartStore(cache_dir / "parts").place)
        del result  # the tables are on disk now
        for _attempt in range(3):
            try:
                os.rename(tmp, final)
                break
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            theirs = _hold(final)  # another run built the same dataset first: use theirs
            if theirs is not None:
                held.close()
                shutil.rmtree(tmp, ignore_errors=True)
                held = theirs
                break
        else:
            raise OSError(errno.EEXIST, "数据集文件夹被反复占用")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"写入数据集缓存「{datasets}」失败：{exc.strerror or exc}") from None

    def tidy() -> None:
        parsed.commit()
        _clean_up(cache_dir)

    return held, tidy


class _PartStore:
    """parts/: each part written once, then hard-linked into every dataset that holds it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def place(self, table: pa.Table, path: Path) -> None:
        from reportkit.data.dataset import write_part

        shared = self.folder / path.name
        for _attempt in range(3):
            if not shared.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = self.folder / f".tmp-{uuid.uuid4().hex}"
                write_part(table, tmp)
                os.replace(tmp, shared)  # a part of the same name has the same rows
            try:
                os.link(shared, path)
                return
            except FileNotFoundError:
                continue  # removed by a clean-up meanwhile: write it again
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
                    raise
                shutil.copyfile(shared, path)  # a file system without hard links
                return
        write_part(table, path)


class _ParseStore:
    """parsed/: FileParses by workbook, kept only once the whole set of workbooks validates."""

    def __init__(
        self, cache_dir: Path, sources: list[dict[str, Any]], extra: dict[str, list[str]]
    ) -> None:
        self.folder = cache_dir / "parsed"
        self._key = {
            s["path"]: hashlib.sha256(
                json.dumps([s["path"], s["sha256"], extra, parser_code()]).encode()
            ).hexdigest()
            for s in sources
        }
        self._pending: dict[str, FileParse] = {}

    @property
    def keys(self) -> list[str]:
        return sorted(set(self._key.values()))

    def load(self, path: Path) -> FileParse | None:
        import pyarrow as pa

        from reportkit.data.dataset import read_part
        from reportkit.data.ingest import FileParse

        key = self._key.get(str(path))
        if key is None or not (self.folder / key).is_dir():
            return None
        try:
            issues = json.loads((self.folder / key / "issues.json").read_text(encoding="utf-8"))
            frames: dict[str, list[pd.DataFrame]] = {}
            for part in (self.folder / key).glob(f"*{PART_SUFFIX}"):
                frames[part.stem] = [read_part(part).to_pandas()]
            os.utime(self.folder / key)
        except (OSError, ValueError, pa.ArrowException):
            return None  # e.g. removed by a clean-up meanwhile: read the workbook again
        return FileParse(frames, [Issue.from_json(i) for i in issues])

    def store(self, path: Path, parse: FileParse) -> None:
        if str(path) in self._key:
            self._pending[self._key[str(path)]] = parse

    def commit(self) -> None:
        """Keep what was read, now that it validated; a cache that cannot be written is skipped."""
        import pandas as pd
        import pyarrow as pa

        from reportkit.data.dataset import write_part

        for key, parse in self._pending.items():
            if (self.folder / key).exists():
                continue
            with contextlib.suppress(OSError):
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                tmp = self.folder / f".tmp-{uuid.uuid4().hex}"
                tmp.mkdir()
                issues = [i.to_json() for i in parse.issues]
                (tmp / "issues.json").write_text(json.dumps(issues, ensure_ascii=False), "utf-8")
                for table, frames in parse.frames.items():
                    if frames:
                        kept = [f for f in frames if len(f)] or frames[:1]
                        frame = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
                        write_part(
                            pa.Table.from_pandas(frame, preserve_index=False),
                            tmp / f"{table}{PART_SUFFIX}",
                        )
                try:
                    os.rename(tmp, self.folder / key)
                except OSError:
                    shutil.rmtree(tmp, ignore_errors=True)  # another run kept it first
        self._pending.clear()


def _remove(folder: Path, trash_in: Path) -> None:
    """Rename aside, then delete: a half-deleted folder is never read under its own name."""
    trash = trash_in / f".trash-{uuid.uuid4().hex}"
    with contextlib.suppress(OSError):  # e.g. a read-only cache: leave it
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _clean_up(cache_dir: Path) -> None:
    """Remove all but the KEEP_DATASETS most recently used datasets, what killed runs left, and
    the parts and parsed workbooks that no remaining dataset needs.

    A dataset is removed only while this process holds its exclusive lock, which no run holds
    a shared lock beside.
    """
    datasets = cache_dir / "datasets"
    try:
        folders = [f for f in datasets.iterdir() if f.is_dir()]
    except OSError:
        return
    by_use: list[tuple[float, Path]] = []
    for folder in folders:
        if folder.name.startswith(".trash-"):
            shutil.rmtree(folder, ignore_errors=True)  # a clean-up that was killed
            continue
        try:
            used = (folder / LOCK).stat().st_mtime
        except OSError:
            continue  # a writer between mkdir and its lock file
        if folder.name.startswith(".tmp-"):
            used = float("-inf")  # a writer that died: its lock is free
        by_use.append((used, folder))
    by_use.sort(reverse=True)
    complete = 0
    needed: set[str] = set()
    for _used, folder in by_use:
        if not folder.name.startswith("."):
            complete += 1
            if complete <= KEEP_DATASETS:
                with contextlib.suppress(Exception):
                    needed.update(read_meta(folder).get("parsed") or [])
                continue
        lock = _flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if lock is None:
            with contextlib.suppress(Exception):
                needed.update(read_meta(folder).get("parsed") or [])
            continue  # in use
        try:
            _remove(folder, datasets)
        finally:
            lock.close()
    old = time.time() - _GRACE_SECONDS
    with contextlib.suppress(OSError):
        for part in (cache_dir / "parts").iterdir():  # linked by no dataset any more
            with contextlib.suppress(OSError):
                info = part.stat()
                if info.st_nlink == 1 and info.st_mtime < old:
                    part.unlink()
    with contextlib.suppress(OSError):
        for entry in (cache_dir / "parsed").iterdir():
            with contextlib.suppress(OSError):
                if entry.name not in needed and entry.stat().st_mtime < old:
                    _remove(entry, cache_dir / "parsed")
