"""OUT/manifest.json: what each run produced, read back by the next run to decide what to redo.

It is rewritten atomically after every unit, so a killed run leaves a manifest that records what
finished. Three things carry over from one run to the next:
- a unit's fingerprint and outputs, reused ("cached") while its inputs are unchanged;
- the files of a unit that was fine and now fails: kept as they were and listed as
  "stale_outputs" beside the failure, never replaced by partial output;
- units that disappeared from the data: listed as "removed", their folders kept until `--prune`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportkit import __version__
from reportkit.layout import write_json_atomic

GOOD = ("ok", "cached")


@dataclass
class UnitResult:
    """One unit's (or the summary's) line in the manifest."""

    unit: str
    dir: str
    status: str  # ok | failed | cached
    fingerprint: str
    outputs: dict[str, str]
    seconds: float
    error: str | None = None
    stale_outputs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {
            "unit": self.unit,
            "dir": self.dir,
            "status": self.status,
            "fingerprint": self.fingerprint,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }
        if self.stale_outputs:
            data["stale_outputs"] = self.stale_outputs
        return data


def _existing(folder: Path, outputs: Mapping[str, str] | None) -> dict[str, str]:
    return {fmt: name for fmt, name in (outputs or {}).items() if (folder / name).is_file()}


@dataclass
class PreviousRun:
    """The last run's manifest, as far as it can be read (a missing or broken one is empty)."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # by folder; "" = summary
    removed: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, out: Path) -> PreviousRun:
        try:
            manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            units = [*manifest.get("units", [])]
            if manifest.get("summary"):
                units.append(manifest["summary"])
            entries = {e["dir"]: e for e in units}
            removed = [r for r in manifest.get("removed") or [] if r["dir"] and r["unit"]]
            return cls(entries, removed)
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def reusable(
        self, dir: str, fingerprint: str, folder: Path, also: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """The last entry for `dir` if it was good, had this fingerprint and its files remain."""
        entry = self.entries.get(dir)
        if not entry or entry.get("fingerprint") != fingerprint or entry.get("status") not in GOOD:
            return None
        names = [*(entry.get("outputs") or {}).values(), *also]
        return entry if all((folder / name).is_file() for name in names) else None

    def last_good_outputs(self, dir: str, folder: Path) -> dict[str, str]:
        """The files the last good run left in `folder` that are still there."""
        entry = self.entries.get(dir) or {}
        outputs = entry.get("outputs") if entry.get("status") in GOOD else None
        return _existing(folder, outputs or entry.get("stale_outputs"))

    def removed_units(self, dirs: Mapping[str, str], out: Path) -> list[dict[str, Any]]:
        """Units the last run knew (or had listed as removed) that the data no longer holds,
        whose folders are still in OUT and not taken by a unit of today's data."""
        taken = set(dirs.values())
        known = [e for d, e in self.entries.items() if d] + self.removed
        removed: dict[str, dict[str, Any]] = {}
        for entry in known:
            name = entry["dir"]
            if entry["unit"] in dirs or name in taken or name in removed:
                continue
            if (out / name).is_dir():
                outputs = entry.get("outputs") if entry.get("status", "ok") in GOOD else None
                removed[name] = {
                    "unit": entry["unit"],
                    "dir": name,
                    "outputs": _existing(out / name, outputs or entry.get("stale_outputs")),
                }
        return list(removed.values())


@dataclass
class RunManifest:
    """The manifest as the run goes: rewritten after every unit, so a run that is killed leaves
    a manifest that records what finished, and the next run redoes only the rest."""

    out: Path
    period: Any
    formats: tuple[str, ...]
    units: list[str]
    dirs: dict[str, str]
    previous: PreviousRun
    removed: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, UnitResult] = field(default_factory=dict)

    def record(self, result: UnitResult) -> None:
        self.results[result.unit] = result
        self.write("running")

    def write(self, state: str, summary: UnitResult | None = None) -> None:
        entries = []
        for unit in self.units:
            if unit in self.results:
                entries.append(self.results[unit].to_json())
            elif state == "running" and self.dirs[unit] in self.previous.entries:
                # Not reached yet: keep what the last run knew, so a kill loses nothing.
                entries.append(self.previous.entries[self.dirs[unit]])
        manifest = {
            "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "version": __version__,
            "state": state,
            "period": self.period.to_json(),
            "formats": list(self.formats),
            "units": entries,
            "removed": self.removed,
            "summary": summary.to_json() if summary else None,
        }
        write_json_atomic(self.out / "manifest.json", manifest)
