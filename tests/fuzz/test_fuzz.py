"""Property-based fuzzing of the ingest path: generated hostile workbooks (Hypothesis).

The property, for every generated workbook:
* reading it never raises, and every issue names a real place: the file, a sheet the workbook
  has, an Excel row and column inside what was written;
* `reportkit validate` exits 0 or 1 and never prints a traceback;
* when it exits 0, `reportkit run --formats html` succeeds and each unit's stats.json counts equal
  counts computed here from the generated rows.

CI runs the "ci" profile (derandomized, bounded); `make fuzz` runs the "fuzz" profile
(REPORTKIT_FUZZ=fuzz, 10,000+ random examples). Every failing example is saved under
tests/fixtures/fuzz/ and replayed by `test_regression_files`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import python_calamine
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from reportkit.data.ingest import read_workbooks
from tests.fuzz import strategies as gen
from tests.fuzz.strategies import STATS

REPORTKIT = Path(sys.executable).parent / "reportkit"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "fuzz"
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PROFILE = os.environ.get("REPORTKIT_FUZZ", "ci")
FUZZ = PROFILE == "fuzz"
SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
SUPPRESS += [HealthCheck.function_scoped_fixture]

settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None)
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 10_000)), deadline=None
)
PROFILE_SETTINGS = settings.get_profile(PROFILE)
CLI_EXAMPLES = 200 if FUZZ else 20
RUNS = 20 if FUZZ else 5
#: A period covering every date reportkit accepts, so stats count every row.
WHOLE_PERIOD = ["-p", "period.start", "1950-01-01", "-p", "period.end", "2099-12-31"]


def _keep(path: Path, failure: BaseException) -> None:
    """Save a failing example as a regression file the normal suite replays.

    One file per failure site: while Hypothesis shrinks, each smaller example overwrites the last,
    so the file left is the minimal one.
    """
    where = traceback.extract_tb(failure.__traceback__)[-1]
    name = f"{type(failure).__name__}-{Path(where.filename).stem}-{where.lineno}"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / f"{name}.xlsx").write_bytes(path.read_bytes())
    STATS["kept"][name] = str(failure).splitlines()[0][:200] if str(failure) else ""


def _shape(book: gen.Book) -> dict[str, tuple[int, int, list[str]]]:
    """Each sheet's rows, columns and texts, from the generated model (not read back)."""
    shape = {}
    for sheet in book.sheets:
        width = max((len(row) for row in sheet.rows), default=0)
        texts = [v.strip() for row in sheet.rows for v in row if isinstance(v, str) and v.strip()]
        shape[sheet.name] = (len(sheet.rows), width, texts)
    return shape


def _quoted(column: str, texts: list[str]) -> bool:
    """The issue's column is a header the sheet holds (quoted in full, or clipped with …)."""
    head = column.split("…（共", 1)[0]
    return any(head in text or text in head for text in texts)


def _shape_of_file(path: Path) -> dict[str, tuple[int, int, list[str]]]:
    """The same, read back with python-calamine (a regression file has no model)."""
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    shape = {}
    for name in book.sheet_names:
        rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        width = max((len(row) for row in rows), default=0)
        texts = [str(v).strip() for row in rows for v in row if str(v).strip()]
        shape[name] = (len(rows), width, texts)
    return shape


def check_issues(path: Path, shape: dict[str, tuple[int, int, list[str]]]) -> list:
    """Read in-process; every issue names the file and a sheet, row and column that exist."""
    result = read_workbooks([path])
    for issue in result.issues:
        assert Path(issue.file).name == path.name, issue
        assert not CONTROL.search(f"{issue.column}{issue.value}"), issue  # removed, as in values
        if issue.sheet is not None:
            assert issue.sheet in shape, issue
            rows, columns, texts = shape[issue.sheet]
            if issue.row is not None:
                assert 1 <= issue.row <= rows, issue
            if issue.cell is not None:
                letters, row = coordinate_from_string(issue.cell)
                assert row == issue.row and column_index_from_string(letters) <= columns, issue
            if issue.column is not None and issue.row is not None:
                letters = issue.column.removesuffix(" 列")  # a column without a header
                if issue.cell is not None and letters == issue.cell.rstrip("0123456789"):
                    continue
                assert _quoted(issue.column, texts), issue
        else:
            assert issue.row is None and issue.column is None, issue
    return result.issues


def _checked(path: Path, check) -> None:
    try:
        check(path)
    except BaseException as failure:  # noqa: BLE001 - any failure is kept, then re-raised
        if FUZZ and not isinstance(failure, KeyboardInterrupt):
            _keep(path, failure)
        raise


@settings(PROFILE_SETTINGS, suppress_health_check=SUPPRESS)
@given(book=gen.books())
def test_read_workbooks_names_real_cells(book: gen.Book, tmp_path: Path) -> None:
    path = gen.write(book, tmp_path / "fuzz.xlsx")
    STATS["read"] += 1
    _checked(path, lambda p: check_issues(p, _shape(book)))


def reportkit(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPORTKIT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def validate(path: Path) -> int:
    """The console script: exit 0 or 1, and no traceback."""
    proc = reportkit("validate", path, cwd=path.parent)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    return proc.returncode


def run_and_count(path: Path, book: gen.Book) -> None:
    """A real html run; every unit's counts equal what the generated rows hold."""
    out = path.parent / "OUT"
    proc = reportkit(
        "run",
        path,
        "--out",
        out,
        "--formats",
        "html",
        "--jobs",
        "1",
        *WHOLE_PERIOD,
        cwd=path.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    seen = set()
    for unit in manifest["units"]:
        stats = json.loads((out / unit["dir"] / "stats.json").read_text(encoding="utf-8"))
        expected = book.counts(stats["unit"])
        assert {t: n for t, n in stats["counts"].items() if n} == expected, stats["unit"]
        assert stats["log"]["rows_total"] == sum(expected.values())
        assert stats["total_activities"] == sum(expected.values())
        seen.add(stats["unit"])
    assert {u for u, _ in book.clean} <= seen  # units listed only in 单位信息 report zero


@pytest.mark.slow
@settings(PROFILE_SETTINGS, max_examples=CLI_EXAMPLES, suppress_health_check=SUPPRESS)
@given(book=gen.books(max_rows=20), data=st.data())
def test_console_script_never_crashes_and_runs_count_right(
    book: gen.Book, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("cli")
    path = gen.write(book, folder / "fuzz.xlsx")
    STATS["cli"] += 1
    code = None

    def check(p: Path) -> None:
        nonlocal code
        code = validate(p)
        note(f"validate exit {code}")
        if code == 0 and STATS["run"] < RUNS and book.clean:
            STATS["run"] += 1
            run_and_count(p, book)

    _checked(path, check)


REGRESSIONS = sorted(FIXTURES.glob("*.xlsx"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_regression_files(path: Path) -> None:
    """Examples that once failed: read in-process, and validated by the console script."""
    check_issues(path, _shape_of_file(path))
    validate(path)
