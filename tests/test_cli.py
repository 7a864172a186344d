"""The command line, run as a user would: `python -m mnist_lib ...`."""

from __future__ import annotations

import subprocess
import sys

import pytest


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_lib", *args],
                          capture_output=True, text=True, timeout=600, **kwargs)


def test_data_command_checks_all_four_files(data_dir):
    result = cli("data", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok  ") == 4


def test_data_command_offline_says_what_to_do(tmp_path):
    # an unreachable proxy stands in for a machine without internet
    env = {"PATH": "/usr/bin:/bin", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": ""}
    result = cli("data", "--data-dir", str(tmp_path / "empty"), env=env)
    assert result.returncode == 2
    assert "MNIST files not found" in result.stderr and "Fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any((tmp_path / "empty").rglob("*ubyte*"))


@pytest.mark.parametrize("model, epochs", [("mlp", "2"), ("lenet5", "1")])
def test_train_then_evaluate(tmp_path, data_dir, model, epochs):
    out = tmp_path / "run"
    result = cli("train", "--model", model, "--epochs", epochs, "--batch-size", "256",
                 "--device", "cpu", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"{model} epoch  {epochs}/{epochs}" in result.stdout and "final test accuracy" in result.stdout
    for name in ("history.json", "history.csv", "model.pt", "curves.png"):
        assert (out / name).stat().st_size > 0
    evaluated = cli("evaluate", str(out / "model.pt"), "--device", "cpu")
    assert evaluated.returncode == 0, evaluated.stderr
    final = result.stdout.split("final test accuracy ")[1].split("%")[0]
    assert f"test accuracy {final}%" in evaluated.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--model", "mlp", "--epochs", "0"], "must be a positive integer"),
        (["train", "--model", "mlp", "--epochs", "ten"], "must be a positive integer, got 'ten'"),
        (["train", "--model", "mlp", "--out", "/proc/forbidden"], "cannot write results to /proc/forbidden"),
        (["train", "--model", "mlp", "--batch-size", "-5"], "must be a positive integer"),
        (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
        (["train", "--model", "mlp", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["train", "--model", "mlp", "--label-smoothing", "2"], "label_smoothing must be in"),
        (["evaluate", "nowhere.pt"], "no checkpoint at nowhere.pt"),
    ],
)
def test_bad_arguments_fail_fast_with_a_message(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("train", "--model", "mlp", "--device", "cuda")
    assert result.returncode == 2 and "CUDA was requested" in result.stderr
