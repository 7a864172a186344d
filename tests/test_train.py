"""The training loop, recipes, devices, histories and checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from mnist_lib import batches, checkpoint
from mnist_lib.checkpoint import load_checkpoint, save_checkpoint
from mnist_lib.history import History
from mnist_lib.models import LeNet5
from mnist_lib.train import DeviceUnavailable, Recipe, select_device, train_model


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(epochs=-3), "epochs must be a positive integer"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(lr=0.0), "lr must be positive"),
        (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
        (dict(schedule="cosine"), "unknown schedule 'cosine'"),
        (dict(label_smoothing=1.0), "label_smoothing must be in"),
        (dict(weight_decay=-1.0), "weight_decay must be >= 0"),
    ],
)
def test_bad_recipes_fail_at_construction(kwargs, message):
    values = dict(epochs=1, batch_size=64, lr=1e-3) | kwargs
    with pytest.raises(ValueError, match=message):
        Recipe(**values)


def test_bad_parameters_fail_before_any_data_is_read(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("data was read before the parameters were checked")

    monkeypatch.setattr(batches, "load_split", forbidden)
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        train_model("vgg")
    with pytest.raises(ValueError, match="bad arguments for lenet5"):
        train_model("lenet5", model_kwargs={"dropuot": 0.5})
    with pytest.raises(ValueError, match="resize must be one of"):
        train_model("lenet5", resize="crop")
    with pytest.raises(ValueError, match="train_limit must be positive"):
        train_model("mlp", train_limit=0)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="CUDA was requested"):
            train_model("mlp", device="cuda")


def test_device_selection():
    assert select_device("cpu") == torch.device("cpu")
    auto = select_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert auto.type == expected and select_device(None) == auto
    with pytest.raises(DeviceUnavailable, match="not a device name"):
        select_device("banana")
    if not torch.backends.mps.is_available():
        with pytest.raises(DeviceUnavailable, match="MPS was requested"):
            select_device("mps")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="Ask for device 'auto' or 'cpu'"):
            select_device("cuda:0")


def test_training_is_reproducible_on_the_cpu(data_dir):
    recipe = Recipe(epochs=2, batch_size=128, lr=3e-3)
    runs = [train_model("lenet5", recipe, device="cpu", seed=7, train_limit=1024, log=None)
            for _ in range(2)]
    (m1, h1), (m2, h2) = runs
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert h1.column("test_acc") == h2.column("test_acc")
    _, h3 = train_model("lenet5", recipe, device="cpu", seed=8, train_limit=1024, log=None)
    assert h3.column("train_loss") != h1.column("train_loss")


def test_history_has_every_column_and_metadata(data_dir):
    lines = []
    _, history = train_model("mlp", Recipe(epochs=2, batch_size=256, lr=3e-3),
                             device="cpu", train_limit=2048, log=lines.append)
    assert [r["epoch"] for r in history.rows] == [1, 2]
    assert set(history.rows[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
    assert all(0 <= r["test_acc"] <= 100 and r["seconds"] > 0 for r in history.rows)
    assert history.meta["parameters"] == 61_699 and history.meta["device"] == "cpu"
    assert len(lines) == 2 and "mlp epoch  2/2" in lines[1] and "test loss" in lines[1]


def test_reported_training_loss_is_plain_cross_entropy_even_with_label_smoothing(data_dir):
    import torch.nn.functional as F

    from mnist_lib.batches import mnist_batches
    from mnist_lib.models import CustomMLP
    from mnist_lib.train import evaluate, fit

    torch.manual_seed(0)
    model = CustomMLP()
    with torch.no_grad():
        model.layers[-1].weight.mul_(50)  # confident predictions: smoothing then matters
    train = mnist_batches("train", 256, shuffle=False, limit=1024, data_dir=data_dir)
    frozen = Recipe(epochs=1, batch_size=256, lr=1e-12, optimizer="sgd", schedule="constant",
                    label_smoothing=0.2)  # the model does not move
    plain, _ = evaluate(model, train)
    smoothed = sum(F.cross_entropy(model(x), y, label_smoothing=0.2, reduction="sum").item()
                   for x, y in train) / train.num_samples
    history = fit(model, train, train, frozen)
    assert history.final["train_loss"] == pytest.approx(plain, rel=1e-4)
    assert smoothed != pytest.approx(plain, rel=1e-3)  # so the check above can tell them apart


def test_history_round_trips_through_json_and_csv(tmp_path):
    h = History(meta={"model": "mlp"})
    h.append(epoch=1, train_loss=0.5, train_acc=90.0, test_loss=0.4, test_acc=91.5, seconds=1.25)
    h.append(epoch=2, train_loss=0.3, train_acc=95.0, test_loss=0.2, test_acc=96.0, seconds=1.0)
    assert History.load(h.save(tmp_path / "h.json")) == h
    from_csv = History.load(h.save(tmp_path / "h.csv"))
    assert from_csv.rows == h.rows
    with pytest.raises(ValueError, match=".json or .csv"):
        h.save(tmp_path / "h.txt")
    with pytest.raises(ValueError, match="lacks"):
        h.append(epoch=3)


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    model = LeNet5(batch_norm=True)
    path = save_checkpoint(tmp_path / "m.pt", model, "lenet5", {"batch_norm": True}, {"seed": 1})
    raw = torch.load(path, weights_only=True)
    assert raw["model"] == "lenet5" and raw["meta"] == {"seed": 1}
    loaded, payload = load_checkpoint(path)
    assert not loaded.training
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_a_failed_checkpoint_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", LeNet5(), "lenet5")
    before = path.read_bytes()

    def broken_save(obj, f):
        with open(f, "wb") as out:
            out.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, LeNet5(), "lenet5")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_bad_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    for junk in (b"not a checkpoint", b'{"rows": []}'):  # e.g. a history.json given by mistake
        (tmp_path / "junk.pt").write_bytes(junk)
        with pytest.raises(ValueError, match="not a readable checkpoint.*Fix: give the model.pt") as err:
            load_checkpoint(tmp_path / "junk.pt")
        assert "weights_only" not in str(err.value)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by mnist_lib"):
        load_checkpoint(tmp_path / "other.pt")
    # a checkpoint of another architecture under the same name
    save_checkpoint(tmp_path / "bn.pt", LeNet5(batch_norm=True), "lenet5", {})
    with pytest.raises(ValueError, match="does not fit the 'lenet5' model"):
        load_checkpoint(tmp_path / "bn.pt")


def test_short_real_training_reaches_a_test_accuracy_floor(data_dir):
    """Two epochs of LeNet-5 on all 60,000 images, measured on all 10,000 test images."""
    model, history = train_model("lenet5", Recipe(epochs=2, batch_size=128, lr=5e-3),
                                 device="cpu", seed=0, log=None)
    assert history.final["test_acc"] >= 98.5, history.rows
    json.dumps(history.meta)  # metadata is plain JSON


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os
    import stat

    path = save_checkpoint(tmp_path / "m.pt", LeNet5(), "lenet5")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_writes_reach_the_disk_before_the_rename(tmp_path, monkeypatch):
    import os

    from mnist_lib import atomic

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    with atomic.atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("{}")
    assert events == ["fsync", "replace"] and (tmp_path / "x.json").read_text() == "{}"
