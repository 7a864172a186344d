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

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIDE = 28


class MNISTDataError(RuntimeError):
    """An MNIST file is missing, unreadable or not what it should be."""


def _fix(path: Path) -> str:
    return (
        f"Fix: delete {path} and run `python -m mnist_lib data` to download it again, "
        "or copy a good copy of the original file into its place."
    )


def read_bytes(path: Path) -> bytes:
    """Return the uncompressed bytes of `path` (gunzipped when it ends in .gz)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MNISTDataError(
            f"{path}: the gzip stream is damaged or cut short ({e}). {_fix(path)}"
        ) from e
    except OSError as e:
        raise MNISTDataError(f"{path}: cannot be read ({e.strerror or e}). Check that it is a "
                             "readable file, or point MNIST_DATA_DIR at a folder that holds one.") from e


def parse_idx(
    path: Path, data: bytes, *, labels: bool, count: int, sha256: str
) -> np.ndarray:
    """Check the bytes of one IDX file and return its contents as a uint8 array.

    Images come back as (count, 28, 28), labels as (count,). Structural problems are
    reported first (they say more than a checksum), then the sha256 of `data` is compared
    with the known value so that no silently altered file gets through.
    """
    kind = "labels" if labels else "images"
    magic = LABELS_MAGIC if labels else IMAGES_MAGIC
    header = 8 if labels else 16
    if len(data) < header:
        raise MNISTDataError(
            f"{path}: file is truncated: an IDX {kind} file starts with a {header}-byte "
            f"header, found only {len(data)} bytes. {_fix(path)}"
        )
    found_magic = int.from_bytes(data[0:4], "big")
    if found_magic != magic:
        other = {IMAGES_MAGIC: "an images file", LABELS_MAGIC: "a labels file"}.get(
            found_magic, "not an IDX file of MNIST"
        )
        raise MNISTDataError(
            f"{path}: wrong magic number: expected {magic} (IDX {kind}), found "
            f"{found_magic} ({other}). Check that the file names were not swapped. "
            f"{_fix(path)}"
        )
    found_count = int.from_bytes(data[4:8], "big")
    if found_count != count:
        raise MNISTDataError(
            f"{path}: wrong {kind[:-1]} count: expected {count:,}, the header says "
            f"{found_count:,}. The training files hold 60,000 items and the t10k files "
            f"10,000: check that train and test files were not swapped. {_fix(path)}"
        )
    if not labels:
        rows = int.from_bytes(data[8:12], "big")
        cols = int.from_bytes(data[12:16], "big")
        if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
            raise MNISTDataError(
                f"{path}: wrong image size: expected 28x28, the header says "
                f"{rows}x{cols}. {_fix(path)}"
            )
    per_item = 1 if labels else IMAGE_SIDE * IMAGE_SIDE
    expected_len = header + count * per_item
    if len(data) != expected_len:
        what = "truncated" if len(data) < expected_len else "longer than its header says"
        raise MNISTDataError(
            f"{path}: file is {what}: expected {expected_len:,} bytes uncompressed, "
            f"found {len(data):,}. {_fix(path)}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise MNISTDataError(
            f"{path}: wrong checksum: expected sha256 {sha256} of the uncompressed "
            f"bytes, found {digest}. The file is not the original MNIST file. {_fix(path)}"
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    return array if labels else array.reshape(count, IMAGE_SIDE, IMAGE_SIDE)
