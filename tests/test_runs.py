"""Run folders: written whole or not at all, locked while training, resumable after a kill.

The crash tests kill real processes (SIGKILL, or `os._exit` at a chosen point of the
write) and check what a reader finds afterwards; training is kept to a few seconds with
`train_limit`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from mnist_lib import runs
from mnist_lib.errors import CheckpointError, RunFolderError, TrainingDiverged
from mnist_lib.history import COLUMNS, History
from mnist_lib.models import ModelConfig
from mnist_lib.runs import Run, load_run, save_run, train_run
from mnist_lib.train import DEFAULT_RECIPES

RUN_FILES = {"run.json", "history.csv", "model.pt", "curves.png"}
# One thread in every child process: less contention on a small machine, and the same
# arithmetic in the interrupted, resumed and uninterrupted runs (the spec records it).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def siblings(folder: Path) -> set[str]:
    """What lies beside (and including) the run folder, lock files left out."""
    return {
        p.name for p in folder.parent.iterdir() if not (p.name.startswith(".") and p.name.endswith(".lock"))
    }


def python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- training in a child process --------------------------------------------------------

TRAIN = """
import json, sys
from mnist_lib.models import ModelConfig
from mnist_lib.runs import train_run
from mnist_lib.train import DEFAULT_RECIPES
a = json.loads(sys.argv[1])
recipe = DEFAULT_RECIPES[a["model"]].changed(epochs=a["epochs"])
run = train_run(a["folder"], ModelConfig(a["model"]), recipe, device="cpu", seed=a["seed"],
                data_dir=a["data_dir"], train_limit=a["limit"], resume=a["resume"],
                plot=a["plot"], log=lambda line: print(line, flush=True))
print("resumed after epoch", run.meta["resumed_after_epoch"], flush=True)
"""


def train_args(
    folder: Path, data_dir: Path, *, model="lenet5", epochs=3, limit=2000, seed=0, resume=False, plot=False
) -> str:
    return json.dumps(
        {
            "folder": str(folder),
            "data_dir": str(data_dir),
            "model": model,
            "epochs": epochs,
            "limit": limit,
            "seed": seed,
            "resume": resume,
            "plot": plot,
        }
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the training ended before {path.name} appeared:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


def saved_epochs(state: Path) -> int:
    return len(torch.load(state, weights_only=True)["rows"])


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "model.pt", weights_only=True)["state_dict"]


def rows_without_seconds(folder: Path) -> list[dict]:
    rows = strict_json((folder / "run.json").read_text())["history"]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


# --- a finished run, shared by the tests that only read it ------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_dir) -> Path:
    """A small finished MLP run (one epoch on 500 images), curves included."""
    folder = tmp_path_factory.mktemp("finished") / "mlp"
    train_run(
        folder,
        ModelConfig("mlp"),
        DEFAULT_RECIPES["mlp"].changed(epochs=1),
        device="cpu",
        data_dir=data_dir,
        train_limit=500,
        log=None,
    )
    return folder


def test_a_finished_run_is_four_files_and_nothing_else_beside_it(finished):
    assert {p.name for p in finished.iterdir()} == RUN_FILES
    assert all((finished / name).stat().st_size > 0 for name in RUN_FILES)
    assert siblings(finished) == {finished.name}  # no .partial, no .new-/.old-, no .tmp
    assert (finished.parent / f".{finished.name}.lock").exists()


def test_run_json_is_strict_json_and_loads_back(finished):
    record = strict_json((finished / "run.json").read_text())
    assert record["format"] == runs.FORMAT and record["config"]["name"] == "mlp"
    assert [r["epoch"] for r in record["history"]] == [1]
    run = load_run(finished)
    assert run.config == ModelConfig("mlp") and run.recipe.epochs == 1
    assert run.test_acc == record["test"]["acc"]
    header = (finished / "history.csv").read_text().splitlines()[0]
    assert header.split(",") == list(COLUMNS)


def test_save_run_refuses_nan_and_leaves_the_old_run(finished, tmp_path):
    folder = tmp_path / "mlp"
    shutil.copytree(finished, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    run = load_run(folder)
    run.test_loss = float("nan")
    with pytest.raises(ValueError):
        save_run(folder, run, plot=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert siblings(folder) == {"mlp"}


def test_a_diverging_run_keeps_the_old_run_and_leaves_no_state(finished, tmp_path, data_dir):
    folder = tmp_path / "mlp"
    shutil.copytree(finished, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(TrainingDiverged) as err:
        train_run(
            folder,
            ModelConfig("mlp"),
            DEFAULT_RECIPES["mlp"].changed(epochs=1, lr=1e30),
            device="cpu",
            data_dir=data_dir,
            train_limit=2000,
            log=None,
        )
    assert "epoch 1" in err.value.problem and "1e+30" in err.value.fix
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert siblings(folder) == {"mlp"}


# --- crashes while a run is written -----------------------------------------------------

SAVE = """
import os, sys, torch
from mnist_lib import runs
from mnist_lib.history import History
from mnist_lib.models import ModelConfig
from mnist_lib.runs import Run, save_run
from mnist_lib.train import DEFAULT_RECIPES
folder, seed, crash = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if crash == "write":      # in the middle of writing the new folder
    torch.save = lambda *a, **k: os._exit(9)
