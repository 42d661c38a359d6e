"""Keeping process start-up cheap: the driver on every run, and every worker once.

jsonschema (params validation in the driver; nbformat under papermill in workers) imports
rfc3987_syntax when it is installed (jupyter-events pulls it in), only to check the "iri" format,
and that import compiles 38 lark grammars: about 1.3 CPU-s in each process. No schema reportkit
validates uses that format (its params schema checks no formats; nbformat checks none), so the
import is skipped: Python treats a None entry in sys.modules as "not installed", and jsonschema
then registers no "iri" checker.
"""

from __future__ import annotations

import sys


def skip_unused_imports() -> None:
    """Call before jsonschema is first imported; later it changes nothing."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
