"""Shared fixtures. The tests run against the real MNIST files (see README: set-up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lib.data import FILE_NAMES, ensure_mnist, find_file


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
