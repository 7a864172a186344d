"""MNIST's four files (raw or .gz, in the data folder or its MNIST/raw/): found,
downloaded, verified, and loaded as splits. The training file's 60,000 images are divided
once and for all into train (55,000) and val (5,000: every 12th image, indices 11, 23,
...); test is the test file's 10,000 images, measured once per trained model.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.client
import os
import shutil
import signal
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .errors import ConfigError, MNISTDataError, MNISTFilesMissing
from .idx import expected_size, parse_idx, read_bytes
from .paths import DATA_DIR_ENV, resolve_data_dir

FILES = ("train", "test")  # the two halves MNIST is distributed in
SPLITS = ("train", "val", "test")  # what training and evaluation use
COUNTS = {"train": 60_000, "test": 10_000}  # items per file
VAL_EVERY = 12  # every 12th image of the training file is a validation image

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
# Seconds one file may take in all (the largest is 9.9 MB): a server that trickles a byte
# at a time cannot keep a download alive for ever. $MNIST_DOWNLOAD_DEADLINE overrides it.
DOWNLOAD_DEADLINE = 600.0
DOWNLOAD_DEADLINE_ENV = "MNIST_DOWNLOAD_DEADLINE"


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
                what = (
                    "a folder"
                    if candidate.is_dir()
                    else "not a regular file (a pipe, device or socket)"
                    if candidate.exists()
                    else "a link that leads to no file"
                )
                raise MNISTDataError(
                    f"is {what}, where the MNIST file {name} should be.",
                    "remove it, then put the file itself there (or run `python -m mnist_lib "
                    f"data --data-dir {data_dir}` to download it).",
                    candidate,
                )
    return None


def missing_files(data_dir: Path) -> list[str]:
    """The names of the four files that `find_file` does not find in `data_dir`."""
    return [name for name in FILE_NAMES if find_file(data_dir, name) is None]


def download_deadline() -> float:
    """Seconds one file's download may take in all: `$MNIST_DOWNLOAD_DEADLINE` or 600."""
    text = os.environ.get(DOWNLOAD_DEADLINE_ENV, "")
    try:
        seconds = float(text) if text else DOWNLOAD_DEADLINE
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(
            f"{DOWNLOAD_DEADLINE_ENV} must be a positive number of seconds, got {text!r}",
            f"set it to, say, {DOWNLOAD_DEADLINE:.0f}, or unset it.",
        )
    return seconds


