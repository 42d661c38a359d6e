"""Parameters: the defaults (reportkit/defaults/params.yaml), per-unit overrides and `-p KEY VALUE`
from the command line.

Values arrive as YAML, so `-p norms.党课.min 2` gives an integer and `-p period.end 2023-12-31`
a date. The merged result is plain JSON-safe data, because papermill injects it into notebooks.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from reportkit.errors import UsageError
from reportkit.jsonsafe import jsonable
from reportkit.resources import DEFAULT_PARAMS

Path_ = tuple[str, ...]


class PeriodLike(Protocol):
    """What functions over a period read: a Period, or anything with its dates and label."""

    start: dt.date
    end: dt.date
    label: str


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    label: str

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}


def as_date(value: Any, key: str) -> dt.date:
    """A params value (ISO string, date or datetime) as a date; a usage error names `key`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"参数 {key} 不是有效日期（应为 YYYY-MM-DD）：{value!r}") from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: override's leaves replace base's, nested mappings merge."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dotted(params: dict[str, Any], dotted_key: str, raw_value: str) -> Path_:
    """Apply one `-p KEY VALUE` (KEY may be dotted, VALUE is parsed as YAML); the key path."""
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except (yaml.YAMLError, ValueError):  # PyYAML raises ValueError for 2019-02-30
        value = raw_value
    parts = [p for p in dotted_key.split(".") if p]
    if not parts:
        raise UsageError(f"参数名为空：{dotted_key!r}")
    node = params
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value
    return tuple(parts)


class Params(dict):
    """Merged parameters (plain JSON-safe data) that remember where each key came from."""

    def __init__(self, values: Mapping[str, Any], layers: list[tuple[Path_, str]]) -> None:
        super().__init__(values)
        self.layers = layers

    def origin(self, path: Path_) -> str:
        """The file or `-p` that last set `path`, a key above it or a key below it."""
        for set_path, label in reversed(self.layers):
            n = min(len(set_path), len(path))
            if set_path[:n] == path[:n]:
                return label
        return self.layers[0][1] if self.layers else "参数"


def load_params(path: Path | None = None, overrides: Iterable[tuple[str, str]] = ()) -> Params:
    """Read a params file over the defaults, apply command-line overrides, then check them all
    against the schema (a UsageError names each bad key and where it came from)."""
    from reportkit.params_schema import check_params

    params = _read_yaml(DEFAULT_PARAMS)
    layers = [(leaf, _label(DEFAULT_PARAMS)) for leaf in _leaves(params)]
    if path is not None and Path(path).resolve() != DEFAULT_PARAMS:
        extra = _read_yaml(Path(path))
        params = deep_merge(params, extra)
        layers += [(leaf, f"文件 {path}") for leaf in _leaves(extra)]
    for key, value in overrides:
        layers.append((set_dotted(params, key, value), f"-p {key}"))
    checked = Params(jsonable(params), layers)
    check_params(checked, checked.origin)
    return checked


def _label(path: Path) -> str:
    try:
        return f"文件 {path.relative_to(Path.cwd())}"
    except ValueError:
        return f"文件 {path}"


def _leaves(node: Mapping[str, Any], prefix: Path_ = ()) -> list[Path_]:
    """Key paths of every value in a nested mapping (an empty mapping counts as a value)."""
    found: list[Path_] = []
    for key, value in node.items():
        path = (*prefix, str(key))
        found += _leaves(value, path) if isinstance(value, Mapping) and value else [path]
    return found


def unit_params(params: Mapping[str, Any], unit: str) -> dict[str, Any]:
    """The parameters one unit sees: the shared ones with its `units:` entry merged in."""
    shared = {k: v for k, v in params.items() if k != "units"}
    return deep_merge(shared, (params.get("units") or {}).get(unit) or {})


def period_of(params: Mapping[str, Any]) -> Period:
    period = params.get("period") or {}
    start = as_date(period.get("start") or "2017-10-18", "period.start")
    end = as_date(period.get("end") or dt.date.today(), "period.end")
    if end < start:
        raise UsageError(f"报告期结束日期 {end} 早于开始日期 {start}")
    return Period(start, end, str(period.get("label") or "党的十九大以来"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UsageError(f"参数文件不存在：{path}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"参数文件 {path} 不是有效的 YAML：{exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"参数文件 {path} 的顶层应为键值映射")
    return data
