"""environment.yml (conda) and pyproject.toml (pip) must ask for the same packages and ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names for the same distributions.
CONDA_NAMES = {"matplotlib-base": "matplotlib", "jinja2": "jinja2"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    wanted = dict(_split(r) for r in project["dependencies"] + extras)
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            found.update(_split(r) for r in dep["pip"] if not r.startswith("-e"))
        elif not dep.startswith(("python=", "pip")):
            name, spec = _split(dep)
            found[CONDA_NAMES.get(name, name)] = spec
    assert {k.lower(): v for k, v in found.items()} == wanted


def test_console_script_and_exporters_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["reportkit"] == "reportkit.cli:entry"
    exporters = project["entry-points"]["nbconvert.exporters"]
    assert set(exporters) == {"reportkit_html", "reportkit_pdf", "reportkit_docx"}
