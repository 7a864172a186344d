"""Shared fixtures. The tests run against the real MNIST files (see README: set-up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lib.data import FILE_NAMES, ensure_mnist, find_file, repo_root
from mnist_lib.errors import MnistLibError
from mnist_lib.models import ModelConfig
from mnist_lib.runs import Run, load_run, train_run
from mnist_lib.train import DEFAULT_RECIPES
from mnist_lib.tutorial import output_dir


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
def trained_runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Run]:
    """Both models with the default recipes, once per test session: notebook 03's runs if
    this test run's output folder or outputs/ holds them, else trained now (about 15 s on
    a CPU). Each Run's `folder` is where it lies."""
    runs = {}
    for name in ("lenet5", "mlp"):
        for results in (output_dir(), repo_root() / "outputs"):
            try:
                runs[name] = load_run(results / "03_training" / name)
                break
            except MnistLibError:
                pass
        else:
            folder = tmp_path_factory.mktemp("runs") / name
            runs[name] = train_run(
                folder, ModelConfig(name), DEFAULT_RECIPES[name], seed=0, device="cpu", plot=False, log=None
            )
    return runs
