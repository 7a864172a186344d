"""Faults a user meets, each with a message that names the thing and the fix.

Divergence, non-finite settings, a download that never answers, a gzip bomb, things that
are not MNIST files where MNIST files should be, and checkpoints that are not checkpoints.
Command-line cases run `python -m mnist_lib` in a child process, as a user would, and
check for one `error:` line, exit status 2 and no traceback.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mnist_lib import cli, data, paths, runs
from mnist_lib.errors import CheckpointError, ConfigError, MNISTDataError, MNISTFilesMissing, RunFolderError
from mnist_lib.history import History
from mnist_lib.idx import expected_size
from mnist_lib.models import ModelConfig
from mnist_lib.runs import Run, load_model, load_run, save_run, train_run
from mnist_lib.train import DEFAULT_RECIPES, Recipe

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_lib", *map(str, args)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess | tuple[int, str]) -> str:
    """The single `error:` line of a failed command (exit status 2, no traceback)."""
    status, stderr = (
        (result.returncode, result.stderr) if isinstance(result, subprocess.CompletedProcess) else result
    )
    assert status == 2, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def main_in_process(capsys, *args: str) -> tuple[int, str]:
    """`cli.main` in this process (so that monkeypatches apply): (status, stderr)."""
    status = cli.main([str(a) for a in args])
    return status, capsys.readouterr().err


# --- divergence and non-finite settings -------------------------------------------------


@pytest.mark.parametrize("option, rate", [("--lr", "1e+30"), ("--weight-decay", "0.2")])
def test_divergence_stops_with_the_epoch_and_the_rate_and_writes_nothing(tmp_path, data_dir, option, rate):
    out = tmp_path / "mlp"
    result = run_cli(
        "train",
        "--model",
        "mlp",
        "--epochs",
        "1",
        option,
        "1e30",
        "--device",
        "cpu",
        "--data-dir",
        data_dir,
        "--out",
        out,
    )
    line = one_error_line(result)
    assert "epoch 1" in line and "no longer numbers" in line
    assert f"lower the learning rate (it was {rate} at its peak)" in line
    assert not out.exists()
    assert {p.name for p in tmp_path.iterdir()} <= {".mlp.lock"}  # no state, no model.pt


@pytest.mark.parametrize(
    "option, value",
    [
        ("--lr", "inf"),
        ("--lr", "nan"),
        ("--lr", "-inf"),
        ("--weight-decay", "inf"),
        ("--label-smoothing", "nan"),
    ],
)
def test_non_finite_options_are_refused_before_anything_starts(tmp_path, option, value):
    # `--lr=-inf`: argparse takes a separate "-inf" for an option, not for a value
    result = run_cli("train", "--model", "mlp", f"{option}={value}", "--out", tmp_path / "mlp", timeout=60)
    assert result.returncode == 2
    assert f"argument {option}: must be a finite number, got '{value}'" in result.stderr
    assert "Traceback" not in result.stderr and "training" not in result.stdout
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("field", ["lr", "weight_decay", "label_smoothing"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_recipe_values_are_refused(field, value):
    with pytest.raises(ConfigError) as err:
        DEFAULT_RECIPES["mlp"].changed(**{field: value})
    assert f"{field} must be a finite number" in str(err.value)
    with pytest.raises(ConfigError):  # also when read back from a file
        Recipe.from_dict({**DEFAULT_RECIPES["mlp"].to_dict(), field: value})


def test_a_huge_seed_names_the_seed(tmp_path):
    result = run_cli("train", "--model", "mlp", "--seed", str(2**70), "--out", tmp_path / "x", timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument --seed: must be an integer from 0 to 2**63 - 1, got '{2**70}'" in result.stderr
    with pytest.raises(ConfigError, match="seed must be an integer"):
        train_run(
            tmp_path / "x", ModelConfig("mlp"), DEFAULT_RECIPES["mlp"], seed=2**70, device="cpu", log=None
        )
    assert not any(tmp_path.iterdir())


# --- no hangs, bounded reads --------------------------------------------------------------


@pytest.fixture
def silent_server():
    """A local port that accepts connections (the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    server.close()


@pytest.mark.parametrize("exists", [True, False])
def test_a_download_that_never_answers_times_out(tmp_path, monkeypatch, silent_server, exists):
    import torchvision.datasets

    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [silent_server])
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 1.0)
    folder = tmp_path / "data"
    if exists:
        folder.mkdir()
    start = time.monotonic()
    with pytest.raises(MNISTFilesMissing) as err:
        data.ensure_mnist(folder)
    assert time.monotonic() - start < 20
    assert "timed out" in str(err.value) and "Downloading them failed" in str(err.value)
    assert socket.getdefaulttimeout() is None  # the timeout does not outlive the download
    if exists:
        assert list(folder.iterdir()) == []
    else:
        assert not folder.exists()


