"""The data folder, the IDX checks and every kind of bad input."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import torch

from mnist_lib import data
from mnist_lib.data import (
    MNISTFilesMissing,
    ensure_mnist,
    find_file,
    load_split,
)
from mnist_lib.errors import MNISTDataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def raw_bytes(data_dir: Path, name: str) -> bytes:
    path = find_file(data_dir, name)
    assert path is not None
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def test_real_data_loads_with_known_counts_and_statistics(data_dir):
    images, labels = data.load_file("train", data_dir)
    assert images.shape == (60_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60_000,) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == TRAIN_COUNTS
    pixels = images.double() / 255
    assert round(pixels.mean().item(), 4) == data.TRAIN_MEAN
    assert round(pixels.std().item(), 4) == data.TRAIN_STD
    test_images, test_labels = load_split("test", data_dir)
    assert test_images.shape == (10_000, 28, 28)
    assert torch.bincount(test_labels).tolist() == TEST_COUNTS


def test_the_validation_split_is_every_12th_training_image(data_dir):
    images, labels = data.load_file("train", data_dir)
    train, val = load_split("train", data_dir), load_split("val", data_dir)
    assert len(train[1]) == 55_000 and len(val[1]) == 5_000
    assert torch.equal(val[0], images[11::12]) and torch.equal(val[1], labels[11::12])
    assert torch.equal(torch.bincount(train[1]) + torch.bincount(val[1]), torch.tensor(TRAIN_COUNTS))


def test_files_in_torchvision_layout_and_raw_or_gz_are_found(tmp_path, data_dir):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(raw_bytes(data_dir, "t10k-labels-idx1-ubyte"))
    assert find_file(tmp_path, "t10k-labels-idx1-ubyte") == raw / "t10k-labels-idx1-ubyte"
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"x")
    # the folder itself comes before MNIST/raw
    assert find_file(tmp_path, "t10k-labels-idx1-ubyte") == tmp_path / "t10k-labels-idx1-ubyte.gz"


def test_missing_files_without_network_say_where_to_put_them(tmp_path, monkeypatch):
    def no_network(folder):
        # torchvision's own message: the reason comes on the lines after the first
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\nTried https://"
            "ossci-datasets.s3.amazonaws.com/mnist/, got:\n<urlopen error [Errno -3] "
            "Temporary failure in name resolution>\n"
        )

    monkeypatch.setattr(data, "_download", no_network)
    with pytest.raises(MNISTFilesMissing) as err:
        load_split("train", tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message
    for name in data.FILE_NAMES:
        assert name in message
    assert "name resolution" in message
    assert "MNIST_DATA_DIR" not in message and "Fix" in message  # the folder was given
    assert f"python -m mnist_lib data --from FOLDER --data-dir {tmp_path}" in message


def test_a_data_folder_from_the_environment_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTFilesMissing) as err:
        ensure_mnist(download=False)
    assert f"not found in {tmp_path} (the folder MNIST_DATA_DIR names)" in str(err.value)
    assert "change MNIST_DATA_DIR" in str(err.value)


def test_a_failed_download_into_a_new_folder_leaves_no_folder(tmp_path, monkeypatch):
    def offline(url, target, deadline):
        target.write_bytes(b"half")  # a first chunk, then the connection broke
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(data, "_fetch", offline)
    with pytest.raises(MNISTFilesMissing, match="urlopen error"):
        ensure_mnist(tmp_path / "new")
    assert not (tmp_path / "new").exists()
    with pytest.raises(MNISTFilesMissing):  # every folder it made, not only the innermost
        ensure_mnist(tmp_path / "new" / "deeper" / "still")
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(MNISTFilesMissing):
        ensure_mnist(tmp_path / "kept")
    assert list((tmp_path / "kept").iterdir()) == []  # a folder the user made stays, empty


def test_download_false_reports_missing_files(tmp_path):
    with pytest.raises(MNISTFilesMissing, match="download was not allowed"):
        ensure_mnist(tmp_path, download=False)


def _fake_fetch(source: Path, damage: str | None = None):
    """A stand-in for `data._fetch` that 'downloads' the .gz files from a local folder."""

    def fetch(url: str, target: Path, deadline: float) -> None:
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        payload = raw_bytes(source, name)
        if name == damage:
            payload = payload[: len(payload) // 2]
        target.write_bytes(gzip.compress(payload, compresslevel=1))

    return fetch


def test_download_puts_verified_files_in_torchvision_layout(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(data, "_fetch", _fake_fetch(data_dir))
    folder = ensure_mnist(tmp_path / "fresh")
    for name in data.FILE_NAMES:
        assert find_file(folder, name) == folder / "MNIST" / "raw" / name
    assert [p.name for p in folder.iterdir()] == ["MNIST"]  # no temporary leftovers
    assert load_split("test", folder)[0].shape == (10_000, 28, 28)


def test_a_damaged_download_leaves_nothing_behind(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(data, "_fetch", _fake_fetch(data_dir, damage="train-images-idx3-ubyte"))
    target = tmp_path / "fresh"
    with pytest.raises(MNISTDataError, match="downloaded copy of train-images-idx3-ubyte is damaged") as err:
        ensure_mnist(target)
    assert ".mnist-download" not in str(err.value) and "Nothing was written" in str(err.value)
    assert data.missing_files(target) == list(data.FILE_NAMES)
    assert list(target.iterdir()) == []


@pytest.mark.parametrize(
    "name, damage, expected",
    [
        ("t10k-labels-idx1-ubyte", lambda b: b[:5], "truncated: an IDX labels file starts with an? 8-byte"),
        ("t10k-images-idx3-ubyte", lambda b: b[:100_000], "truncated: expected 7,840,016 bytes"),
        ("t10k-images-idx3-ubyte", lambda b: b + b"\0", "longer than its header says"),
        (
            "t10k-labels-idx1-ubyte",
            lambda b: (2051).to_bytes(4, "big") + b[4:],
            "wrong magic number: expected 2049",
        ),
        (
            "t10k-images-idx3-ubyte",
            lambda b: b[:4] + (9999).to_bytes(4, "big") + b[8:],
            "wrong image count: expected 10,000",
        ),
        ("t10k-images-idx3-ubyte", lambda b: b[:8] + (27).to_bytes(4, "big") + b[12:], "wrong image size"),
        ("t10k-labels-idx1-ubyte", lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "wrong checksum"),
    ],
    ids=["short-header", "truncated", "too-long", "magic", "count", "image-size", "checksum"],
)
def test_bad_files_get_a_clear_error_naming_file_and_fix(data_copy, data_dir, name, damage, expected):
    folder = data_copy(**{name: damage(raw_bytes(data_dir, name))})
    with pytest.raises(MNISTDataError, match=expected) as err:
        load_split("test", folder)
    message = str(err.value)
    assert str(folder / name) in message
    assert "Fix:" in message
    # the command fills this folder, not the default one
    assert f"python -m mnist_lib data --data-dir {folder}`" in message


def test_swapped_train_and_test_labels_are_caught(data_copy, data_dir):
    folder = data_copy(**{"t10k-labels-idx1-ubyte": raw_bytes(data_dir, "train-labels-idx1-ubyte")})
    with pytest.raises(MNISTDataError, match="wrong label count: expected 10,000, the header says 60,000"):
        load_split("test", folder)


def test_truncated_gzip_is_reported_not_a_raw_traceback(data_copy, data_dir):
    good = gzip.compress(raw_bytes(data_dir, "t10k-labels-idx1-ubyte"))
    folder = data_copy()
    for link in folder.glob("t10k-labels-idx1-ubyte*"):
        link.unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(MNISTDataError, match="gzip stream is damaged or cut short"):
        load_split("test", folder)


def test_a_replaced_file_is_checked_again(data_copy, data_dir):
    name = "t10k-labels-idx1-ubyte"
    folder = data_copy(**{name: raw_bytes(data_dir, name)})
    assert load_split("test", folder)[1].shape == (10_000,)
    bad = bytearray(raw_bytes(data_dir, name))
    bad[-1] ^= 1
    (folder / name).write_bytes(bytes(bad))
    os.utime(folder / name, ns=(1, 1))  # a new mtime, as any real edit gives
    with pytest.raises(MNISTDataError, match="wrong checksum"):
        load_split("test", folder)


def test_unknown_split_is_an_error(data_dir):
    with pytest.raises(ValueError, match="split must be one of"):
        load_split("validation", data_dir)
    with pytest.raises(ValueError, match="file must be one of"):
        data.load_file("val", data_dir)


def test_copy_into_checks_and_copies_a_local_folder(tmp_path, data_dir):
    target = data.copy_into(data_dir, tmp_path / "copy")
    assert sorted(p.name.split(".")[0] for p in target.iterdir()) == sorted(data.FILE_NAMES)
    assert load_split("test", target)[0].shape == (10_000, 28, 28)


def test_copy_into_replaces_a_damaged_file_and_keeps_good_ones(tmp_path, data_dir):
    target = tmp_path / "copy"
    target.mkdir()
    (target / "t10k-labels-idx1-ubyte").write_bytes(b"garbage")
    data.copy_into(data_dir, target)
    assert load_split("test", target)[1].shape == (10_000,)
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    data.copy_into(data_dir, target)  # a second time: everything checks out, nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before


def test_copy_into_from_a_bad_source_copies_nothing(tmp_path, data_dir):
    with pytest.raises(MNISTFilesMissing, match="is not a folder"):
        data.copy_into(tmp_path / "nowhere", tmp_path / "copy")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "train-labels-idx1-ubyte").write_bytes(raw_bytes(data_dir, "train-labels-idx1-ubyte"))
    with pytest.raises(MNISTFilesMissing, match="lacks train-images-idx3-ubyte, t10k-images"):
        data.copy_into(partial, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in data.FILE_NAMES:
        payload = raw_bytes(data_dir, name)
        (damaged / name).write_bytes(payload[:-1] if name.startswith("t10k-labels") else payload)
    with pytest.raises(MNISTDataError, match="truncated") as err:
        data.copy_into(damaged, tmp_path / "copy2")
    assert "Nothing was copied" in str(err.value) and f"in {damaged} with a good copy" in str(err.value)
    assert "download" not in str(err.value)  # the user is copying because they are offline
    assert not (tmp_path / "copy2").exists()


def test_unreadable_file_is_a_clear_error(data_copy, data_dir, monkeypatch):
    import errno

    name = "t10k-labels-idx1-ubyte"
    folder = data_copy(**{name: raw_bytes(data_dir, name)})

    def denied(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", lambda self, *a, **k: denied(self))  # root reads anything
    with pytest.raises(MNISTDataError, match="cannot be read \\(Permission denied\\)"):
        load_split("test", folder)
