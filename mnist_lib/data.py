"""Where MNIST lives, how it gets there, and loading a split as tensors.

The project looks for the four original IDX files (raw or .gz) in one data folder:
`data/` at the repository root by default, whatever the working directory; the
`MNIST_DATA_DIR` environment variable or a `data_dir` argument point elsewhere. Files may
sit in the folder itself or in `MNIST/raw/` below it (torchvision's layout). Missing files
are downloaded with torchvision; every file is verified before use.

The splits: the training file's 60,000 images are divided once and for all into
**train** (55,000) and **val** (5,000: every 12th image, indices 11, 23, ..., 59,999), used
to choose recipes and compare variants; **test** is the 10,000 images of the test file,
reported once per trained model.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .errors import MNISTDataError, MNISTFilesMissing
from .idx import expected_size, parse_idx, read_bytes

DATA_DIR_ENV = "MNIST_DATA_DIR"
FILES = ("train", "test")  # the two halves MNIST is distributed in
SPLITS = ("train", "val", "test")  # what training and evaluation use
COUNTS = {"train": 60_000, "test": 10_000}  # items per file
VAL_EVERY = 12  # every 12th image of the training file is a validation image
PREFIX = {"train": "train", "test": "t10k"}

# sha256 of the UNCOMPRESSED files: they identify the data whatever the compression.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILE_NAMES = tuple(SHA256)

# Pixel statistics of the training file's 60,000 images (28x28, scaled to [0, 1]): the
# constants of nearly every MNIST example; notebook 01 recomputes them from the data.
TRAIN_MEAN = 0.1307
TRAIN_STD = 0.3081

# Seconds a download may wait for a connection or for the next bytes before giving up.
DOWNLOAD_TIMEOUT = 30.0


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


def file_name(file: str, kind: str) -> str:
    """The IDX file name of a file's images or labels, e.g. `t10k-labels-idx1-ubyte`."""
    return f"{PREFIX[file]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"


def find_file(data_dir: Path, name: str) -> Path | None:
    """The first of `name`, `name.gz` in `data_dir` or `data_dir/MNIST/raw`, if any.

    Something under such a name that is not a readable file (a folder, a broken or looping
    link) is an error, not a missing file: downloading would not help.
    """
    for folder in (data_dir, data_dir / "MNIST" / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
            if os.path.lexists(candidate):
                what = "a folder" if candidate.is_dir() else "a link that leads to no file"
                raise MNISTDataError(
                    f"is {what}, where the MNIST file {name} should be.",
                    "remove it, then put the file itself there (or run `python -m mnist_lib "
                    "data` to download it).",
                    candidate,
                )
    return None


def missing_files(data_dir: Path) -> list[str]:
    """The names of the four files that `find_file` does not find in `data_dir`."""
    return [name for name in FILE_NAMES if find_file(data_dir, name) is None]


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    # torchvision opens its connections without a timeout; the default applies to them.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(data_dir: Path) -> None:
    """Download the four files with torchvision into `data_dir/MNIST/raw`.

    Work happens in a temporary folder beside the target and files are moved into place
    only once all four are complete and verified, so a failed or interrupted download
    never leaves a half-written file where the loader would find it. A connection that
    stalls for `DOWNLOAD_TIMEOUT` seconds ends the download with an error.
    """
    from torchvision.datasets import MNIST as TorchvisionMNIST

    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = data_dir / "MNIST" / "raw"
    with tempfile.TemporaryDirectory(prefix=".mnist-download-", dir=data_dir) as tmp:
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT):
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
                raise MNISTDataError(
                    f"the downloaded copy of {name} is damaged: {e.problem} Nothing was written to {raw}.",
                    f"run `python -m mnist_lib data` again, or copy the four original files "
                    f"into {data_dir} by hand.",
                ) from None
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILE_NAMES:
            if find_file(data_dir, name) is None:
                os.replace(tmp_raw / name, raw / name)


def _missing(data_dir: Path, missing: list[str], reason: str, origin: str) -> MNISTFilesMissing:
    """The error for files that are not there; `origin` says where `data_dir` came from:
    "env" ($MNIST_DATA_DIR), "argument" (a data_dir or --data-dir given) or "default"."""
    names = ", ".join(missing)
    where = {"env": f" (the folder {DATA_DIR_ENV} names)", "argument": " (the folder given)"}
    point = {
        "env": f"or change {DATA_DIR_ENV} to the folder that holds them",
        "argument": "or give the folder that holds them instead",
        "default": f"or point {DATA_DIR_ENV} at the folder that holds them",
    }[origin]
    # The commands must act on this folder: a plain `data` would fill the default one.
    here = f" --data-dir {data_dir}" if origin == "argument" else ""
    return MNISTFilesMissing(
        f"MNIST files not found in {data_dir}{where.get(origin, '')} nor in its MNIST/raw: "
        f"{names} (raw or .gz). Downloading them failed: {reason}",
        f"with internet access, run `python -m mnist_lib data{here}`. Offline, get the four "
        "original IDX files (raw or .gz) onto this machine and run `python -m mnist_lib data "
        f"--from FOLDER{here}` (it checks and copies them into {data_dir}), {point}.",
    )