def write_gzip_bomb(path: Path, uncompressed: int) -> None:
    """A .gz holding a valid t10k images header followed by `uncompressed` bytes of zeros,
    written member by member (gzip readers join members), never holding more than 64 MB."""
    header = (
        (2051).to_bytes(4, "big")
        + (10_000).to_bytes(4, "big")
        + (28).to_bytes(4, "big")
        + (28).to_bytes(4, "big")
    )
    chunk = 64 << 20
    member = gzip.compress(bytes(chunk), compresslevel=9, mtime=0)
    with path.open("wb") as f:
        f.write(gzip.compress(header, mtime=0))
        for _ in range(uncompressed // chunk):
            f.write(member)


MEASURE = """
import json, resource, sys
from mnist_lib import data
from mnist_lib.errors import MNISTDataError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    data.load_split("test", sys.argv[1])
    message = None
except MNISTDataError as e:
    message = str(e)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / 1024, "message": message}))
"""


def test_a_gzip_bomb_is_refused_without_reading_it_all(data_copy):
    folder = data_copy()
    name = "t10k-images-idx3-ubyte"
    (folder / f"{name}.gz").unlink(missing_ok=True)
    (folder / name).unlink(missing_ok=True)
    bomb = folder / f"{name}.gz"
    write_gzip_bomb(bomb, 1 << 30)  # 1 GiB of zeros in about 1 MB
    assert bomb.stat().st_size < 4 << 20
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder)],
        env=ENV,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["message"] is not None, "the bomb was accepted"
    assert "longer than its header says" in found["message"]
    assert f"more than {expected_size(False, 10_000):,}" in found["message"]
    assert name in found["message"] and "Fix:" in found["message"]
    assert found["growth_mb"] < 200, f"reading the bomb took {found['growth_mb']:.0f} MB"


# --- not a file where a file should be ------------------------------------------------------


def replace_with(folder: Path, name: str, make) -> Path:
    for existing in (folder / name, folder / f"{name}.gz"):
        existing.unlink(missing_ok=True)
    make(folder / name)
    return folder / name


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("folder", "is a folder, where the MNIST file t10k-labels-idx1-ubyte should be"),
        ("loop", "is a link that leads to no file, where the MNIST file t10k-labels-idx1-ubyte"),
    ],
)
def test_a_folder_or_a_link_loop_where_a_file_should_be(data_copy, monkeypatch, capsys, kind, expected):
    def never(folder):
        pytest.fail("a download was attempted")

    monkeypatch.setattr(data, "_download", never)
    folder = data_copy()
    make = (lambda p: p.mkdir()) if kind == "folder" else (lambda p: p.symlink_to(p.name))
    where = replace_with(folder, "t10k-labels-idx1-ubyte", make)
    with pytest.raises(MNISTDataError) as err:
        data.load_split("test", folder)
    assert not isinstance(err.value, MNISTFilesMissing)
    assert err.value.path == where and expected in err.value.problem
    assert "remove it" in err.value.fix
    line = one_error_line(main_in_process(capsys, "data", "--data-dir", folder))
    assert str(where) in line and expected in line


