"""Where MNIST lives, how it gets there, and loading a split as tensors.

The project looks for the four original IDX files (raw or .gz) in one data folder:
`data/` at the repository root by default, whatever the working directory; the
`MNIST_DATA_DIR` environment variable or a `data_dir` argument point elsewhere. Files may
sit in the folder itself or in `MNIST/raw/` below it (torchvision's layout). Missing files
are downloaded with torchvision; every file is verified before use.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .idx import MNISTDataError, parse_idx, read_bytes

DATA_DIR_ENV = "MNIST_DATA_DIR"
SPLITS = ("train", "test")
COUNTS = {"train": 60_000, "test": 10_000}
PREFIX = {"train": "train", "test": "t10k"}

# sha256 of the UNCOMPRESSED files: they identify the data whatever the compression.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILE_NAMES = tuple(SHA256)

# Pixel statistics of the 60,000 training images (28x28, scaled to [0, 1]); notebook 01
# recomputes them from the data.
TRAIN_MEAN = 0.1307
TRAIN_STD = 0.3081


class MNISTFilesMissing(MNISTDataError):
    """Some of the four files are not there and could not be downloaded."""


def repo_root() -> Path:
    """The repository this package was installed from (editable install), else the cwd."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def default_data_dir() -> Path:
    """`$MNIST_DATA_DIR` if set, else `data/` at the repository root."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else repo_root() / "data"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """`data_dir` as a Path, or the default data folder when None."""
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def file_name(split: str, kind: str) -> str:
    """The IDX file name of a split's images or labels, e.g. `t10k-labels-idx1-ubyte`."""
    return f"{PREFIX[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"


