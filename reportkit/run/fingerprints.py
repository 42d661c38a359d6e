"""Fingerprints: what decides whether a unit's outputs are still current, and whether a cluster
worker runs the same reportkit code as the driver.

A module of its own, light to import: a dask worker checks its code fingerprint before every
run, and should not pay for the runner's imports to do so.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import reportkit
from reportkit import __version__

#: The installed package: its code and templates are what the code fingerprint covers.
PACKAGE_DIR = Path(reportkit.__file__).resolve().parent


def sha256_parts(*parts: bytes) -> str:
    """One digest of several byte strings; each is length-prefixed, so no two splits collide."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """reportkit's version and the content of what it ships: code, templates (Jinja, Typst,
    CSS, JS), the kernelspec and the defaults, so a change to any of them re-runs the units.
    The notebooks are left out (a run hashes the notebook it uses), and so are caches and
    hidden files such as JupyterLab's checkpoints."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and _fingerprinted(p))
    return sha256_parts(
        __version__.encode(),
        *(p.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + p.read_bytes() for p in files),
    )


def canonical(data: Any) -> bytes:
    """JSON-able data as bytes that depend only on its content (sorted keys, no spaces)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _fingerprinted(path: Path) -> bool:
    parts = path.relative_to(PACKAGE_DIR).parts
    hidden = any(part.startswith((".", "__pycache__")) for part in parts)
    return not hidden and parts[0] != "notebooks"