def test_data_dir_failures_name_the_folder_given_not_the_environment(tmp_path, monkeypatch, capsys):
    def offline(folder):
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\n<urlopen error "
            "[Errno -3] Temporary failure in name resolution>\n"
        )

    monkeypatch.setattr(data, "_download", offline)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    folder = tmp_path / "mine"
    for args in (
        ["data", "--data-dir", folder],
        ["train", "--model", "mlp", "--device", "cpu", "--data-dir", folder, "--out", tmp_path / "run"],
    ):
        line = one_error_line(main_in_process(capsys, *args))
        assert f"not found in {folder} (the folder given)" in line
        assert f"python -m mnist_lib data --data-dir {folder}`" in line
        assert f"--from FOLDER --data-dir {folder}`" in line
        assert data.DATA_DIR_ENV not in line
    assert not (tmp_path / "run").exists()
    # with no folder given, the environment variable is the way to point elsewhere
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)  # the default: tmp_path / "data"
    line = one_error_line(main_in_process(capsys, "data"))
    assert data.DATA_DIR_ENV in line and "--data-dir" not in line.split("Fix:")[1]


def test_data_from_into_an_unwritable_folder_is_one_line(data_dir, tmp_path, monkeypatch, capsys):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "atomic_path", refuse)
    target = tmp_path / "target"
    line = one_error_line(main_in_process(capsys, "data", "--from", data_dir, "--data-dir", target))
    assert f"{target}: cannot write the MNIST files here (Permission denied)" in line
    assert "give --data-dir a folder you can write to" in line
    assert data.DATA_DIR_ENV not in line
    assert not any(target.rglob("*ubyte*"))


