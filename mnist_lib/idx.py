"""Reading and checking the MNIST IDX files.

The IDX format is a big-endian header (magic number, then one 32-bit size per dimension)
followed by raw uint8 data. We parse it ourselves rather than through torchvision so that
every way a file can be wrong gets its own message that names the file and the fix.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from .errors import MNISTDataError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIDE = 28


def fix_for(path: Path) -> str:
    """What to do about a damaged data file."""
    folder = path.parent.parent.parent if path.parent.parts[-2:] == ("MNIST", "raw") else path.parent
    return (
        f"delete {path} and run `python -m mnist_lib data --data-dir {folder}` to download it again, "
        "or copy a good copy of the original file into its place."
    )


def expected_size(labels: bool, count: int) -> int:
    """Bytes of an uncompressed IDX file of `count` labels or 28x28 images."""
    return 8 + count if labels else 16 + count * IMAGE_SIDE * IMAGE_SIDE


def read_bytes(path: Path, limit: int) -> bytes:
    """The uncompressed bytes of `path` (gunzipped if .gz), at most `limit` + 1 of them: a
    file far larger than it should be (a gzip bomb) costs no more memory than the real one."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read(limit + 1)
        with path.open("rb") as f:
            return f.read(limit + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MNISTDataError(f"the gzip stream is damaged or cut short ({e}).", fix_for(path), path) from e
    except OSError as e:
        raise MNISTDataError(
            f"cannot be read ({e.strerror or e}).",
            "check that it is a readable file, or copy a good one into its place.",
            path,
        ) from e


def _check_header(path: Path, data: bytes, *, labels: bool, count: int, fix: str) -> int:
    """Check an IDX file's header (magic number, count, image size); return its length."""
    kind = "labels" if labels else "images"
    magic = LABELS_MAGIC if labels else IMAGES_MAGIC
    header = 8 if labels else 16
    if len(data) < header:
        raise MNISTDataError(
            f"file is truncated: an IDX {kind} file starts with a {header}-byte header, "
            f"found only {len(data)} bytes.",
            fix,
            path,
        )
    found_magic = int.from_bytes(data[0:4], "big")
    if found_magic != magic:
        other = {IMAGES_MAGIC: "an images file", LABELS_MAGIC: "a labels file"}.get(
            found_magic, "not an IDX file of MNIST"
        )
        raise MNISTDataError(
            f"wrong magic number: expected {magic} (IDX {kind}), found {found_magic} "
            f"({other}). Check that the file names were not swapped.",
            fix,
            path,
        )
    found_count = int.from_bytes(data[4:8], "big")
    if found_count != count:
        raise MNISTDataError(
            f"wrong {kind[:-1]} count: expected {count:,}, the header says {found_count:,}. "
            "The training files hold 60,000 items and the t10k files 10,000: check that "
            "train and test files were not swapped.",
            fix,
            path,
        )
    if not labels:
        rows = int.from_bytes(data[8:12], "big")
        cols = int.from_bytes(data[12:16], "big")
        if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
            raise MNISTDataError(
                f"wrong image size: expected 28x28, the header says {rows}x{cols}.", fix, path
            )
    return header


def parse_idx(path: Path, data: bytes, *, labels: bool, count: int, sha256: str) -> np.ndarray:
    """The checked contents of one IDX file: uint8 images (count, 28, 28) or labels (count,).
    Structural problems are reported first (they say more than a checksum), then the sha256."""
    fix = fix_for(path)
    header = _check_header(path, data, labels=labels, count=count, fix=fix)
    expected_len = expected_size(labels, count)
    if len(data) != expected_len:
        what = "truncated" if len(data) < expected_len else "longer than its header says"
        found = f"{len(data):,}" if len(data) <= expected_len else f"more than {expected_len:,}"
        raise MNISTDataError(
            f"file is {what}: expected {expected_len:,} bytes uncompressed, found {found}.", fix, path
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise MNISTDataError(
            f"wrong checksum: expected sha256 {sha256} of the uncompressed bytes, found "
            f"{digest}. The file is not the original MNIST file.",
            fix,
            path,
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    return array if labels else array.reshape(count, IMAGE_SIDE, IMAGE_SIDE)
