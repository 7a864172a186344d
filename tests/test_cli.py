"""The command line, run as a user would: `python -m mnist_lib ...`."""

from __future__ import annotations

import subprocess
import sys

import pytest


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_lib", *args], capture_output=True, text=True, timeout=600, **kwargs
    )


def test_data_command_checks_all_four_files(data_dir):
    result = cli("data", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok  ") == 4


def test_data_command_offline_says_what_to_do(tmp_path):
    # an unreachable proxy stands in for a machine without internet
    env = {
        "PATH": "/usr/bin:/bin",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    result = cli("data", "--data-dir", str(tmp_path / "empty"), env=env)
    assert result.returncode == 2
    assert "MNIST files not found" in result.stderr and "Fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any((tmp_path / "empty").rglob("*ubyte*"))


@pytest.mark.parametrize("model, epochs", [("mlp", "2"), ("lenet5", "1")])
def test_train_then_evaluate(tmp_path, data_dir, model, epochs):
    out = tmp_path / "run"
    result = cli(
        "train",
        "--model",
        model,
        "--epochs",
        epochs,
        "--batch-size",
        "256",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert f"{model} epoch  {epochs}/{epochs}" in result.stdout and "test accuracy" in result.stdout
    for name in ("run.json", "history.csv", "model.pt", "curves.png"):
        assert (out / name).stat().st_size > 0
    final = result.stdout.split("test accuracy ")[1].split("%")[0]
    for target in (out, out / "model.pt"):
        evaluated = cli("evaluate", str(target), "--device", "cpu")
        assert evaluated.returncode == 0, evaluated.stderr
        assert f"test accuracy {final}%" in evaluated.stdout


def test_help_lists_every_command():
    result = cli("--help")
    for command in ("data", "train", "evaluate", "tutorial"):
        assert f"    {command}" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--model", "mlp", "--epochs", "0"], "must be a positive integer"),
        (["train", "--model", "mlp", "--epochs", "ten"], "must be a positive integer, got 'ten'"),
        (
            ["train", "--model", "mlp", "--out", "/proc/forbidden/run"],
            "/proc/forbidden: cannot write results here",
        ),
        (["train", "--model", "mlp", "--lr", "inf"], "argument --lr: must be a finite number"),
        (["train", "--model", "mlp", "--seed", str(2**70)], "argument --seed: must be an integer"),
        (
            ["tutorial", "--only", "03", "-p", "NOPE", "1"],
            "no selected notebook has the parameter(s) ['NOPE']",
        ),
        (["tutorial", "--only", "03", "-p", "SEED", "one"], "parameter SEED must be int, got 'one'"),
        (
            ["tutorial", "--only", "03", "-p", "SEED", str(10**23)],
            f"parameter SEED must be an integer from 0 to 2**63 - 1, got '{10**23}'",
        ),
        (
            ["tutorial", "--only", "03", "--out", "/proc/forbidden"],
            "/proc/forbidden: cannot make the output folder",
        ),
        (["train", "--model", "mlp", "--batch-size", "-5"], "must be a positive integer"),
        (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
        (["train", "--model", "mlp", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["train", "--model", "mlp", "--label-smoothing", "2"], "label_smoothing must be a finite number"),
        (["evaluate", "nowhere.pt"], "nowhere.pt: no such checkpoint"),
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


def test_site_script_refuses_an_unwritable_folder():
    """`python site/build.py` (= make site), the script beside the package, fails as the
    command line does: one line, exit status 2."""
    from mnist_lib.paths import repo_root

    result = subprocess.run(
        [sys.executable, str(repo_root() / "site" / "build.py"), "--out", "/proc/forbidden"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    assert "/proc/forbidden: cannot make the output folder" in result.stderr
    assert "Traceback" not in result.stderr
