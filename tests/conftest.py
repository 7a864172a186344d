"""Shared fixtures. The tests run against the real MNIST files (see README: set-up)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from mnist_lib.data import FILE_NAMES, ensure_mnist, find_file
from mnist_lib.paths import OUTPUT_DIR_ENV, output_dir, repo_root
from mnist_lib.runs import Run, load_or_train


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The project's data folder, with the four files present (downloaded if need be)."""
    return ensure_mnist()


@pytest.fixture
def data_copy(tmp_path: Path, data_dir: Path):
    """A function making a private data folder: links to the good files, except the ones
    a test wants to replace with its own bytes."""

    def make(**replace: bytes) -> Path:
        folder = tmp_path / "data"
        folder.mkdir(exist_ok=True)
        for name in FILE_NAMES:
            source = find_file(data_dir, name)
            assert source is not None
            if name in replace:
                (folder / name).write_bytes(replace[name])
            else:
                (folder / source.name).symlink_to(source.resolve())
        return folder

    return make


@pytest.fixture(scope="session")
def trained_runs(data_dir: Path) -> dict[str, Run]:
    """Both models with the default recipes, once per test session: notebook 03's runs if
    this test session has run it, else trained now (about 15 s on a CPU), by the one
    load-or-train the notebooks use. Only the session's own output folder is read (the
    root conftest.py points $MNIST_OUTPUT_DIR at a temporary one, one per pytest-xdist
    worker): never the user's outputs/, where a run with other parameters may lie. Each
    Run's `folder` is where it lies."""
    assert os.environ.get(OUTPUT_DIR_ENV), "the root conftest.py sets the session's output folder"
    return load_or_train(output_dir(), device="cpu", data_dir=data_dir)


@pytest.fixture(scope="session")
def site_build():
    """site/build.py, the static site's builder, loaded from its path: it is a script beside
    the package, not an importable module (a module named `site` would be Python's own)."""
    spec = importlib.util.spec_from_file_location("site_build", repo_root() / "site" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
