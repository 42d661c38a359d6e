"""What names a dataset and what its meta.json says, without pandas or pyarrow.

A re-run with nothing changed needs only this: the workbooks' hashes to find the cached
dataset, and the units and fingerprints its meta.json holds. Keeping it apart from the
tables (reportkit.data.dataset) keeps that path free of the heavy imports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reportkit import __version__
from reportkit.data.schema import SHEETS
from reportkit.data.text import normalize_value
from reportkit.errors import ReportkitError, UsageError

#: Bump when the dataset layout or parsing changes, so cached datasets are rebuilt.
DATASET_FORMAT = 3
TABLES: tuple[str, ...] = tuple(s.table for s in SHEETS)
META = "meta.json"
PART_SUFFIX = ".arrow"


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


def hash_sources(paths: Sequence[Path]) -> list[dict[str, Any]] | None:
    sources = []
    for path in paths:
        hashed = _hash_file(path) if path.is_file() else None
        if hashed is None:
            return None
        sources.append({"path": str(path), "sha256": hashed[0], "size": hashed[1]})
    return sources


def extra_key(extra_types: Mapping[str, Iterable[str]] | None) -> dict[str, list[str]]:
    return {str(k): [str(a) for a in (v or ())] for k, v in sorted((extra_types or {}).items())}


def cache_key(
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


def ingest_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """What reading needs from params, as keyword arguments of read_workbooks:
    `vocabulary.extra_types`, and each file's unit from `files: {<file>: {unit: …}}`."""
    extra = (params.get("vocabulary") or {}).get("extra_types") or {}
    files = params.get("files") or {}
    if not isinstance(files, Mapping):
        raise UsageError("参数 files 应为「文件名: {unit: 单位}」的映射")
    units: dict[str, str] = {}
    for name, spec in files.items():
        unit = spec.get("unit") if isinstance(spec, Mapping) else None
        if not isinstance(unit, str) or not unit.strip():
            raise UsageError(f"参数 files.{name} 应写成 {{unit: 单位名称}}")
        units[str(name)] = normalize_value(unit)
    return {"extra_types": extra, "file_units": units}


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


def table_parts(
    dataset_dir: Path | str, meta: Mapping[str, Any] | None = None
) -> dict[str, dict[str, str]]:
    """Each table's part file for each unit, as meta.json lists them (`meta`: already read)."""
    parts = (read_meta(dataset_dir) if meta is None else meta).get("parts")
    if not isinstance(parts, dict) or set(parts) != set(TABLES):
        raise ReportkitError(
            f"数据集「{dataset_dir}」是旧版本格式：请重新运行 reportkit ingest 或 reportkit run"
        )
    return parts


def unit_dataset_files(dataset_dir: Path | str, unit: str) -> dict[str, bytes]:
    """A dataset of one unit's rows only (its part of every table), as relative path -> bytes.

    For workers that cannot read this machine's cache: written into a folder, it loads with
    load_unit exactly as the full dataset does, and holds nothing of any other unit.
    """
    dataset_dir = Path(dataset_dir)
    meta = read_meta(dataset_dir)
    parts = table_parts(dataset_dir, meta)
    files = {
        f"{t}/{parts[t][unit]}": (dataset_dir / t / parts[t][unit]).read_bytes() for t in TABLES
    }
    own = {
        "format": meta.get("format"),
        "reportkit": meta.get("reportkit"),
        "units": [unit],
        "parts": {t: {unit: parts[t][unit]} for t in TABLES},
        "fingerprints": {unit: (meta.get("fingerprints") or {}).get(unit)},
    }
    files[META] = json.dumps(own, ensure_ascii=False).encode("utf-8")
    return files


def list_units(dataset_dir: Path | str) -> list[str]:
    """Units in order of first appearance: 单位信息 first, then 活动台账."""
    return list(read_meta(dataset_dir).get("units", []))


def unit_fingerprints(dataset_dir: Path | str) -> dict[str, str]:
    """Fingerprints of all units, stored at ingest so that a re-run reads no table at all."""
    return dict(read_meta(dataset_dir).get("fingerprints") or {})
