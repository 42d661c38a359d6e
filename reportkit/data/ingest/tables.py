"""The dataset's tables as the reader builds them: columns, dtypes and privacy rules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from reportkit.data.ingest.cells import NAT
from reportkit.data.schema import Kind, Sheet

#: Provenance columns kept in every table so any figure can be traced back to a cell.
PROVENANCE: tuple[str, ...] = ("_file", "_sheet", "_row")
#: Columns dropped after validation: personal names never enter the dataset.
PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {"members": ("name",), "discipline": ("subject",)}
#: Tables whose unknown columns are dropped rather than kept: they describe people, and an
#: unknown column there (身份证号, 电话 …) is likely personal data.
PERSONAL_TABLES: frozenset[str] = frozenset({"members", "discipline"})


def dtype_for(kind: Kind) -> str:
    return {
        Kind.DATE: "datetime64[ns]",
        Kind.COUNT: "Int64",
        Kind.NUMBER: "Float64",
    }.get(kind, "str")


def missing_column(kind: Kind, size: int) -> pd.Series:
    """An all-missing column of the right dtype, for an optional column a sheet lacks."""
    if kind == Kind.DATE:
        return pd.Series(np.full(size, NAT), dtype="datetime64[ns]")
    return pd.Series([None] * size, dtype=dtype_for(kind))


def str_column(values: Sequence[str | None], codes: np.ndarray) -> pd.Series:
    """A string column from distinct values and codes, built in Arrow (several times faster)."""
    table = pa.array(list(values), type=pa.large_string())
    return pd.Series(pd.array(table.take(pa.array(codes)), dtype="str"))


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values; a missing value (None, NaN) becomes one more distinct value.

    pandas' NA sentinel path is about twice as fast as use_na_sentinel=False, and calamine gives
    "" for empty cells, so the rare missing value is patched in afterwards.
    """
    codes, uniques = pd.factorize(values)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = np.append(np.asarray(uniques, dtype=object), None)
    return codes, np.asarray(uniques, dtype=object)


def empty_table(sheet: Sheet, keep_private: bool = False) -> pd.DataFrame:
    private = () if keep_private else PRIVATE_FIELDS.get(sheet.table, ())
    data: dict[str, pd.Series] = {
        c.field: pd.Series([], dtype=dtype_for(c.kind))
        for c in sheet.columns
        if c.field not in private
    }
    data["_file"] = pd.Series([], dtype="str")
    data["_sheet"] = pd.Series([], dtype="str")
    data["_row"] = pd.Series([], dtype="int64")
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------------------
# Cell values