def find_file(data_dir: Path, name: str) -> Path | None:
    """The first of `name`, `name.gz` in `data_dir` or `data_dir/MNIST/raw`, if any."""
    for folder in (data_dir, data_dir / "MNIST" / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def missing_files(data_dir: Path) -> list[str]:
    """The names of the four files that `find_file` does not find in `data_dir`."""
    return [name for name in FILE_NAMES if find_file(data_dir, name) is None]


def _download(data_dir: Path) -> None:
    """Download the four files with torchvision into `data_dir/MNIST/raw`.

    Work happens in a temporary folder beside the target and files are moved into place
    only once all four are complete and verified, so a failed or interrupted download
    never leaves a half-written file where the loader would find it.
    """
    from torchvision.datasets import MNIST as TorchvisionMNIST

    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = data_dir / "MNIST" / "raw"
    with tempfile.TemporaryDirectory(prefix=".mnist-download-", dir=data_dir) as tmp:
        try:
            TorchvisionMNIST(root=tmp, train=True, download=True)
        except BaseException:
            if created:  # leave no empty folder behind for a download that never came
                shutil.rmtree(tmp, ignore_errors=True)
                with contextlib.suppress(OSError):
                    data_dir.rmdir()
            raise
        tmp_raw = Path(tmp) / "MNIST" / "raw"
        for name in FILE_NAMES:
            try:
                _check(tmp_raw / name, name)
            except MNISTDataError as e:
                detail = str(e).split(": ", 1)[1].split(" Fix:")[0]
                raise MNISTDataError(
                    f"the downloaded copy of {name} is damaged: {detail} Nothing was written "
                    f"to {raw}. Fix: run `python -m mnist_lib data` again, or copy the four "
                    f"original files into {data_dir} by hand."
                ) from None
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILE_NAMES:
            if find_file(data_dir, name) is None:
                os.replace(tmp_raw / name, raw / name)


def _missing_message(data_dir: Path, missing: list[str], reason: str, from_env: bool = False) -> str:
    names = "\n".join(f"    {n}  (or {n}.gz)" for n in missing)
    where = f" (the folder {DATA_DIR_ENV} names)" if from_env else ""
    point = (f"or point {DATA_DIR_ENV} at the folder that holds them" if not from_env
             else f"or change {DATA_DIR_ENV} to the folder that holds them")
    return (
        f"MNIST files not found in {data_dir}{where} (nor in {data_dir / 'MNIST' / 'raw'}):\n"
        f"{names}\n"
        f"Downloading them failed: {reason}\n"
        "Fix: with internet access, run `python -m mnist_lib data`. Offline, get the four "
        "original IDX files (raw or .gz) onto this machine and run `python -m mnist_lib data "
        f"--from FOLDER` (it checks and copies them into {data_dir}), {point}."
    )


def ensure_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Make sure the four files are in the data folder, downloading them if allowed.

    Returns the data folder. Raises `MNISTFilesMissing` with what to do when files are
    missing and cannot be downloaded.
    """
    folder = resolve_data_dir(data_dir)
    from_env = data_dir is None and bool(os.environ.get(DATA_DIR_ENV))
    missing = missing_files(folder)
    if not missing:
        return folder
    if not download:
        raise MNISTFilesMissing(_missing_message(folder, missing, "download was not allowed", from_env))
    try:
        _download(folder)
    except MNISTDataError:
        raise
    except Exception as e:  # torchvision raises several kinds for a failed fetch
        # torchvision's message spans lines (each mirror tried, and why it failed): keep it all.
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise MNISTFilesMissing(_missing_message(folder, missing, reason, from_env)) from e
    still = missing_files(folder)
    if still:
        raise MNISTFilesMissing(_missing_message(folder, still, "torchvision fetched no such file", from_env))
    return folder


def _check(path: Path, name: str) -> np.ndarray:
    labels = "labels" in name
    split = "train" if name.startswith("train") else "test"
    return parse_idx(path, read_bytes(path), labels=labels, count=COUNTS[split], sha256=SHA256[name])


@functools.lru_cache(maxsize=8)
def _load_checked(path: Path, name: str, mtime_ns: int, size: int) -> np.ndarray:
    # Keyed on mtime and size so that a replaced file is read and verified again.
    return _check(path, name)


def _load(folder: Path, name: str) -> tuple[Path, np.ndarray]:
    path = find_file(folder, name)
    if path is None:
        raise MNISTFilesMissing(_missing_message(folder, [name], "the file disappeared"))
    stat = path.stat()
    return path, _load_checked(path.resolve(), name, stat.st_mtime_ns, stat.st_size)


def verify(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Check all four files (structure and sha256) and return where each one is."""
    folder = ensure_mnist(data_dir)
    return {name: _load(folder, name)[0] for name in FILE_NAMES}


def load_split(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return one split as (images uint8 [N, 28, 28], labels int64 [N]), verified."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    folder = ensure_mnist(data_dir)
    images = _load(folder, file_name(split, "images"))[1]
    labels = _load(folder, file_name(split, "labels"))[1]
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def copy_into(source: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Copy the four files from the folder `source` into the data folder, checking each.

    A file already in the data folder is kept if it checks out and replaced if it does
    not; every copy is written atomically.
    """
    src, dst = Path(source), resolve_data_dir(data_dir)
    if not src.is_dir():
        raise MNISTFilesMissing(f"{src} is not a folder: give the folder that holds the four MNIST files.")
    missing = [name for name in FILE_NAMES if find_file(src, name) is None]
    if missing:
        raise MNISTFilesMissing(f"{src} lacks {', '.join(missing)} (raw or .gz): nothing was copied.")
    sources = {name: find_file(src, name) for name in FILE_NAMES}
    for name, path in sources.items():  # every source checked before anything is copied
        assert path is not None
        try:
            _check(path, name)
        except MNISTDataError as e:
            detail = str(e).split(": ", 1)[1].split(" Fix:")[0]
            raise MNISTDataError(
                f"{path} cannot be used: {detail} Nothing was copied. Fix: replace {path.name} "
                f"in {src} with a good copy of the original file (its sha256 is in "
                "mnist_lib/data.py), then run this again."
            ) from None
    dst.mkdir(parents=True, exist_ok=True)
    for name, path in sources.items():
        assert path is not None
        existing = find_file(dst, name)
        if existing is not None:
            try:
                _check(existing, name)
                continue
            except MNISTDataError:
                existing.unlink()  # damaged: the good copy replaces it
        with atomic_path(dst / path.name) as tmp:
            shutil.copyfile(path, tmp)
    return dst
