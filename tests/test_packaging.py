"""Packaging: environment.yml (conda) and pyproject.toml (pip) ask for the same packages and
ranges, extras included; the console script and exporters are declared."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names for the same distributions.
CONDA_NAMES = {"matplotlib-base": "matplotlib"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def _split(requirement: str) -> tuple[str, str]:
    """(PEP 503 name, version range without spaces) of one requirement line."""
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2).replace(" ", "")


def _add(found: dict[str, str], requirement: str, names: dict[str, str]) -> None:
    name, spec = _split(requirement)
    name = names.get(name, name)
    assert name not in found, f"environment.yml lists {name} twice"
    found[name] = spec


def wanted_by_pyproject(project: dict) -> dict[str, str]:
    """Every requirement of the package and of each extra."""
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return dict(_split(r) for r in project["dependencies"] + extras)


def found_in_environment(env: dict) -> dict[str, str]:
    """conda and pip requirements of environment.yml, in pip's names; python and pip aside."""
    found: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for requirement in dep["pip"]:
                if not requirement.startswith("-e"):
                    _add(found, requirement, {})
        elif not dep.startswith(("python=", "pip")):
            _add(found, dep, CONDA_NAMES)
    return found


def mismatches(wanted: dict[str, str], found: dict[str, str]) -> list[str]:
    """One line per package that environment.yml lacks, adds or pins differently."""
    lines = [f"missing from environment.yml: {n}{wanted[n]}" for n in wanted if n not in found]
    lines += [f"not in pyproject.toml: {n}{found[n]}" for n in found if n not in wanted]
    lines += [
        f"{n}: pyproject.toml {wanted[n]} != environment.yml {found[n]}"
        for n in wanted
        if n in found and wanted[n] != found[n]
    ]
    return lines


def test_environment_yml_matches_pyproject() -> None:
    assert mismatches(wanted_by_pyproject(_pyproject()), found_in_environment(_environment())) == []


def test_environment_python_is_the_oldest_supported() -> None:
    pythons = [d for d in _environment()["dependencies"] if str(d).startswith("python=")]
    assert pythons == ["python=" + _pyproject()["requires-python"].removeprefix(">=")]


def test_a_mismatch_in_an_extra_is_named() -> None:
    """The check compares extras too: an extra's package dropped, re-pinned or added fails it."""
    project = _pyproject()
    project["optional-dependencies"]["test"] = [
        r for r in project["optional-dependencies"]["test"] if not r.startswith("pytest-timeout")
    ]
    project["optional-dependencies"]["dask"] = ["distributed>=2025.1,<2027", "psutil>=5.9,<8"]
    project["optional-dependencies"]["lab"].append("jupyterlab-git>=0.50,<1")
    found = found_in_environment(_environment())
    assert sorted(mismatches(wanted_by_pyproject(project), found)) == [
        "distributed: pyproject.toml >=2025.1,<2027 != environment.yml >=2024.8,<2027",
        "missing from environment.yml: jupyterlab-git>=0.50,<1",
        "not in pyproject.toml: pytest-timeout>=2.3,<3",
    ]


def test_console_script_and_exporters_are_declared() -> None:
    project = _pyproject()
    assert project["scripts"]["reportkit"] == "reportkit.cli:entry"
    exporters = project["entry-points"]["nbconvert.exporters"]
    assert set(exporters) == {"reportkit_html", "reportkit_pdf", "reportkit_docx"}