def _fetch(url: str, target: Path, deadline: float) -> None:
    """Stream `url` into `target`; give up when the server is silent for DOWNLOAD_TIMEOUT
    seconds or the whole file takes longer than `deadline` seconds."""
    end = time.monotonic() + deadline
    request = urllib.request.Request(url, headers={"User-Agent": "mnist_lib"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response, target.open("wb") as out:
        while chunk := response.read1(1 << 16):  # whatever has arrived: the deadline is checked often
            out.write(chunk)
            if time.monotonic() > end:
                raise TimeoutError(
                    f"not complete after {deadline:g} s (the deadline per file; {DOWNLOAD_DEADLINE_ENV} sets it)"
                )


@contextlib.contextmanager
def _terminate_cleanly():
    """While the body runs, SIGTERM raises SystemExit, so that `finally` blocks (the
    temporary folder's removal) run instead of the process just ending."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fetch_all(target: Path, deadline: float) -> None:
    """Each of the four .gz files into `target`, from the first of torchvision's mirrors that
    serves it."""
    from torchvision.datasets import MNIST as TorchvisionMNIST  # its mirrors

    for name in FILE_NAMES:
        failures = []
        for mirror in TorchvisionMNIST.mirrors:
            try:
                _fetch(f"{mirror}{name}.gz", target / f"{name}.gz", deadline)
                break
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"{mirror}: {e}")
        else:
            raise RuntimeError(f"Error downloading {name}.gz: " + "; ".join(failures))


def _download(data_dir: Path) -> None:
    """Download the four files into `data_dir/MNIST/raw`, working in a temporary folder
    beside it: files are moved into place only once all four are complete and verified, so
    an error, a timeout, Ctrl-C or SIGTERM leaves no half-written file, nor the temporary
    folder, nor folders made for it."""
    deadline = download_deadline()
    made = [p for p in (data_dir, *data_dir.parents) if not p.exists()]  # innermost first
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = data_dir / "MNIST" / "raw"
    with _terminate_cleanly(), tempfile.TemporaryDirectory(prefix=".mnist-download-", dir=data_dir) as tmp:
        try:
            _fetch_all(Path(tmp), deadline)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for folder in made:  # leave no empty folders behind for a download that never came
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
        for name in FILE_NAMES:
            _check_or_explain(
                Path(tmp) / f"{name}.gz",
                name,
                f"the downloaded copy of {name} is damaged: {{problem}} Nothing was written to {raw}.",
                f"run `python -m mnist_lib data --data-dir {data_dir}` again, or copy the four "
                f"original files into {data_dir} by hand.",
            )
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILE_NAMES:
            if find_file(data_dir, name) is None:
                unpacked = Path(tmp) / name
                with gzip.open(Path(tmp) / f"{name}.gz") as packed, open(unpacked, "wb") as out:
                    shutil.copyfileobj(packed, out)  # checked above: its size is bounded
                os.replace(unpacked, raw / name)


def _missing(
    data_dir: Path, missing: list[str], reason: str, given: str | os.PathLike[str] | None
) -> MNISTFilesMissing:
    """The error for files missing from `data_dir`, the folder resolved from `given` (the
    data_dir or --data-dir the caller was given, or None). Its fix says how to point at
    another folder the way this one was chosen: as an "argument", by $MNIST_DATA_DIR ("env")
    or by "default"."""
    origin = "argument" if given is not None else "env" if os.environ.get(DATA_DIR_ENV) else "default"
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
    """The data folder, once the four files are in it (downloaded if allowed; else
    `MNISTFilesMissing` says what to do)."""
    folder = resolve_data_dir(data_dir)
    missing = missing_files(folder)
    if not missing:
        return folder
    if not download:
        raise _missing(folder, missing, "download was not allowed.", data_dir)
    try:
        _download(folder)
    except MNISTDataError:
        raise
    except Exception as e:  # torchvision raises several kinds for a failed fetch
        # torchvision's message spans lines (each mirror tried, and why it failed): keep it all.
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise _missing(folder, missing, reason, data_dir) from e
    still = missing_files(folder)
    if still:
        raise _missing(folder, still, "torchvision fetched no such file.", data_dir)
    return folder


def _check(path: Path, name: str) -> np.ndarray:
    labels = "labels" in name
    count = COUNTS["train" if name.startswith("train") else "test"]
    data = read_bytes(path, limit=expected_size(labels, count))
    return parse_idx(path, data, labels=labels, count=count, sha256=SHA256[name])


def _check_or_explain(path: Path, name: str, problem: str, fix: str, where: Path | None = None) -> None:
    """`_check`, its error restated: `problem` with {problem} for what was wrong, and `fix`."""
    try:
        _check(path, name)
    except MNISTDataError as e:
        raise MNISTDataError(problem.format(problem=e.problem), fix, where) from None


@functools.lru_cache(maxsize=8)
def _load_checked(path: Path, name: str, mtime_ns: int, size: int) -> np.ndarray:
    # Keyed on mtime and size so that a replaced file is read and verified again.
    return _check(path, name)


def _load(folder: Path, name: str, given: str | os.PathLike[str] | None) -> tuple[Path, np.ndarray]:
    path = find_file(folder, name)
    if path is None:
        raise _missing(folder, [name], "the file disappeared.", given)
    stat = path.stat()
    return path, _load_checked(path.resolve(), name, stat.st_mtime_ns, stat.st_size)


def verify(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Check all four files (structure and sha256) and return where each one is."""
    folder = ensure_mnist(data_dir)
    return {name: _load(folder, name, data_dir)[0] for name in FILE_NAMES}


def load_file(
    file: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One of MNIST's two files, whole: (images uint8 [N, 28, 28], labels int64 [N]),
    verified. "train" holds 60,000 images, "test" 10,000."""
    if file not in FILES:
        raise ValueError(f"file must be one of {FILES}, got {file!r}")
    folder = ensure_mnist(data_dir)
    prefix = "train" if file == "train" else "t10k"
    images = _load(folder, f"{prefix}-images-idx3-ubyte", data_dir)[1]
    labels = _load(folder, f"{prefix}-labels-idx1-ubyte", data_dir)[1]
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
    """Copy the four files from the folder `source` into the data folder, each checked
    first; one already there is kept if it checks out and replaced if not. Atomic writes."""
    src, dst = Path(source), resolve_data_dir(data_dir)
    if not src.is_dir():
        raise MNISTFilesMissing("is not a folder.", "give the folder that holds the four MNIST files.", src)
    sources = {name: find_file(src, name) for name in FILE_NAMES}
    missing = [name for name, path in sources.items() if path is None]
    if missing:
        raise MNISTFilesMissing(
            f"lacks {', '.join(missing)} (raw or .gz): nothing was copied.",
            "give the folder that holds all four MNIST files.",
            src,
        )
    for name, path in sources.items():  # every source checked before anything is copied
        _check_or_explain(
            path,
            name,
            "cannot be used: {problem} Nothing was copied.",
            f"replace {path.name} in {src} with a good copy of the original file (its "
            "sha256 is in mnist_lib/data.py), then run this again.",
            path,
        )
    try:
        dst.mkdir(parents=True, exist_ok=True)
        for name, path in sources.items():
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