def test_data_from_into_a_path_below_a_file_is_one_line(data_dir, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    result = run_cli("data", "--from", data_dir, "--data-dir", tmp_path / "file" / "mnist", timeout=120)
    line = one_error_line(result)
    assert "cannot write the MNIST files here" in line and str(tmp_path / "file" / "mnist") in line


# --- evaluate and checkpoints -----------------------------------------------------------


def untrained_run(folder: Path) -> Path:
    history = History()
    history.append(epoch=1, train_loss=2.3, train_acc=10.0, val_loss=2.3, val_acc=10.0, seconds=1.0)
    config = ModelConfig("mlp")
    torch.manual_seed(0)
    return save_run(
        folder,
        Run(config, DEFAULT_RECIPES["mlp"], 0, "resize", config.build(), history, 2.3, 10.0),
        plot=False,
    )


def test_evaluate_a_run_folder_and_a_folder_without_a_run(tmp_path, data_dir):
    folder = untrained_run(tmp_path / "run")
    result = run_cli("evaluate", folder, "--device", "cpu", "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert "mlp test loss" in result.stdout and "on 10,000 images" in result.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_error_line(run_cli("evaluate", empty, "--device", "cpu", timeout=60))
    assert f"{empty / 'model.pt'}: no such checkpoint" in line
    assert "give a run folder" in line


def crafted(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pt"
    good = ModelConfig("mlp").build().state_dict()
    payloads = {
        "config_a_list": {"config": ["mlp"], "resize": "resize", "state_dict": good},
        "state_dict_an_int": {"config": {"name": "mlp"}, "resize": "resize", "state_dict": 3},
        "hidden_an_int": {"config": {"name": "mlp", "hidden": 5}, "resize": "resize", "state_dict": good},
        "unknown_model": {"config": {"name": "resnet"}, "resize": "resize", "state_dict": good},
        "a_list": [1, 2, 3],
        "wrong_keys": {"config": {"name": "mlp"}, "resize": "resize", "state_dict": {"foo": torch.zeros(2)}},
    }
    if kind == "garbage":
        path.write_bytes(b"\x00not a checkpoint\xff" * 100)
    elif kind == "not_weights":  # a pickle that would run code when loaded unsafely
        path.write_bytes(pickle.dumps(Payload()))
    else:
        torch.save(payloads[kind], path)
    return path


class Payload:
    def __reduce__(self):
        return (print, ("the pickle ran",))


@pytest.mark.parametrize(
    "kind, expected",
    [
        (
            "config_a_list",
            "does not fit this version of mnist_lib: a model configuration is a dict, got list",
        ),
        ("state_dict_an_int", "does not fit this version of mnist_lib: its weights are not a state_dict"),
        ("hidden_an_int", "does not fit this version of mnist_lib"),
        ("unknown_model", "does not fit this version of mnist_lib: unknown model 'resnet'"),
        ("a_list", "not a checkpoint of this version of mnist_lib"),
        ("garbage", "not a readable checkpoint"),
        ("not_weights", "not a readable checkpoint"),
        ("wrong_keys", 'Missing key(s) in state_dict: "hidden.0.weight"'),
    ],
)
def test_crafted_checkpoints_are_one_line_errors(tmp_path, kind, expected):
    path = crafted(tmp_path, kind)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    assert expected in str(err.value) and err.value.path == path
    assert str(err.value).count("Fix:") == 1
    result = run_cli("evaluate", path, "--device", "cpu", timeout=60)
    line = one_error_line(result)
    assert line == f"error: {err.value}"
    assert "the pickle ran" not in result.stdout
    assert "weights_only=False" not in line  # torch's advice, unsafe for a file from elsewhere


def test_wrong_keys_keep_the_detail_on_one_line(tmp_path):
    path = crafted(tmp_path, "wrong_keys")
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    message = str(err.value)
    assert "\n" not in message
    assert 'Missing key(s) in state_dict: "hidden.0.weight"' in message
    assert 'Unexpected key(s) in state_dict: "foo"' in message


# --- nothing a user owns is replaced (issue 21) ------------------------------------------


def tiny_train(folder, data_dir, **kwargs) -> Run:
    return train_run(
        folder,
        ModelConfig("mlp"),
        DEFAULT_RECIPES["mlp"].changed(epochs=1),
        device="cpu",
        data_dir=data_dir,
        train_limit=500,
        plot=False,
        log=None,
        **kwargs,
    )


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every path under `folder` (links as links), with its bytes or its link target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = (
            os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else "dir"
        )
    return found


def users_things(tmp_path: Path, data_dir: Path) -> Path:
    """A runs/ folder as a user might have it: two finished runs, a README, notes."""
    runs_dir = tmp_path / "runs"
    tiny_train(runs_dir / "a", data_dir)
    shutil.copytree(runs_dir / "a", runs_dir / "b")
    (runs_dir / "README.md").write_text("my runs\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "ideas.txt").write_text("keep me\n")
    (tmp_path / "file.txt").write_text("a file\n")
    (tmp_path / "link").symlink_to(tmp_path / "notes")
    return runs_dir


@pytest.mark.parametrize("target", ["runs", "notes", "file.txt", "link", "runs/a/run.json"])
def test_train_out_never_replaces_what_is_not_a_run(tmp_path, data_dir, capsys, monkeypatch, target):
    users_things(tmp_path, data_dir)
    before = snapshot(tmp_path)
    with pytest.raises(RunFolderError) as err:
        tiny_train(tmp_path / target, data_dir)
    assert "left as it is" in err.value.problem and "--out" in err.value.fix
    monkeypatch.setattr(runs, "train_run", functools.partial(runs.train_run, train_limit=500))
    line = one_error_line(
        main_in_process(
            capsys,
            "train",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--data-dir",
            data_dir,
            "--out",
            tmp_path / target,
        )
    )
    assert "left as it is" in line
    after = snapshot(tmp_path)
    assert after == before


def test_a_link_to_a_run_folder_is_followed_and_stays_a_link(tmp_path, data_dir):
    tiny_train(tmp_path / "real", data_dir, seed=1)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    run = tiny_train(tmp_path / "link", data_dir, seed=2)
    assert (tmp_path / "link").is_symlink() and load_run(tmp_path / "link").seed == 2
    assert run.folder == tmp_path / "real"
    assert {p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")} == {"real", "link"}


@pytest.mark.parametrize("out", [".", "..", "../.."])
def test_out_the_working_folder_or_above_is_refused_before_any_work(
    tmp_path, data_dir, monkeypatch, capsys, out
):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    with pytest.raises(RunFolderError, match="the working folder or a folder above it"):
        tiny_train(out, data_dir)
    line = one_error_line(main_in_process(capsys, "train", "--model", "mlp", "--out", out))
    assert "the working folder or a folder above it" in line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("a"), Path("a/b")]


def test_resume_with_nothing_to_resume_is_refused_and_keeps_the_run(tmp_path, data_dir, capsys):
    folder = tmp_path / "mlp"
    tiny_train(folder, data_dir)
    before = snapshot(tmp_path)
    line = one_error_line(
        main_in_process(capsys, "train", "--model", "mlp", "--device", "cpu", "--out", folder, "--resume")
    )
    assert "nothing to resume" in line and "leave out --resume" in line
    assert snapshot(tmp_path) == before


FULL = "[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file data/0: file write failed"


@pytest.mark.parametrize(
    "failing_save, kept", [(1, "no epoch had been saved"), (2, "all 1 epochs are saved")]
)
def test_a_full_disk_while_saving_is_one_line_and_loses_nothing(
    tmp_path, data_dir, capsys, monkeypatch, failing_save, kept
):
    real_save, calls = torch.save, []

    def save(*args, **kwargs):  # the first torch.save is the state after epoch 1, the second model.pt
        calls.append(1)
        if len(calls) == failing_save:
            raise RuntimeError(FULL)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(runs, "train_run", functools.partial(runs.train_run, train_limit=500))
    out = tmp_path / "mlp"
    args = (
        "train",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--data-dir",
        data_dir,
        "--out",
        out,
    )
    line = one_error_line(main_in_process(capsys, *args))
    assert "could not be" in line and f"nothing is lost: {kept}" in line and "free some disk space" in line
    assert not out.exists()
    monkeypatch.setattr(torch, "save", real_save)
    resume = ("--resume",) if failing_save == 2 else ()
    assert main_in_process(capsys, *args, *resume)[0] == 0
    assert load_run(out).recipe.epochs == 1


def test_train_into_a_closed_pipe_finishes_the_run(tmp_path, data_dir):
    out = tmp_path / "mlp"
    code = (
        "import functools, sys\nfrom mnist_lib import runs\n"
        "runs.train_run = functools.partial(runs.train_run, train_limit=500)\n"
        "from mnist_lib.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    args = [
        "train",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--data-dir",
        data_dir,
        "--out",
        out,
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("training mlp")  # `| head -1`
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert load_run(out).history.final["epoch"] == 2


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda r: r["test"].update(loss=math.nan), "NaN is not a number in strict JSON"),
        (lambda r: r.update(format=2), "format 2, this version reads 1"),
    ],
    ids=["nan", "format"],
)
def test_load_run_refuses_nan_and_another_format(tmp_path, edit, expected):
    folder = untrained_run(tmp_path / "run")
    record = json.loads((folder / "run.json").read_text())
    edit(record)
    (folder / "run.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError) as err:
        load_run(folder)
    assert expected in str(err.value) and "damaged or of another version" in str(err.value)


HUGE = """
import resource, sys
from mnist_lib.runs import load_model
from mnist_lib.errors import CheckpointError
vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), vm + (1 << 30)))  # 1 GB more, no 14 GB
try:
    load_model(sys.argv[1])
except CheckpointError as e:
    print(e)
"""


def test_a_crafted_config_of_huge_layers_is_refused_before_it_is_built(tmp_path):
    path = tmp_path / "huge.pt"
    good = ModelConfig("mlp").build().state_dict()
    torch.save(
        {"config": {"name": "mlp", "hidden": [60000, 60000]}, "resize": "resize", "state_dict": good}, path
    )
    result = subprocess.run(
        [sys.executable, "-c", HUGE, str(path)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "size mismatch for hidden.0.weight" in result.stdout and "does not fit" in result.stdout


# --- downloads end, and leave nothing behind (issue 21) ----------------------------------


@pytest.fixture
def trickle_server():
    """A local HTTP server that promises 10 MB and sends one byte every 0.2 s; `.url`, and
    `.connected` (an Event) set once a client is being served."""
    import socketserver
    import threading

    connected = threading.Event()

    class Trickle(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
            connected.set()
            try:
                while not server.closing:
                    self.request.sendall(b"\x1f")
                    time.sleep(0.2)
            except OSError:
                pass  # the client gave up

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads, server.closing = True, False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    server.connected = connected
    yield server
    server.closing = True
    server.shutdown()
    server.server_close()


DATA_FROM = """
import sys, torchvision.datasets
torchvision.datasets.MNIST.mirrors = [sys.argv[1]]
from mnist_lib.cli import main
sys.exit(main(sys.argv[2:]))
"""


def data_from(url: str, folder: Path, deadline: str) -> subprocess.Popen:
    env = {**ENV, data.DOWNLOAD_DEADLINE_ENV: deadline, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return subprocess.Popen(
        [sys.executable, "-c", DATA_FROM, url, "data", "--data-dir", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_trickling_download_ends_at_its_deadline(tmp_path, trickle_server):
    folder = tmp_path / "mine"
    folder.mkdir()
    proc = data_from(trickle_server.url, folder, "2")
    try:
        _, stderr = proc.communicate(timeout=120)  # without a deadline it would never end
    finally:
        proc.kill()
    line = one_error_line((proc.returncode, stderr))
    assert "not complete after 2 s (the deadline per file; MNIST_DOWNLOAD_DEADLINE sets it)" in line
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_a_download_stopped_by_a_signal_leaves_nothing(tmp_path, trickle_server, signum, status):
    folder = tmp_path / "mine"
    folder.mkdir()
    proc = data_from(trickle_server.url, folder, "600")
    try:
        assert trickle_server.connected.wait(60), "the download never started"
        assert [p.name[:15] for p in folder.iterdir()] == [".mnist-download"]
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert list(folder.iterdir()) == []


def test_a_download_deadline_that_is_not_a_number_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(data.DOWNLOAD_DEADLINE_ENV, "soon")
    line = one_error_line(main_in_process(capsys, "data", "--data-dir", tmp_path / "new"))
    assert "MNIST_DOWNLOAD_DEADLINE must be a positive number of seconds, got 'soon'" in line
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_a_device_where_a_file_should_be_is_named_as_such(data_copy, capsys, kind):
    folder = data_copy()
    make = (lambda p: os.mkfifo(p)) if kind == "fifo" else (lambda p: p.symlink_to("/dev/zero"))
    where = replace_with(folder, "t10k-labels-idx1-ubyte", make)
    line = one_error_line(main_in_process(capsys, "data", "--data-dir", folder))
    assert f"{where}: is not a regular file (a pipe, device or socket)" in line
    assert f"python -m mnist_lib data --data-dir {folder}`" in line


def test_a_data_folder_of_an_unknown_users_home_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv(data.DATA_DIR_ENV, "~nosuchuser21/x")
    line = one_error_line(main_in_process(capsys, "data"))
    assert "~nosuchuser21/x starts with ~ of an unknown user" in line
    line = one_error_line(main_in_process(capsys, "data", "--data-dir", "~nosuchuser21/y"))
    assert "~nosuchuser21/y starts with ~ of an unknown user" in line