def ensure_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> Path:
    """Make sure the four files are in the data folder, downloading them if allowed.

    Returns the data folder. Raises `MNISTFilesMissing` with what to do when files are
    missing and cannot be downloaded.
    """
    folder = resolve_data_dir(data_dir)
    origin = "argument" if data_dir is not None else "env" if os.environ.get(DATA_DIR_ENV) else "default"
    missing = missing_files(folder)
    if not missing:
        return folder
    if not download:
        raise _missing(folder, missing, "download was not allowed.", origin)
    try:
        _download(folder)
    except MNISTDataError:
        raise
    except Exception as e:  # torchvision raises several kinds for a failed fetch
        # torchvision's message spans lines (each mirror tried, and why it failed): keep it all.
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise _missing(folder, missing, reason, origin) from e
    still = missing_files(folder)
    if still:
        raise _missing(folder, still, "torchvision fetched no such file.", origin)
    return folder


def _check(path: Path, name: str) -> np.ndarray:
    labels = "labels" in name
    count = COUNTS["train" if name.startswith("train") else "test"]
    data = read_bytes(path, limit=expected_size(labels, count))
    return parse_idx(path, data, labels=labels, count=count, sha256=SHA256[name])


@functools.lru_cache(maxsize=8)
def _load_checked(path: Path, name: str, mtime_ns: int, size: int) -> np.ndarray:
    # Keyed on mtime and size so that a replaced file is read and verified again.
    return _check(path, name)


def _load(folder: Path, name: str) -> tuple[Path, np.ndarray]:
    path = find_file(folder, name)
    if path is None:
        raise _missing(folder, [name], "the file disappeared.", "default")
    stat = path.stat()
    return path, _load_checked(path.resolve(), name, stat.st_mtime_ns, stat.st_size)


def verify(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Check all four files (structure and sha256) and return where each one is."""
    folder = ensure_mnist(data_dir)
    return {name: _load(folder, name)[0] for name in FILE_NAMES}


def load_file(
    file: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One of MNIST's two files, whole: (images uint8 [N, 28, 28], labels int64 [N]),
    verified. "train" holds 60,000 images, "test" 10,000."""
    if file not in FILES:
        raise ValueError(f"file must be one of {FILES}, got {file!r}")
    folder = ensure_mnist(data_dir)
    images = _load(folder, file_name(file, "images"))[1]
    labels = _load(folder, file_name(file, "labels"))[1]
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def val_mask(n: int = COUNTS["train"]) -> torch.Tensor:
    """True for the training file's images that form the validation split."""
    return torch.arange(n) % VAL_EVERY == VAL_EVERY - 1


def load_split(
    split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as (images uint8 [N, 28, 28], labels int64 [N]): "train" (55,000),
    "val" (5,000) or "test" (10,000)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "test":
        return load_file("test", data_dir)
    images, labels = load_file("train", data_dir)
    keep = val_mask(len(labels)) if split == "val" else ~val_mask(len(labels))
    return images[keep], labels[keep]


def copy_into(source: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Copy the four files from the folder `source` into the data folder, checking each.

    A file already in the data folder is kept if it checks out and replaced if it does
    not; every copy is written atomically.
    """
    src, dst = Path(source), resolve_data_dir(data_dir)
    if not src.is_dir():
        raise MNISTFilesMissing("is not a folder.", "give the folder that holds the four MNIST files.", src)
    missing = [name for name in FILE_NAMES if find_file(src, name) is None]
    if missing:
        raise MNISTFilesMissing(
            f"lacks {', '.join(missing)} (raw or .gz): nothing was copied.",
            "give the folder that holds all four MNIST files.",
            src,
        )
    sources = {name: find_file(src, name) for name in FILE_NAMES}
    for name, path in sources.items():  # every source checked before anything is copied
        assert path is not None
        try:
            _check(path, name)
        except MNISTDataError as e:
            raise MNISTDataError(
                f"cannot be used: {e.problem} Nothing was copied.",
                f"replace {path.name} in {src} with a good copy of the original file (its "
                "sha256 is in mnist_lib/data.py), then run this again.",
                path,
            ) from None
    try:
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
    except OSError as e:
        raise MNISTDataError(
            f"cannot write the MNIST files here ({e.strerror or e}).",
            "give --data-dir a folder you can write to."
            if data_dir is not None
            else f"choose a folder you can write to, with --data-dir or {DATA_DIR_ENV}.",
            dst,
        ) from None
    return dst
