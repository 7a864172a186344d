"""The speed benchmark's arithmetic, its output files and its reference script.

Speed itself is measured by `python benchmarks/bench.py` (`make bench`), never asserted here.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnist_lib.batches import mnist_batches
from mnist_lib.data import TRAIN_STD, find_file, load_file
from mnist_lib.models import CustomMLP, LeNet5, ModelConfig
from mnist_lib.params import macs_per_image
from mnist_lib.train import DEFAULT_RECIPES, train_model

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
REFERENCE = BENCHMARKS / "reference.py"
# The benchmark is a script beside the package, not part of it: load it from its file.
_spec = importlib.util.spec_from_file_location("bench", BENCHMARKS / "bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_time_to_floor_is_the_first_epoch_at_or_above_it():
    acc, sec = [98.5, 99.0, 98.9, 99.3], [10.0, 20.0, 30.0, 40.0]
    assert bench.time_to_floor(acc, sec, 99.0) == {"epoch": 2, "seconds": 20.0, "test_acc": 99.0}
    assert bench.time_to_floor(acc, sec, 99.1)["epoch"] == 4  # a later dip does not matter
    assert bench.time_to_floor(acc, sec, 99.5) is None
    assert bench.time_to_floor([], [], 99.0) is None


def test_floor_speedup_gives_a_lower_bound_when_the_other_run_falls_short():
    ours = {"epoch": 3, "seconds": 10.0, "test_acc": 99.1}
    passed = {"seconds": [20.0, 40.0], "reached": {"epoch": 2, "seconds": 40.0, "test_acc": 99.0}}
    short = {"seconds": [20.0, 30.0], "reached": None}
    assert bench.floor_speedup(ours, passed) == {"ratio": 4.0, "at_least": None}
    assert bench.floor_speedup(ours, short) == {"ratio": None, "at_least": 3.0}
    assert bench.floor_speedup(None, passed) == {"ratio": None, "at_least": None}
    assert bench.floor_speedup(ours, {"seconds": [], "reached": None})["at_least"] is None


def test_mac_counts_are_the_models():
    assert bench.MACS["lenet5"] == 423_038
    assert bench.MACS == {"lenet5": macs_per_image(LeNet5()), "mlp": macs_per_image(CustomMLP())}


def test_training_flops_and_share_of_the_matmul_speed():
    # A step is three forward passes' work at 2 FLOPs per multiply-accumulate.
    assert bench.training_flops_per_image(423_038) == 2_538_228
    # 55,000 images in 10 s: 13.96 GFLOP/s, a tenth of 139.6 GFLOP/s.
    per_s = 2_538_228 * 55_000 / 10.0
    assert bench.fraction_of_peak(423_038, 55_000, 10.0, 10 * per_s) == pytest.approx(0.1)


def test_summary_of_timings():
    s = bench.summary([3.0, 1.0, 2.0, 10.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.5, 1.0, 10.0, 4)


def test_the_cpu_is_named_with_its_kernels():
    cpu = bench.cpu_info()
    assert cpu["capability"] == torch.backends.cpu.get_cpu_capability()
    assert cpu["threads"] == torch.get_num_threads()
    assert cpu["model"] and set(cpu["flags"]) <= set(bench.CPU_FLAGS)
    assert cpu["capability"] in bench.cpu_line(cpu)


def test_cold_output_is_measured_from_launch():
    out = (
        'some warning\n{"epoch": 1, "test_acc": 97.5, "time": 1010.5, "peak_mib": 800}\n'
        '{"epoch": 2, "test_acc": 99.1, "time": 1012.0, "peak_mib": 900.5}\n'
    )
    run = bench.parse_cold_output(out, launched=1000.0)
    assert run == {"test_acc": [97.5, 99.1], "seconds": [10.5, 12.0], "peak_mib": 900.5}
    unknown = bench.parse_cold_output('{"test_acc": 90.0, "time": 1001.0, "peak_mib": null}', 1000.0)
    assert unknown["peak_mib"] is None
    assert bench.peak_mib() is None or bench.peak_mib() > 0


def test_the_cli_run_is_split_into_phases_that_add_up_to_its_exit():
    lines = [
        (2.0, "training lenet5 on CPU AMD EPYC, AVX2 kernels, 2 threads into /tmp/x/run/"),
        (10.0, "lenet5 epoch  1/2  train loss 0.3907 acc  87.98%  val loss 0.0709 acc  97.82%    5.0s"),
        (16.5, "lenet5 epoch  2/2  train loss 0.0758 acc  97.79%  val loss 0.0366 acc  98.96%    6.0s"),
        (19.0, "lenet5: 61,706 parameters, validation accuracy 98.96%, test accuracy 99.05% (17.0 s)"),
    ]
    run = bench.parse_cli_output(lines, exited=20.5, floor=99.0)
    phases = list(run["phases"].values())
    assert phases == pytest.approx([2.0, 3.0, 11.0, 0.5, 2.5, 1.5])
    assert sum(phases) == pytest.approx(20.5)
    assert run["reached"] == {"epoch": 2, "seconds": 19.0, "test_acc": 99.05}
    assert bench.parse_cli_output(lines, exited=20.5, floor=99.5)["reached"] is None
    with pytest.raises(RuntimeError, match="no epoch or no test accuracy"):
        bench.parse_cli_output(lines[:2], exited=11.0, floor=99.0)


def _results() -> dict:
    run = {"test_acc": [98.0, 99.2], "seconds": [8.0, 12.0], "peak_mib": None}
    run["reached"] = bench.time_to_floor(run["test_acc"], run["seconds"], 99.0)
    slow = {"test_acc": [97.0], "seconds": [30.0], "peak_mib": 900.0, "reached": None}
    return {
        "time_to_accuracy": {
            "lenet5": {
                "floor": 99.0,
                "runs": {"mnist_lib": run, "classic": slow},
                "speedup": {"classic": bench.floor_speedup(run["reached"], slow)},
            }
        }
    }


def test_results_are_written_as_strict_json_and_a_plot(tmp_path):
    json_path, png_path = bench.write_results(_results(), tmp_path)
    assert json.loads(json_path.read_text()) == _results()
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = _results() | {"nan": math.nan}
    with pytest.raises(ValueError):
        bench.write_results(bad, tmp_path / "bad")
    assert not (tmp_path / "bad" / "bench.json").exists()
    # Without cold runs there is no curve to draw.
    assert bench.write_results({"epoch": {}}, tmp_path / "warm")[1] is None


def test_the_timed_epoch_is_the_first_epoch_of_a_real_training(data_dir):
    # The benchmark times `fast_epoch`: if it set training up otherwise than `train_model`
    # does, the speed-up it reports would be of something else.
    recipe = DEFAULT_RECIPES["mlp"]
    _, timed = bench.fast_epoch("mlp", mnist_batches("train", recipe.batch_size, limit=512), 0)
    torch.manual_seed(0)
    trained = ModelConfig("mlp").build()
    train = mnist_batches("train", recipe.batch_size, limit=512)
    train_model(trained, train, mnist_batches("val", 64, limit=64), recipe, stop_after=1, log=None)
    expected = trained.state_dict()
    for name, value in timed.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_the_classic_pipeline_feeds_the_same_images(data_dir):
    # Both sides of the epoch comparison must train on the same inputs: PIL's resize and
    # the package's whole-split resize agree to one grey level, labels exactly.
    classic_x, classic_y = next(iter(bench.classic_loader("test", 32, shuffle=False)))
    x, y = next(iter(mnist_batches("test", 32)))
    assert torch.equal(classic_y, y) and classic_x.shape == x.shape
    assert (classic_x - x).abs().max() <= 1.01 / 255 / TRAIN_STD


def test_the_reference_script_does_not_import_mnist_lib(tmp_path):
    tree = ast.parse(REFERENCE.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names and not [n for n in names if n.split(".")[0] == "mnist_lib"]
    # Nor at run time, by any indirect route: load it in a bare interpreter elsewhere.
    check = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print([m for m in sys.modules if m.split('.')[0] == 'mnist_lib'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", check, str(REFERENCE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_the_reference_reader_gives_mnist(data_dir):
    ref = runpy.run_path(str(REFERENCE))  # not as __main__: nothing trains
    folder = find_file(data_dir, "t10k-images-idx3-ubyte").parent
    train_images = ref["read_idx"](folder / "train-images-idx3-ubyte")
    assert train_images.shape == (60_000, 28, 28) and train_images.dtype.name == "uint8"
    assert ref["read_idx"](folder / "train-labels-idx1-ubyte").shape == (60_000,)
    images, labels = load_file("test", data_dir)
    x, y = ref["load"](folder, "t10k")
    assert x.shape == (10_000, 1, 32, 32) and x.dtype == torch.float32
    assert torch.equal(y, labels)  # the same bytes mnist_lib reads and verifies
    assert torch.equal(torch.from_numpy(ref["read_idx"](folder / "t10k-images-idx3-ubyte").copy()), images)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run")
def test_gpu_check_without_cuda_stops_at_once_with_one_line():
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "gpu_check.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: no CUDA GPU is visible") and done.stderr.count("\n") == 1
    assert "--device cpu" in done.stderr and not done.stdout
