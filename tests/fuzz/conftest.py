"""Reports how much the fuzz tests ran: profile, seed and example counts, in every pytest run."""

from __future__ import annotations

import os
from typing import Any

from tests.fuzz.strategies import STATS


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not (STATS["read"] or STATS["cli"]):
        return
    seed = config.getoption("hypothesis_seed", None)
    profile = os.environ.get("REPORTKIT_FUZZ", "ci")
    if seed is None:
        seed = "derandomized (fixed per test)" if profile == "ci" else "random"
    terminalreporter.section("fuzz")
    terminalreporter.write_line(
        f"profile {profile}, seed {seed}: {STATS['read']} workbooks read in-process, "
        f"{STATS['cli']} validated by the console script, {STATS['run']} runs"
    )
    for name, why in STATS["kept"].items():
        terminalreporter.write_line(
            f"kept as regression file: tests/fixtures/fuzz/{name}.xlsx: {why}"
        )
