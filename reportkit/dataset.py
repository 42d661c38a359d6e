"""The validated dataset: four Parquet tables plus meta.json, written once and read per unit.

Reports are rendered one unit at a time in separate processes, so each one must load only its
own rows quickly and without the original workbooks. Tables are therefore sorted by unit and
written with one row group per unit: a pyarrow filter `unit == X` then skips every other unit's
row groups by their statistics. The dataset is written into a temporary folder and swapped in,
so a crash never leaves a half-written dataset, and a failed validation writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    "UnitData",
    "ingest_to_dataset",
    "list_units",
    "load_tables",
    "load_unit",
    "read_meta",
    "unit_fingerprint",
]

#: Bump when the dataset layout or parsing changes, so cached datasets are rebuilt.
DATASET_FORMAT = 2
TABLES: tuple[str, ...] = tuple(s.table for s in SHEETS)
META = "meta.json"
_ROW_GROUP_ROWS = 65_536


@dataclass
class UnitData:
    """One unit's rows from every table: all a unit report needs."""

    unit: str
    activities: pd.DataFrame
    units: pd.DataFrame  # 0 or 1 row
    members: pd.DataFrame
    discipline: pd.DataFrame
    branches: pd.DataFrame  # 支部信息: declared 成立日期/撤销日期


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


def _cache_key(
    sources: list[dict[str, Any]], extra: dict[str, list[str]], file_units: Mapping[str, str]
) -> dict[str, Any]:
    """What must match for a stored dataset to stand for these workbooks."""
    return {
        "format": DATASET_FORMAT,
        "reportkit": __version__,
        "sources": [(s["path"], s["sha256"]) for s in sources],
        "extra_types": extra,
        "file_units": dict(sorted(file_units.items())),
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
        "file_units": meta.get("file_units"),
    }
    if json.dumps(stored, sort_keys=True) != json.dumps(key, sort_keys=True, default=list):
        return None
    if not all((out_dir / f"{t}.parquet").is_file() for t in TABLES):
        return None
    warnings = [Issue.from_json(w) for w in meta.get("warnings", [])]
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


def _write_dataset(out_dir: Path, result: IngestResult, meta: dict[str, Any]) -> None:
    """Write into a temporary sibling folder, then swap it in place of out_dir."""
    _check_out_dir(out_dir)
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()  # not mkdtemp: it would make the dataset private (0700)
    except OSError as exc:
        raise OutputError(f"无法创建数据集文件夹「{out_dir}」：{exc.strerror or exc}") from None
    try:
        for table in TABLES:
            frame = _unit_order(result.tables[table], result.units)
            _write_table(frame, tmp / f"{table}.parquet")
        meta["fingerprints"] = _all_fingerprints(tmp, result.units)
        (tmp / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
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


def ingest_to_dataset(
    paths: Sequence[Path | str],
    out_dir: Path | str,
    extra_types: Mapping[str, Iterable[str]] | None = None,
    force: bool = False,
    file_units: Mapping[str, str] | None = None,
) -> IngestResult:
    """Validate workbooks and write the dataset; raise ValidationFailed (writing nothing) on errors.

    When out_dir already holds a dataset built from files with the same content (sha256) and the
    same extra activity types and file units, the Excel parse is skipped and the stored result
    returned.
    """
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    extra = _extra_key(extra_types)
    sources = _sources(paths)
    if sources is not None and not force:
        cached = _cached(out_dir, _cache_key(sources, extra, file_units or {}))
        if cached is not None:
            return cached
    result = read_workbooks(paths, extra_types, file_units)
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
        "file_units": dict(sorted((file_units or {}).items())),
        "files": result.files,
        "units": result.units,
        "tables": {t: len(result.tables[t]) for t in TABLES},
        "warnings": [w.to_json() for w in result.issues if w.severity != "error"],
    }
    _write_dataset(out_dir, result, meta)
    return result


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


def _read_table(dataset_dir: Path, table: str, unit: str | None = None) -> pd.DataFrame:
    path = dataset_dir / f"{table}.parquet"
    try:
        filters = [("unit", "==", unit)] if unit is not None else None
        frame = pq.read_table(path, filters=filters).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise ReportkitError(
            f"数据集文件「{path}」无法读取（{exc}）：请重新运行 reportkit ingest"
        ) from None
    return frame.reset_index(drop=True)


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
