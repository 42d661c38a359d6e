"""The validated dataset: four Parquet tables plus meta.json, written once and read per unit.

Reports are rendered one unit at a time in separate processes, so each one must load only its
own rows quickly and without the original workbooks. Tables are therefore sorted by unit and
written with one row group per unit: a pyarrow filter `unit == X` then skips every other unit's
row groups by their statistics. A dataset is written into a temporary folder and renamed into
place, so a crash never leaves a half-written dataset, and a failed validation writes nothing.

A run reads its dataset from the cache (`open_dataset`): one immutable folder per set of inputs,
named by their content, never rewritten once in place. Runs started at the same time on other
workbooks therefore never see each other's rows. Each run holds a shared lock on its dataset
until its last kernel is done; old datasets are removed only under an exclusive lock, which
proves that no run is using them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reportkit import __version__
from reportkit.errors import Issue, OutputError, ReportkitError, UsageError, ValidationFailed
from reportkit.ingest import PROVENANCE, IngestResult, read_workbooks
from reportkit.schema import SHEETS

__all__ = [
    "DATASET_FORMAT",
    "TABLES",
    "Dataset",
    "UnitData",
    "default_cache_dir",
    "ingest_to_dataset",
    "list_units",
    "load_tables",
    "load_unit",
    "open_dataset",
    "read_meta",
    "unit_dataset_files",
    "unit_fingerprint",
]

#: Bump when the dataset layout or parsing changes, so cached datasets are rebuilt.
DATASET_FORMAT = 1
TABLES: tuple[str, ...] = tuple(s.table for s in SHEETS)
META = "meta.json"
#: In every cached dataset: runs hold a shared flock on it, clean-up an exclusive one.
LOCK = ".lock"
#: Cached datasets kept (most recently used first); older ones go when no run holds them.
KEEP_DATASETS = 8
_ROW_GROUP_ROWS = 65_536


@dataclass
class UnitData:
    """One unit's rows from every table: all a unit report needs."""

    unit: str
    activities: pd.DataFrame
    units: pd.DataFrame  # 0 or 1 row
    members: pd.DataFrame
    discipline: pd.DataFrame


# --------------------------------------------------------------------------------------------
# Writing


def _hash_file(path: Path) -> tuple[str, int] | None:
    """sha256 and size of a file, or None when it cannot be read (read_workbooks says why)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest(), path.stat().st_size
    except OSError:
        return None


def _sources(paths: Sequence[Path]) -> list[dict[str, Any]] | None:
    sources = []
    for path in paths:
        hashed = _hash_file(path) if path.is_file() else None
        if hashed is None:
            return None
        sources.append({"path": str(path), "sha256": hashed[0], "size": hashed[1]})
    return sources


def _extra_key(extra_types: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    return {str(k): [str(a) for a in (v or ())] for k, v in sorted((extra_types or {}).items())}


def _cache_key(sources: list[dict[str, Any]], extra: dict[str, list[str]]) -> dict[str, Any]:
    """What must match for a stored dataset to stand for these workbooks."""
    return {
        "format": DATASET_FORMAT,
        "reportkit": __version__,
        "sources": [(s["path"], s["sha256"]) for s in sources],
        "extra_types": extra,
    }


def _cached(out_dir: Path, key: dict[str, Any]) -> IngestResult | None:
    """The stored result when out_dir already holds a dataset built from the same inputs."""
    try:
        meta = read_meta(out_dir)
    except ReportkitError:
        return None
    stored = {
        "format": meta.get("format"),
        "reportkit": meta.get("reportkit"),
        "sources": [(s.get("path"), s.get("sha256")) for s in meta.get("sources", [])],
        "extra_types": meta.get("extra_types"),
    }
    if json.dumps(stored, sort_keys=True) != json.dumps(key, sort_keys=True, default=list):
        return None
    if not all((out_dir / f"{t}.parquet").is_file() for t in TABLES):
        return None
    warnings = [Issue(**w, severity="warning") for w in meta.get("warnings", [])]
    return IngestResult(
        load_tables(out_dir), warnings, list(meta.get("files", [])), list(meta.get("units", []))
    )


def _unit_order(frame: pd.DataFrame, units: Sequence[str]) -> pd.DataFrame:
    """Rows grouped by unit, units in report order, rows within a unit in workbook order."""
    if frame.empty:
        return frame.reset_index(drop=True)
    order = list(dict.fromkeys([*units, *pd.unique(frame["unit"].dropna())]))
    rank = pd.Categorical(frame["unit"], categories=order, ordered=True).codes
    rank = pd.Series(rank).where(rank >= 0, len(order))  # missing units last
    return frame.iloc[rank.argsort(kind="stable").to_numpy()].reset_index(drop=True)


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    """One row group per unit (split at 65,536 rows), so a unit filter reads only its rows."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        if frame.empty:
            writer.write_table(table)
            return
        units = frame["unit"].astype("object").fillna("").to_numpy()
        changes = (np.flatnonzero(units[1:] != units[:-1]) + 1).tolist()
        boundaries = [0, *changes, len(frame)]
        for start, end in zip(boundaries, boundaries[1:], strict=False):
            writer.write_table(table.slice(start, end - start), row_group_size=_ROW_GROUP_ROWS)


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"数据集路径「{out_dir}」已存在，且不是文件夹")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / META).is_file():
        raise OutputError(
            f"文件夹「{out_dir}」已有其他文件，不是 reportkit 数据集；"
            "为避免覆盖这些文件，请换一个空文件夹作为数据集目录"
        )


