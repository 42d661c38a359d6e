"""Fingerprints: what decides whether a unit's outputs are still current, and whether a cluster
worker runs the same reportkit code as the driver.

A module of its own, light to import: a dask worker checks its code fingerprint before every
run, and should not pay for the runner's imports to do so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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
    """reportkit's version and the content of its code and templates."""
    files = sorted(
        p for p in PACKAGE_DIR.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css"}
    )
    return sha256_parts(
        __version__.encode(),
        *(p.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + p.read_bytes() for p in files),
    )
