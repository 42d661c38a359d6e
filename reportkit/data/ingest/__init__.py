"""Read activity-log workbooks into four validated tables, naming every bad cell.

Analysts type these workbooks by hand, so the reader is forgiving about form (title rows, blank
rows, full-width characters, aliases, date spellings) and strict about meaning: a value that
cannot be read is an error at its exact Excel row and column, never silently dropped or guessed.

Cells are read raw with python-calamine so that row numbers match what Excel shows. The steps,
one module each: files (open a workbook, find what calamine cannot see), header (which row is
the header, which contract it fits), cells (parse one value), sheet (one sheet into a table),
rules (what rows mean, per table and across workbooks), units (name the unit of a sheet without
a 单位 column), privacy (no personal names in the dataset) and reader (the whole run).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reportkit.data.ingest.files import UNCACHED_FORMULA
    from reportkit.data.ingest.reader import (
        FileParse,
        IngestResult,
        ParseCache,
        read_workbooks,
    )
    from reportkit.data.ingest.tables import PROVENANCE

__all__ = [
    "PROVENANCE",
    "UNCACHED_FORMULA",
    "FileParse",
    "IngestResult",
    "ParseCache",
    "read_workbooks",
]

#: Where each name lives. Loaded on first use: the package itself imports nothing, so
#: reportkit.data.ingest.files (calamine) loads without pandas (see dataset_cache.Builder).
_HOMES = {
    "UNCACHED_FORMULA": "files",
    "PROVENANCE": "tables",
    **dict.fromkeys(("FileParse", "IngestResult", "ParseCache", "read_workbooks"), "reader"),
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