def _write_files(folder: Path, result: IngestResult, meta: dict[str, Any]) -> None:
    """The tables and meta.json, into a new folder that no reader sees yet."""
    for table in TABLES:
        frame = _unit_order(result.tables[table], result.units)
        _write_table(frame, folder / f"{table}.parquet")
    meta["fingerprints"] = _all_fingerprints(folder, result.units)
    (folder / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")


def _new_folder(parent: Path, name: str, shown: Path) -> Path:
    """A fresh folder beside the final one (same file system, so a rename moves it in)."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder = parent / name
        folder.mkdir()  # not mkdtemp: it would make the dataset private (0700)
    except OSError as exc:
        raise OutputError(f"无法创建数据集文件夹「{shown}」：{exc.strerror or exc}") from None
    return folder


def _write_dataset(out_dir: Path, result: IngestResult, meta: dict[str, Any]) -> None:
    """Write into a temporary sibling folder, then swap it in place of out_dir."""
    _check_out_dir(out_dir)
    parent = out_dir.parent
    tmp = _new_folder(parent, f".{out_dir.name}.tmp-{uuid.uuid4().hex[:12]}", out_dir)
    try:
        _write_files(tmp, result, meta)
        if out_dir.exists():
            old = parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except OSError as exc:
        raise OutputError(f"写入数据集「{out_dir}」失败：{exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _parse(
    paths: Sequence[Path], extra: dict[str, list[str]], sources: list[dict[str, Any]] | None
) -> tuple[IngestResult, dict[str, Any]]:
    """Read and validate the workbooks, and the meta.json that describes them."""
    result = read_workbooks(paths, extra)
    if result.errors:
        raise ValidationFailed(result.issues)
    if sources is None:  # unreadable yet without errors cannot happen; be safe
        raise ReportkitError("无法读取输入文件，未写入数据集")
    meta = {
        "format": DATASET_FORMAT,
        "reportkit": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": sources,
        "extra_types": extra,
        "files": result.files,
        "units": result.units,
        "tables": {t: len(result.tables[t]) for t in TABLES},
        "warnings": [w.to_json() for w in result.warnings],
    }
    return result, meta


def ingest_to_dataset(
    paths: Sequence[Path | str],
    out_dir: Path | str,
    extra_types: Mapping[str, Iterable[str]] | None = None,
    force: bool = False,
) -> IngestResult:
    """Validate workbooks and write the dataset; raise ValidationFailed (writing nothing) on errors.

    When out_dir already holds a dataset built from files with the same content (sha256) and the
    same extra activity types, the Excel parse is skipped and the stored result returned.
    """
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    extra = _extra_key(extra_types)
    sources = _sources(paths)
    if sources is not None and not force:
        cached = _cached(out_dir, _cache_key(sources, extra))
        if cached is not None:
            return cached
    result, meta = _parse(paths, extra, sources)
    _write_dataset(out_dir, result, meta)
    return result


# --------------------------------------------------------------------------------------------
# The cache that runs read from


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


def _stored_warnings(folder: Path) -> list[Issue]:
    return [Issue(**w, severity="warning") for w in read_meta(folder).get("warnings", [])]


def open_dataset(
    paths: Sequence[Path | str],
    cache_dir: Path | str,
    extra_types: Mapping[str, Iterable[str]] | None = None,
) -> Dataset:
    """The dataset of these workbooks, held for this run; built (and validated) when new.

    Its folder, cache_dir/datasets/<sha256 of the inputs' names and content, the extra types,
    the dataset format and reportkit's version>, is written once and then only read. Raises
    ValidationFailed, writing nothing, when the workbooks have errors.
    """
    paths = [Path(p) for p in paths]
    extra = _extra_key(extra_types)
    sources = _sources(paths)
    datasets = Path(cache_dir) / "datasets"
    if sources is not None:
        key = json.dumps(_cache_key(sources, extra), sort_keys=True, ensure_ascii=False)
        final = datasets / hashlib.sha256(key.encode()).hexdigest()
        held = _hold(final)
        if held is not None:
            return Dataset(final, _stored_warnings(final), held)
    result, meta = _parse(paths, extra, sources)
    tmp = _new_folder(datasets, f".tmp-{uuid.uuid4().hex}", datasets)
    try:
        (tmp / LOCK).touch()
        held = _flock(tmp, fcntl.LOCK_SH)  # born held: no clean-up can take it once in place
        _write_files(tmp, result, meta)
        for _attempt in range(3):
            try:
                os.rename(tmp, final)
                break
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            theirs = _hold(final)  # another run built the same dataset first: use theirs
            if theirs is not None:
                if held is not None:
                    held.close()
                shutil.rmtree(tmp, ignore_errors=True)
                held = theirs
                break
        else:
            raise OSError(errno.EEXIST, "数据集文件夹被反复占用")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"写入数据集缓存「{datasets}」失败：{exc.strerror or exc}") from None
    _clean_up(datasets)
    return Dataset(final, result.warnings, held)


def _clean_up(datasets: Path) -> None:
    """Remove all but the `keep` most recently used datasets, and what killed runs left.

    A folder is removed only while this process holds its exclusive lock, which no run holds
    a shared lock beside; it is first renamed aside, so a half-deleted folder is never read.
    """
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
    for _used, folder in by_use:
        if not folder.name.startswith("."):
            complete += 1
            if complete <= KEEP_DATASETS:
                continue
        lock = _flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if lock is None:
            continue  # in use
        try:
            trash = datasets / f".trash-{uuid.uuid4().hex}"
            os.rename(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
        except OSError:
            pass  # e.g. a read-only cache: leave it
        finally:
            lock.close()


# --------------------------------------------------------------------------------------------
# Reading


def read_meta(dataset_dir: Path | str) -> dict[str, Any]:
    """meta.json of a dataset; a ReportkitError that says to run ingest when there is none."""
    path = Path(dataset_dir) / META
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportkitError(
            f"找不到数据集「{dataset_dir}」：请先运行 reportkit ingest 生成数据集"
        ) from None
    except (OSError, ValueError) as exc:
        raise ReportkitError(f"数据集「{dataset_dir}」的 meta.json 无法读取：{exc}") from None


def _read_arrow(dataset_dir: Path, table: str, unit: str | None = None) -> pa.Table:
    path = dataset_dir / f"{table}.parquet"
    try:
        filters = [("unit", "==", unit)] if unit is not None else None
        return pq.read_table(path, filters=filters)
    except (OSError, pa.ArrowException) as exc:
        raise ReportkitError(
            f"数据集文件「{path}」无法读取（{exc}）：请重新运行 reportkit ingest"
        ) from None


def _read_table(dataset_dir: Path, table: str, unit: str | None = None) -> pd.DataFrame:
    return _read_arrow(dataset_dir, table, unit).to_pandas().reset_index(drop=True)


def load_tables(dataset_dir: Path | str) -> dict[str, pd.DataFrame]:
    """Every table in full, e.g. for a summary across units."""
    return {t: _read_table(Path(dataset_dir), t) for t in TABLES}


def list_units(dataset_dir: Path | str) -> list[str]:
    """Units in order of first appearance: 单位信息 first, then 活动台账."""
    return list(read_meta(dataset_dir).get("units", []))


def load_unit(dataset_dir: Path | str, unit: str) -> UnitData:
    """One unit's rows from every table, reading only that unit's row groups."""
    dataset_dir = Path(dataset_dir)
    if unit not in list_units(dataset_dir):
        raise UsageError(f"数据集中没有单位「{unit}」")
    tables = {t: _read_table(dataset_dir, t, unit) for t in TABLES}
    return UnitData(unit=unit, **tables)


def unit_dataset_files(dataset_dir: Path | str, unit: str) -> dict[str, bytes]:
    """A dataset of one unit's rows only (its row groups of every table), as file bytes.

    For workers that cannot read this machine's cache: written into a folder, it loads with
    load_unit exactly as the full dataset does, and holds nothing of any other unit.
    """
    dataset_dir = Path(dataset_dir)
    meta = read_meta(dataset_dir)
    files = {}
    for table in TABLES:
        sink = pa.BufferOutputStream()
        pq.write_table(_read_arrow(dataset_dir, table, unit), sink, compression="zstd")
        files[f"{table}.parquet"] = sink.getvalue().to_pybytes()
    own = {"format": meta.get("format"), "reportkit": meta.get("reportkit"), "units": [unit]}
    files[META] = json.dumps(own, ensure_ascii=False).encode("utf-8")
    return files


def _digest(unit: str, frames: Mapping[str, pd.DataFrame]) -> str:
    """sha256 over one unit's values in every table, to tell whether its report must rerun.

    Provenance (_file, _sheet, _row) is left out: renaming a file or inserting rows above a
    unit's rows changes no figure. Row order is kept in: reordering rows can reorder appendix
    tables, so it counts as a change (a rerun costs seconds; a stale report costs more).
    """
    digest = hashlib.sha256(f"reportkit-dataset-{DATASET_FORMAT}\n{unit}\n".encode())
    for table in TABLES:
        frame = frames[table]
        frame = frame.drop(columns=[c for c in PROVENANCE if c in frame.columns])
        digest.update(f"\n[{table}]\n".encode())
        text = frame.to_json(orient="split", index=False, date_format="iso", force_ascii=False)
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def _all_fingerprints(dataset_dir: Path, units: Sequence[str]) -> dict[str, str]:
    """Every unit's fingerprint from one read of each table (not one read per unit)."""
    tables = load_tables(dataset_dir)
    groups = {
        table: {
            unit: rows.reset_index(drop=True) for unit, rows in frame.groupby("unit", sort=False)
        }
        for table, frame in tables.items()
    }
    return {
        unit: _digest(unit, {t: groups[t].get(unit, tables[t].iloc[0:0]) for t in TABLES})
        for unit in units
    }


def unit_fingerprints(dataset_dir: Path | str) -> dict[str, str]:
    """Fingerprints of all units, stored at ingest so that a re-run reads no table at all."""
    dataset_dir = Path(dataset_dir)
    meta = read_meta(dataset_dir)
    stored = meta.get("fingerprints")
    if isinstance(stored, dict) and set(stored) >= set(meta.get("units", [])):
        return dict(stored)
    return _all_fingerprints(dataset_dir, meta.get("units", []))


def unit_fingerprint(dataset_dir: Path | str, unit: str) -> str:
    """One unit's fingerprint, computed from its rows as load_unit reads them."""
    data = load_unit(dataset_dir, unit)
    return _digest(unit, {table: getattr(data, table) for table in TABLES})
