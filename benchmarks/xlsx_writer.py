"""The demo's XLSX writer against xlsxwriter (constant_memory), on the 200,000-row demo log.

`python benchmarks/xlsx_writer.py [ROWS]` (needs `pip install xlsxwriter`, which reportkit itself
does not use). Prints CPU and wall seconds and the file size of each writer, twice each.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from reportkit.data.demo import build_demo
from reportkit.data.demo.mess import messy_log
from reportkit.data.demo.xlsx import FIXED_TIMESTAMP, SheetSpec, write_xlsx
from reportkit.data.schema import ACTIVITIES
from reportkit.data.workbook_template import is_formula_like


def write_with_xlsxwriter(path: Path, sheets: Sequence[SheetSpec], title: str = "") -> None:
    """The same sheets through xlsxwriter in constant_memory mode, as close as it gets."""
    import xlsxwriter

    options = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    with xlsxwriter.Workbook(str(path), {**options, "strings_to_urls": False}) as book:
        book.set_properties({"title": title, "author": "reportkit", "created": FIXED_TIMESTAMP})
        date = book.add_format({"num_format": "yyyy-mm-dd"})
        header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "align": "center"})
        heading = book.add_format({"bold": True, "font_size": 14})
        quoted = book.add_format({"quote_prefix": True})
        for spec in sheets:
            sheet = book.add_worksheet(spec.name)
            for i, width in enumerate(spec.widths):
                sheet.set_column(i, i, width)
            sheet.freeze_panes(spec.header_row, 0)
            for r, row in enumerate(spec.rows):
                if r < spec.title_rows:
                    sheet.merge_range(r, 0, r, len(spec.widths) - 1, str(row[0]), heading)
                    continue
                style = header if r + 1 == spec.header_row else None
                for c, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if isinstance(value, str):
                        quote = quoted if is_formula_like(value) else None
                        sheet.write_string(r, c, value, style or quote)
                    elif isinstance(value, dt.date):
                        day = dt.datetime(value.year, value.month, value.day)
                        sheet.write_datetime(r, c, day, date)
                    else:
                        sheet.write(r, c, value)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    log, header_row = messy_log(build_demo(6, rows), 20171018)
    widths = [12, 36, 24, 14, 48, 9, 9, 12, 12, 22]
    sheets = [SheetSpec(ACTIVITIES.name, log, header_row, widths, title_rows=1)]
    writers: dict[str, Callable[..., None]] = {
        "reportkit": write_xlsx,
        "xlsxwriter": write_with_xlsxwriter,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in [*writers, *writers]:
            path = Path(tmp) / f"{name}.xlsx"
            cpu, wall = time.process_time(), time.perf_counter()
            writers[name](path, sheets, "benchmark")
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            size = path.stat().st_size / 1e6
            print(f"{name:>10}: {cpu:.2f} s CPU, {wall:.2f} s wall, {size:.1f} MB")


if __name__ == "__main__":
    main()
