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
