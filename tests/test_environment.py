"""environment.yml (conda) and pyproject.toml (pip) describe the same dependencies."""

from __future__ import annotations

import re

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from mnist_lib.paths import repo_root

# conda's name for a package, where it differs from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def _conda_packages() -> dict[str, str]:
    deps, inside = {}, False
    for line in (repo_root() / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            inside = True
        elif inside and line.startswith("  - "):
            spec = line[4:].split("#")[0].strip()
            name = CONDA_TO_PYPI.get(_name(spec), _name(spec))
            if name not in ("python", "pip"):
                deps[name] = spec[len(_name(spec)) :].strip()
        elif inside and line.strip() and not line.startswith(" "):
            inside = False
    return deps


def _pip_packages() -> dict[str, str]:
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return {_name(r): r[len(_name(r)) :].strip() for r in reqs}


def test_same_packages_and_lower_bounds():
    conda, pip = _conda_packages(), _pip_packages()
    assert sorted(conda) == sorted(pip)
    assert conda == pip


def test_nothing_newer_than_the_tested_torch_is_required():
    """The floors may not rise past the releases this tutorial was tested with, and the
    installed torch meets its floor."""
    import torch

    pip = _pip_packages()
    installed = tuple(int(v) for v in re.findall(r"\d+", torch.__version__)[:2])
    floor = tuple(int(v) for v in re.findall(r">=\s*([\d.]+)", pip["torch"])[0].split("."))[:2]
    assert installed >= floor
    for name, ceiling in (("torch", (2, 14, 1)), ("torchvision", (0, 29, 1))):
        spec = pip[name]
        assert not spec.startswith("=="), f"{name} is pinned: {spec}"
        floor = tuple(int(v) for v in re.findall(r">=\s*([\d.]+)", spec)[0].split("."))
        assert floor <= ceiling


def _locked() -> dict[str, list[str]]:
    """requirements.lock: package name -> the versions pinned (one per platform marker)."""
    pins: dict[str, list[str]] = {}
    for line in (repo_root() / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            spec = line.split(";")[0].strip()
            name, version = spec.split("==")
            pins.setdefault(name.lower().replace("_", "-"), []).append(version)
    return pins


def test_the_lock_file_pins_every_dependency_within_pyproject_ranges():
    """`make setup` installs requirements.lock; it must stay what pyproject allows."""
    from packaging.specifiers import SpecifierSet

    locked = _locked()
    for name, spec in _pip_packages().items():
        key = name.lower().replace("_", "-")
        assert key in locked, f"{name} is in pyproject.toml but not in requirements.lock: run make lock"
        for version in locked[key]:
            assert version in SpecifierSet(spec), f"{name}=={version} is outside {spec}: run make lock"
