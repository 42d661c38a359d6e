"""Files that ship inside the package: the notebooks, the default parameters and the demo
workbook. They sit next to the code, so an installed reportkit (not only a checkout) runs with
no arguments from any folder, and an editable install lets analysts edit them in place."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The installed (or checked-out) package folder.
PACKAGE_DIR = Path(str(files("reportkit")))
#: unit_report.ipynb, summary.ipynb and examples/: what `make lab` opens.
NOTEBOOKS_DIR = PACKAGE_DIR / "notebooks"
UNIT_NOTEBOOK = NOTEBOOKS_DIR / "unit_report.ipynb"
SUMMARY_NOTEBOOK = NOTEBOOKS_DIR / "summary.ipynb"
#: What a run uses when given no params file or no workbook.
DEFAULTS_DIR = PACKAGE_DIR / "defaults"
DEFAULT_PARAMS = DEFAULTS_DIR / "params.yaml"
DEMO_WORKBOOK = DEFAULTS_DIR / "demo.xlsx"
