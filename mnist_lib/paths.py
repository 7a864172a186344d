"""Every folder the package reads or writes by default, decided here and nowhere else.

<repo>/                   `repo_root()`: the repository the package was installed from
<repo>/data/              `resolve_data_dir()`: MNIST, unless $MNIST_DATA_DIR or a data_dir says where
<repo>/notebooks/         `notebooks_dir()`: the tutorial
<repo>/outputs/           `output_dir()`: what the notebooks, the site and the benchmark
                          write, unless a notebook parameter or $MNIST_OUTPUT_DIR says where
<repo>/runs/<model>/      `default_run_dir(model)`: `python -m mnist_lib train` without --out
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

DATA_DIR_ENV = "MNIST_DATA_DIR"
OUTPUT_DIR_ENV = "MNIST_OUTPUT_DIR"


def repo_root() -> Path:
    """The repository this package was installed from (editable install), else the cwd."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: `data_dir` if given, else `$MNIST_DATA_DIR` if set, else `data/` at
    the repository root."""
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or repo_root() / "data"
    try:
        return Path(folder).expanduser()
    except RuntimeError:  # `~someone` of a user this machine does not know
        raise ConfigError(
            f"the data folder {folder} starts with ~ of an unknown user", "give the folder as a full path."
        ) from None


def notebooks_dir() -> Path:
    """The tutorial's notebooks."""
    return repo_root() / "notebooks"


def output_dir(param: str | os.PathLike[str] = "") -> Path:
    """Where notebooks (and the site and the benchmark) write their artifacts: the notebook
    parameter if given, else `$MNIST_OUTPUT_DIR`, else `outputs/` at the repository root.
    Created if missing."""
    folder = Path(param or os.environ.get(OUTPUT_DIR_ENV) or repo_root() / "outputs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot make the output folder here ({e.strerror or e})",
            f"choose a folder you can write to, with --out or {OUTPUT_DIR_ENV}.",
            folder,
        ) from None
    return folder


def default_run_dir(model: str) -> Path:
    """Where the command line trains `model` when no --out is given."""
    return repo_root() / "runs" / model


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a reader should see it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(repo_root().resolve()))
    except ValueError:
        return str(Path(path).resolve())
