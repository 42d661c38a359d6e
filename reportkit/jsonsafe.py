"""JSON-safe values: what papermill parameters and stats.json can carry.

Parameters go to notebooks through papermill as JSON, and statistics are written as stats.json;
both pass through `jsonable`, so a date, a numpy integer or a missing value reads the same in
every notebook and every run.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """JSON-safe: python scalars, str keys, dates as ISO strings, None for NaN/NA/inf."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    return None if is_missing(value) else value


def is_missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT; False for what pandas cannot judge as one value (a list)."""
    import pandas as pd  # imported here: parameters (plain YAML values) never get this far

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