elif crash == "between":  # the old folder set aside, the new one not yet in its place
    rename = os.rename
    def rename_then_die(a, b):
        rename(a, b)
        if ".old-" in str(b):
            os._exit(9)
    os.rename = rename_then_die
elif crash == "after":    # the new folder in place, the old one not yet deleted
    runs.fsync_folder = lambda folder: os._exit(9)
h = History()
h.append(epoch=1, train_loss=1.0, train_acc=50.0, val_loss=1.0, val_acc=50.0, seconds=1.0)
config = ModelConfig("mlp")
save_run(folder, Run(config, DEFAULT_RECIPES["mlp"], seed, "resize", config.build(), h, 1.0, 50.0,
                     {"marker": seed}), plot=False)
"""


def saved_seed(folder: Path) -> int:
    return strict_json((folder / "run.json").read_text())["seed"]


@pytest.mark.parametrize("crash, survivor", [("write", 1), ("between", 1), ("after", 2)])
def test_a_crash_while_saving_leaves_the_old_or_the_new_run_whole(tmp_path, crash, survivor):
    folder = tmp_path / "run"
    assert python(SAVE, str(folder), "1", "none").returncode == 0
    result = python(SAVE, str(folder), "2", crash)
    assert result.returncode == 9, result.stderr  # it did die at that point
    run = load_run(folder)  # a reader finds one whole run, old or new
    assert run.seed == survivor and run.meta["marker"] == survivor
    assert {p.name for p in folder.iterdir()} == {"run.json", "history.csv", "model.pt"}
    # The next write clears whatever the crash left beside the folder.
    assert python(SAVE, str(folder), "3", "none").returncode == 0
    assert saved_seed(folder) == 3
    assert siblings(folder) == {"run"}, "temporary folders survived the crash"


def test_a_crash_while_writing_the_finished_run_resumes_without_training_again(finished, tmp_path, data_dir):
    folder = tmp_path / "mlp"
    shutil.copytree(finished, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # die while the curves are drawn: run.json and model.pt of the new run already written
    crash = "import os, mnist_lib.plots as p; p.save_figure = lambda *a, **k: os._exit(9)\n" + TRAIN
    args = train_args(folder, data_dir, model="mlp", epochs=1, limit=500, seed=7, plot=True)
    result = python(crash, args)
    assert result.returncode == 9, result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the old run, intact
    assert siblings(folder) <= {"mlp", ".mlp.partial"}
    result = python(
        TRAIN, train_args(folder, data_dir, model="mlp", epochs=1, limit=500, seed=7, plot=True, resume=True)
    )
    assert result.returncode == 0, result.stderr
    assert "resumed after epoch 1" in result.stdout  # the finished epoch was not trained again
    assert {p.name for p in folder.iterdir()} == RUN_FILES
    assert saved_seed(folder) == 7
    assert siblings(folder) == {"mlp"}


# --- kill, lock and resume --------------------------------------------------------------


def test_a_killed_run_resumes_to_the_same_weights_and_history(tmp_path, data_dir):
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    partial, state = tmp_path / ".resumed.partial", tmp_path / ".resumed.partial" / "state.pt"

    def train_here() -> None:
        """The same run, in this process: refused while the child holds it or has saved it."""
        train_run(
            resumed,
            ModelConfig("lenet5"),
            DEFAULT_RECIPES["lenet5"].changed(epochs=3),
            device="cpu",
            data_dir=data_dir,
            train_limit=2000,
            log=None,
        )

    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN, train_args(resumed, data_dir)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(state, proc)
        # While it trains, a second training aimed at the same folder is refused at once.
        with pytest.raises(RunFolderError) as err:
            train_here()
        assert "another training is writing this run folder" in str(err.value)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    epochs = saved_epochs(state)
    assert 1 <= epochs < 3, f"killed after {epochs} epochs"
    assert not resumed.exists()
    assert siblings(resumed) == {".resumed.partial"}
    # A kill in the middle of the next save would have left its temporary file there.
    (partial / ".state.pt.abc123.tmp").write_bytes(b"half a state")

    # Without --resume, the saved state is not thrown away silently.
    with pytest.raises(RunFolderError) as err:
        train_here()
    assert "--resume" in str(err.value) and state.is_file()

    result = python(TRAIN, train_args(resumed, data_dir, resume=True))
    assert result.returncode == 0, result.stderr
    assert f"resuming after epoch {epochs} of 3" in result.stdout
    assert f"resumed after epoch {epochs}" in result.stdout
    result = python(TRAIN, train_args(full, data_dir))
    assert result.returncode == 0, result.stderr

    assert {p.name for p in resumed.iterdir()} == {"run.json", "history.csv", "model.pt"}
    assert siblings(resumed) == {"full", "resumed"}
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resuming"
    assert rows_without_seconds(full) == rows_without_seconds(resumed)
    assert load_run(full).test_acc == load_run(resumed).test_acc
    assert load_run(full).history.steps == load_run(resumed).history.steps  # the finer curve too


# Ctrl-C through the command line. The CLI has no option to train on part of the data, so
# the child runs the CLI's own `main` with `train_run` given a train_limit of 2000.
CLI_LIMITED = """
import functools, sys
from mnist_lib import runs
runs.train_run = functools.partial(runs.train_run, train_limit=2000)
from mnist_lib.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_says_what_was_saved_and_how_to_resume(tmp_path, data_dir):
    out = tmp_path / "lenet5"
    state = tmp_path / ".lenet5.partial" / "state.pt"
    command = [
        sys.executable,
        "-c",
        CLI_LIMITED,
        "train",
        "--model",
        "lenet5",
        "--epochs",
        "3",
        "--device",
        "cpu",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(state, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    epochs = saved_epochs(state)
    assert f"epochs 1-{epochs}" in lines[0] and ".lenet5.partial" in lines[0]
    assert "--resume" in lines[0]
    assert not out.exists()

    result = subprocess.run(
        command + ["--resume"], env=ENV, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert f"resuming after epoch {epochs} of 3" in result.stdout
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert siblings(out) == {"lenet5"}


def test_resuming_with_other_settings_is_refused(tmp_path, data_dir):
    folder = tmp_path / "run"
    partial = tmp_path / ".run.partial"
    partial.mkdir()
    torch.save({"spec": {"seed": 99}, "rows": []}, partial / "state.pt")
    with pytest.raises(RunFolderError) as err:
        train_run(
            folder,
            ModelConfig("mlp"),
            DEFAULT_RECIPES["mlp"],
            device="cpu",
            data_dir=data_dir,
            resume=True,
            log=None,
        )
    assert "other settings" in str(err.value)
    assert (partial / "state.pt").is_file() and not folder.exists()


def test_load_run_on_a_folder_without_a_run_says_so(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_run(tmp_path / "nothing")
    assert "no finished run here (no run.json)" in str(err.value)
    assert "resume" not in str(err.value)
    partial = tmp_path / ".nothing.partial"
    partial.mkdir()  # what a run stopped before its first epoch leaves: nothing to resume
    with pytest.raises(CheckpointError) as err:
        load_run(tmp_path / "nothing")
    assert "resume" not in str(err.value)
    torch.save({"rows": [{}]}, partial / "state.pt")
    with pytest.raises(CheckpointError) as err:
        load_run(tmp_path / "nothing")
    assert "interrupted run is saved beside it" in str(err.value)


def test_reuse_loads_a_finished_run_of_the_same_spec(finished, data_dir):
    lines: list[str] = []
    run = train_run(
        finished,
        ModelConfig("mlp"),
        DEFAULT_RECIPES["mlp"].changed(epochs=1),
        device="cpu",
        data_dir=data_dir,
        train_limit=500,
        reuse=True,
        log=lines.append,
    )
    assert "loaded the finished run" in lines[0]
    assert isinstance(run, Run) and run.folder == finished
    assert run.history.rows == History(rows=load_run(finished).history.rows).rows


# Every reader restores a run whose final write was killed, the same way (issue 21).
KILLED_AFTER_STATE_DELETED = "import os, mnist_lib.runs as r; r._swap_in = lambda *a: os._exit(9)\n" + TRAIN


@pytest.mark.parametrize("reader", ["load_run", "load_model", "evaluate"])
@pytest.mark.parametrize("crash", ["state deleted", "between renames"])
def test_every_reader_restores_a_run_whose_final_write_was_killed(
    finished, tmp_path, data_dir, reader, crash
):
    folder = tmp_path / "mlp"
    shutil.copytree(finished, folder)
    if crash == "state deleted":  # the new run complete in .mlp.partial, its state gone
        args = train_args(folder, data_dir, model="mlp", epochs=1, limit=500, seed=7)
        assert python(KILLED_AFTER_STATE_DELETED, args).returncode == 9
        assert not (tmp_path / ".mlp.partial" / "state.pt").exists()
        survivor = 7
    else:  # the old run set aside, the new one not yet in its place
        assert python(SAVE, str(folder), "7", "between").returncode == 9
        assert not folder.exists()
        survivor = 0  # the old run comes back
    if reader == "evaluate":
        command = [sys.executable, "-m", "mnist_lib", "evaluate", str(folder), "--device", "cpu"]
        result = subprocess.run(
            command + ["--data-dir", str(data_dir)], env=ENV, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    elif reader == "load_model":
        runs.load_model(folder)
    else:
        load_run(folder)
    assert saved_seed(folder) == survivor
    assert not any(".old-" in name or ".partial" in name for name in siblings(folder))


def test_resuming_with_other_settings_names_the_setting(tmp_path, data_dir):
    spec = runs.spec_of(ModelConfig("mlp"), DEFAULT_RECIPES["mlp"], 5, "resize", torch.device("cpu"), None)
    partial = tmp_path / ".run.partial"
    partial.mkdir()
    torch.save({"spec": spec, "rows": []}, partial / "state.pt")
    with pytest.raises(RunFolderError) as err:
        train_run(
            tmp_path / "run", ModelConfig("mlp"), DEFAULT_RECIPES["mlp"], device="cpu", resume=True, log=None
        )
    assert "other settings: seed (saved 5, now 0)." in err.value.problem
