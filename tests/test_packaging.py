"""Packaging: environment.yml (conda) and pyproject.toml (pip) ask for the same packages and
ranges, extras included; the console script and exporters are declared."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest
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
    dask = project["optional-dependencies"]["dask"]
    project["optional-dependencies"]["dask"] = [
        "distributed>=2025.1,<2027" if r.startswith("distributed") else r for r in dask
    ]
    project["optional-dependencies"]["lab"].append("jupyterlab-git>=0.50,<1")
    found = found_in_environment(_environment())
    assert sorted(mismatches(wanted_by_pyproject(project), found)) == [
        "distributed: pyproject.toml >=2025.1,<2027 != environment.yml >=2024.8,<2027",
        "missing from environment.yml: jupyterlab-git>=0.50,<1",
        "not in pyproject.toml: pytest-timeout>=2.3,<3",
    ]


def test_console_script_is_declared() -> None:
    assert _pyproject()["scripts"]["reportkit"] == "reportkit.cli:entry"


@pytest.mark.slow
def test_a_plain_pip_install_builds_the_demo_reports_from_any_folder(
    tmp_path: Path, record_property
) -> None:
    """`pip install --no-deps .` (not editable) into a fresh venv, then `reportkit run` from an
    empty folder: notebooks, default params and the demo workbook come with the package. The
    venv borrows this environment's packages through a .pth file, so nothing is downloaded."""
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    assert set(build["requires"]) <= set(_pyproject()["optional-dependencies"]["test"])
    started = time.perf_counter()
    source = tmp_path / "source"  # a copy, so the build writes nothing into the checkout
    shutil.copytree(
        ROOT / "reportkit", source / "reportkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(site) / "_reportkit_test_base.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "."],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = Path(site) / "reportkit"
    assert (installed / "__init__.py").is_file()
    assert not (installed / "__init__.py").is_symlink()

    work = tmp_path / "elsewhere"
    work.mkdir()
    run = subprocess.run(
        [venv / "bin" / "reportkit", "run", "--out", "OUT", "--formats", "html"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    record_property("seconds", round(time.perf_counter() - started, 1))
    assert run.returncode == 0, run.stdout + run.stderr
    out = work / "OUT"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    units = manifest["units"]
    assert len(units) == 6, units
    assert all(u["status"] == "ok" for u in units), units
    assert (out / "index.html").is_file()
    assert (out / "summary.html").is_file()
    for unit in units:
        assert (out / unit["dir"] / "report.html").stat().st_size > 10_000
    assert sorted(p.name for p in work.iterdir()) == ["OUT"]  # no build/ or cache beside it
    # A notebook given no dataset previews the one `reportkit ingest` writes from this folder:
    # an installed package has no project root to look in.
    preview = subprocess.run(
        [python, "-c", "from reportkit.data.dataset import default_dataset as d; print(d())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(preview.stdout.strip()) == work.resolve() / "build" / "dataset"
