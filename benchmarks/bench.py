"""The speed benchmark: `python benchmarks/bench.py` (= `make bench`), about 4 to 10 minutes
on 2 CPU cores. `--help` lists its options.

Ratios first, measured in one run so that the machine is the same for both sides:

1. One training epoch (55,000 images) of mnist_lib's pipeline against the classic one, both
   models, interleaved in this process so that slow spells of a shared machine hit both:
   median, min and max, the speed-up, images per second.
2. This machine's float32 matrix-multiply throughput with the same threads, and the
   fraction of it that a LeNet-5 epoch reaches.
3. Time to accuracy from a cold `python` process (imports, data loading and evaluation on
   the 10,000 test images after every epoch included) for mnist_lib's default recipes,
   for benchmarks/reference.py (a plain single-file script) and, capped, for the classic
   pipeline; the speed-up of mnist_lib's time to the floor over each. And the command a
   user types, `python -m mnist_lib train`, with its time split into phases (start-up,
   data, epochs, saving between them, the test pass with writing the run, exit).

The classic pipeline is the usual first script: the `MNIST` Dataset with torchvision's
`Resize((32, 32))`, `ToTensor()`, `Normalize`, `DataLoader(batch_size=64, shuffle=True)`,
SGD with momentum. Results go to bench.json and time_to_accuracy.png in the out folder.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from mnist_lib.atomic import atomic_path
from mnist_lib.batches import Batches, mnist_batches
from mnist_lib.data import find_file
from mnist_lib.models import ModelConfig
from mnist_lib.paths import output_dir, resolve_data_dir
from mnist_lib.train import (
    DEFAULT_RECIPES,
    EVAL_BATCH_SIZE,
    device_description,
    make_optimizer,
    make_schedule,
    prepare,
    select_device,
    train_epoch,
    train_model,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODELS = ("lenet5", "mlp")
FLOORS = {"lenet5": 99.0, "mlp": 98.0}  # test accuracy (%) that counts as trained
# Multiply-accumulates of one forward pass per image (mnist_lib.params.macs_per_image).
MACS = {"lenet5": 423_038, "mlp": 61_699}
FLOPS_PER_MAC = 2
PASSES_PER_STEP = 3  # forward, plus a backward pass of about twice the forward's work
MATMUL_SIZE = 2048
CLASSIC_BATCH_SIZE = 64
CLASSIC_COLD_EPOCHS = 3
CLASSIC_COLD_CAP_S = 60.0  # no epoch of the cold classic run starts after this
COLD_TIMEOUT_S = 900.0  # a cold run that takes longer than this has hung
# Vector extensions worth naming: they decide which kernels PyTorch's CPU code runs.
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "neon", "asimd")


# --- the machine ---------------------------------------------------------------------------


def cpu_info() -> dict[str, Any]:
    """The CPU by name, its vector extensions, the kernels PyTorch picked, cores, threads."""
    model, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key in ("model name", "Model") and model is None:
                model = value
            elif key in ("flags", "Features") and not flags:  # x86 and Arm spell it so
                flags = set(value.split())
    except OSError:  # not Linux: the name platform gives is all there is
        pass
    return {
        "model": model or platform.processor() or platform.machine(),
        "flags": [f for f in CPU_FLAGS if f in flags],
        "capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }


def cpu_line(cpu: dict[str, Any]) -> str:
    """One line naming the CPU, e.g. "AMD EPYC (avx2, avx512f), AVX512 kernels, 2 cores"."""
    flags = f" ({', '.join(cpu['flags'])})" if cpu["flags"] else ""
    return (
        f"{cpu['model']}{flags}, {cpu['capability']} kernels, {cpu['cores']} cores, "
        f"torch threads {cpu['threads']}"
    )


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


# --- arithmetic ----------------------------------------------------------------------------


def training_flops_per_image(macs: int) -> int:
    """FLOPs of one training step per image: forward plus backward, 2 FLOPs per MAC."""
    return PASSES_PER_STEP * FLOPS_PER_MAC * macs


def fraction_of_peak(macs: int, images: int, seconds: float, peak_flops: float) -> float:
    """The share of `peak_flops` (FLOP/s) that training `images` in `seconds` reaches."""
    return training_flops_per_image(macs) * images / seconds / peak_flops


def summary(times: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of some timings (seconds), and the timings themselves."""
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "n": len(times),
        "seconds": list(times),
    }


def time_to_floor(
    accuracies: Sequence[float], seconds: Sequence[float], floor: float
) -> dict[str, Any] | None:
    """The first epoch whose accuracy is at least `floor` and its time, or None."""
    for epoch, (acc, sec) in enumerate(zip(accuracies, seconds, strict=True), start=1):
        if acc >= floor:
            return {"epoch": epoch, "seconds": sec, "test_acc": acc}
    return None


def floor_speedup(ours: dict[str, Any] | None, theirs: dict[str, Any]) -> dict[str, Any]:
    """How many times sooner `ours` (a `time_to_floor`) passed the floor than the cold run
    `theirs`. Where `theirs` never did, its last time gives a lower bound only."""
    if ours is None:
        return {"ratio": None, "at_least": None}
    if theirs["reached"] is not None:
        return {"ratio": theirs["reached"]["seconds"] / ours["seconds"], "at_least": None}
    if not theirs["seconds"]:
        return {"ratio": None, "at_least": None}
    return {"ratio": None, "at_least": theirs["seconds"][-1] / ours["seconds"]}


# --- one epoch, both pipelines -------------------------------------------------------------


def classic_transform():
    """The classic per-image transform: PIL resize to 32x32, to a tensor, normalized."""
    from torchvision import transforms

    return transforms.Compose(
        [transforms.Resize((32, 32)), transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )


def classic_loader(split: str, batch_size: int, shuffle: bool, limit: int | None = None):
    """A DataLoader over the `MNIST` Dataset with `classic_transform`."""
    from torch.utils.data import DataLoader, Subset

    from mnist_lib.dataset import MNIST

    dataset = MNIST(mode=split, transform=classic_transform())
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def classic_epoch(name: str, device: torch.device, seed: int, limit: int | None = None) -> float:
    """Seconds of one training epoch of the classic pipeline (the loader is made first)."""
    torch.manual_seed(seed)
    loader = classic_loader("train", CLASSIC_BATCH_SIZE, shuffle=True, limit=limit)
    model = ModelConfig(name).build().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    _sync(device)
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def fast_epoch(name: str, train: Batches, seed: int) -> tuple[float, nn.Module]:
    """Seconds of one `train_epoch` of mnist_lib's pipeline with the model's default recipe,
    set up as `train_model` sets it up (the schedule spans the whole recipe), and the model."""
    recipe = DEFAULT_RECIPES[name]
    torch.manual_seed(seed)
    model = prepare(ModelConfig(name).build(), train.device)
    optimizer = make_optimizer(model, recipe)
    schedule = make_schedule(optimizer, recipe, len(train))
    _sync(train.device)
    start = time.perf_counter()
    train_epoch(model, train, optimizer, schedule, recipe.label_smoothing)  # waits for the device
    return time.perf_counter() - start, model


def matmul_flops(device: torch.device, size: int = MATMUL_SIZE, reps: int = 5) -> dict[str, Any]:
    """Best float32 `torch.mm` throughput (FLOP/s) of `size` x `size` matrices on `device`,
    with the threads this process uses."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    inner = 1 if device.type == "cpu" else 20  # an accelerator needs longer to be timed
    torch.mm(a, b)  # the first call pays for setting up
    _sync(device)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        _sync(device)
        times.append((time.perf_counter() - start) / inner)
    return {"size": size, "flops": 2 * size**3 / min(times), "seconds": times}


# --- cold runs -----------------------------------------------------------------------------
# Each child prints one JSON line per epoch with `time.time()`, the clock the parent also
# reads when it launches `python`: launch, imports and data loading are all counted.


def peak_mib() -> float | None:
    """The peak resident memory of this process (MiB), where Linux tells it."""
    # Not getrusage: on Linux its maximum survives the exec that started this process, so
    # a child would report its parent's peak.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # given in kB
    except (OSError, ValueError):
        pass
    return None


def _epoch_line(epoch: int, test_acc: float) -> None:
    print(
        json.dumps({"epoch": epoch, "test_acc": test_acc, "time": time.time(), "peak_mib": peak_mib()}),
        flush=True,
    )


def cold_mnist_lib(name: str, device: str) -> None:
    """In a fresh process: `train_model` with the default recipe, measured on the test split."""
    recipe = DEFAULT_RECIPES[name]
    torch.manual_seed(0)
    train = mnist_batches("train", recipe.batch_size, device=device, seed=0)
    test = mnist_batches("test", EVAL_BATCH_SIZE, device=device)
    train_model(
        ModelConfig(name).build(),
        train,
        test,
        recipe,
        log=None,
        after_epoch=lambda state: _epoch_line(len(state.history.rows), state.history.final["val_acc"]),
    )


def cold_classic(name: str, device: str, launched: float, epochs: int, cap_s: float) -> None:
    """In a fresh process: the classic pipeline for up to `epochs` epochs, starting no epoch
    once `cap_s` seconds have passed since `launched`."""
    torch.manual_seed(0)
    train = classic_loader("train", CLASSIC_BATCH_SIZE, shuffle=True)
    test = classic_loader("test", 1000, shuffle=False)
    model = ModelConfig(name).build().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for epoch in range(1, epochs + 1):
        model.train()
        for x, y in train:
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test:
                correct += (model(x.to(device)).argmax(1).cpu() == y).sum().item()
        _epoch_line(epoch, 100.0 * correct / len(test.dataset))
        if time.time() - launched > cap_s:
            break


def parse_cold_output(stdout: str, launched: float) -> dict[str, Any]:
    """The per-epoch JSON lines of a child as lists, times in seconds from `launched`."""
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    peaks = [r["peak_mib"] for r in rows if r.get("peak_mib") is not None]
    return {
        "test_acc": [r["test_acc"] for r in rows],
        "seconds": [r["time"] - launched for r in rows],
        "peak_mib": max(peaks) if peaks else None,
    }


def cold_run(args: Sequence[str], floor: float) -> dict[str, Any]:
    """Launch `python args...`, and measure from that moment to the end of every epoch."""
    launched = time.time()
    done = subprocess.run(
        [sys.executable, *args], check=False, capture_output=True, text=True, timeout=COLD_TIMEOUT_S
    )
    if done.returncode != 0:
        raise RuntimeError(f"the cold run {' '.join(args[:3])} failed:\n{done.stderr[-3000:]}")
    run = parse_cold_output(done.stdout, launched)
    run["reached"] = time_to_floor(run["test_acc"], run["seconds"], floor)
    return run


def parse_cli_output(stamped: Sequence[tuple[float, str]], exited: float, floor: float) -> dict[str, Any]:
    """The phases of one `python -m mnist_lib train`, from its output lines stamped with the
    seconds since launch as they arrived, and the moment it exited. The CLI measures the
    test split once, at the end: that line is its time to accuracy."""
    epochs = [
        (t, float(m.group(1)))
        for t, line in stamped
        if (m := re.search(r" epoch +\d+/\d+ .*?([\d.]+)s$", line))
    ]
    tests = [
        (t, float(m.group(1))) for t, line in stamped if (m := re.search(r"test accuracy ([\d.]+)%", line))
    ]
    if not epochs or not tests:
        raise RuntimeError(
            "the CLI printed no epoch or no test accuracy:\n" + "\n".join(line for _, line in stamped)
        )
    (test_at, test_acc), first = tests[-1], stamped[0][0]
    trained = sum(seconds for _, seconds in epochs)
    phases = {
        "start-up (interpreter, imports, device)": first,
        "set-up (data, model, optimizer) and epoch 1's validation": epochs[0][0] - epochs[0][1] - first,
        "training (the epochs' own times)": trained,
        "validation and saved state, later epochs": epochs[-1][0] - epochs[0][0] - (trained - epochs[0][1]),
        "test split, writing the run and its plot": test_at - epochs[-1][0],
        "exit": exited - test_at,
    }
    reached = {"epoch": len(epochs), "seconds": test_at, "test_acc": test_acc} if test_acc >= floor else None
    return {
        "test_acc": [test_acc],
        "seconds": [test_at],
        "reached": reached,
        "exited": exited,
        "phases": phases,
    }


def cold_cli(name: str, device: str, floor: float) -> dict[str, Any]:
    """`python -m mnist_lib train --model name` as a user runs it, into a temporary folder,
    each output line stamped as it arrives."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "mnist_lib", "train", "--model", name, "--device", device]
        launched = time.time()
        with subprocess.Popen(
            [*command, "--out", str(Path(folder) / "run")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as child:
            stamped = [(time.time() - launched, line.rstrip()) for line in child.stdout]
            code = child.wait(timeout=COLD_TIMEOUT_S)
        exited = time.time() - launched
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n" + "\n".join(line for _, line in stamped[-30:]))
    return parse_cli_output(stamped, exited, floor)


def _fmt_cli(run: dict[str, Any], floor: float) -> str:
    r, acc = run["reached"], run["test_acc"][0]
    when = (
        f"{floor:g}% at its test line, {r['seconds']:.1f} s" if r else f"{floor:g}% not reached ({acc:.2f}%)"
    )
    phases = ", ".join(f"{what} {seconds:.1f} s" for what, seconds in run["phases"].items())
    return f"{when}; exited at {run['exited']:.1f} s\n              {phases}"


def _child(function: str, *args: Any) -> list[str]:
    """The arguments of a `python` that calls this file's `function(*args)`."""
    return ["-c", f"import runpy; runpy.run_path({str(Path(__file__).resolve())!r})[{function!r}](*{args!r})"]


def reference_script() -> Path:
    return Path(__file__).with_name("reference.py")


def reference_data_dir() -> Path:
    """The folder holding the training images, which the reference script is given."""
    found = find_file(resolve_data_dir(), "train-images-idx3-ubyte")
    if found is None:
        raise FileNotFoundError("MNIST is missing: run `python -m mnist_lib data` first")
    return found.parent


# --- output --------------------------------------------------------------------------------


def plot_time_to_accuracy(cold: dict[str, dict[str, Any]]) -> Figure:
    """Test accuracy against seconds from launch: one line per model and pipeline."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = {"mnist_lib": "-o", "reference": "--s", "classic": "-.^", "cli": "*"}
    colors = {"lenet5": "C0", "mlp": "C1"}
    lowest = 100.0
    for name, per_model in cold.items():
        for pipeline, run in per_model["runs"].items():
            if not run["seconds"]:
                continue
            ax.plot(
                run["seconds"],
                run["test_acc"],
                styles.get(pipeline, "-"),
                ms=4,
                color=colors.get(name),
                label=f"{name}, {pipeline}",
            )
            lowest = min(lowest, *run["test_acc"])
        floor = per_model["floor"]
        ax.axhline(floor, color=colors.get(name), ls=":", lw=1, label=f"{name} floor {floor:g}%")
        lowest = min(lowest, floor)
    ax.set(
        xlabel="seconds from launching python",
        ylabel="test accuracy (%)",
        title="Time to accuracy from a cold start",
        ylim=(max(lowest - 0.5, 90.0), 100.0),
    )
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def write_results(results: dict[str, Any], out: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """bench.json (strict JSON) and, if there were cold runs, time_to_accuracy.png, each
    written atomically."""
    out = Path(out)
    text = json.dumps(results, indent=2, allow_nan=False)
    json_path = out / "bench.json"
    with atomic_path(json_path) as tmp:
        tmp.write_text(text + "\n")
    if not results.get("time_to_accuracy"):
        return json_path, None
    import matplotlib.pyplot as plt

    from mnist_lib.plots import save_figure

    png_path = out / "time_to_accuracy.png"
    fig = plot_time_to_accuracy(results["time_to_accuracy"])
    save_figure(fig, png_path)
    plt.close(fig)
    return json_path, png_path


def _fmt_times(s: dict[str, Any]) -> str:
    return f"median {s['median']:6.2f} s (min {s['min']:.2f}, max {s['max']:.2f}, n={s['n']})"


def _fmt_ratio(r: dict[str, Any]) -> str:
    if r["ratio"] is not None:
        return f"{r['ratio']:.1f}x"
    return f"> {r['at_least']:.1f}x (floor not reached)" if r["at_least"] else "n/a"


def _fmt_run(pipeline: str, run: dict[str, Any], floor: float) -> str:
    return _fmt_cli(run, floor) if pipeline == "cli" else _fmt_cold(run, floor)


def _fmt_cold(run: dict[str, Any], floor: float) -> str:
    if not run["seconds"]:
        return "no epoch finished"
    r = run["reached"]
    when = (
        f"{floor:g}% at epoch {r['epoch']}, {r['seconds']:.1f} s"
        if r
        else f"{floor:g}% not reached in {len(run['seconds'])} epochs"
    )
    peak = f", peak {run['peak_mib']:.0f} MiB" if run.get("peak_mib") else ""
    return (
        f"{when}; last epoch {len(run['seconds'])}: {run['test_acc'][-1]:.2f}% at "
        f"{run['seconds'][-1]:.1f} s{peak}"
    )


# --- the benchmark -------------------------------------------------------------------------


def main(
    device: str = "auto",
    reps: int = 5,
    out: str | os.PathLike[str] | None = None,
    *,
    classic_reps: int = 2,
    cold: bool = True,
) -> dict[str, Any]:
    """Run the benchmark, print it (ratios first), write bench.json and the plot into `out`
    (default: `mnist_lib.paths.output_dir()`/bench), and return the results.

    `reps` epochs of mnist_lib's pipeline and `classic_reps` (at most `reps`) of the classic
    one are timed per model; `cold=False` skips the cold runs (section 3).
    """
    device = select_device(device)
    out = Path(out) if out is not None else output_dir() / "bench"
    classic_reps = max(1, min(classic_reps, reps))
    import torchvision

    cpu = cpu_info()
    results: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "device": str(device),
            "device_name": device_description(device),
            "cpu": cpu,
            "load_before": _load(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
        },
        "settings": {
            "reps": reps,
            "classic_reps": classic_reps,
            "cold": cold,
            "recipes": {n: DEFAULT_RECIPES[n].to_dict() for n in MODELS},
            "classic": {"batch_size": CLASSIC_BATCH_SIZE, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9},
        },
    }
    print(f"mnist_lib speed benchmark, {results['date']}")
    print(f"device {device} ({device_description(device)})")
    print(f"CPU: {cpu_line(cpu)}; load average {results['machine']['load_before']}")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}\n",
        flush=True,
    )

    # 1. One epoch of each pipeline, interleaved.
    train = {n: mnist_batches("train", DEFAULT_RECIPES[n].batch_size, device=device) for n in MODELS}
    images = train["lenet5"].num_samples
    warm = mnist_batches("train", 512, device=device, limit=2048)
    for name in MODELS:  # first calls pay for allocations and kernel choices
        fast_epoch(name, warm, 0)
    epochs: dict[str, Any] = {}
    for name in MODELS:
        fast, classic = [], []
        for rep in range(reps):
            if rep < classic_reps:
                classic.append(classic_epoch(name, device, rep))
            fast.append(fast_epoch(name, train[name], rep)[0])
            print(
                f"  {name} rep {rep + 1}/{reps}: mnist_lib {fast[-1]:.2f} s"
                + (f", classic {classic[-1]:.2f} s" if rep < classic_reps else ""),
                flush=True,
            )
        f, c = summary(fast), summary(classic)
        f["images_per_s"], c["images_per_s"] = images / f["median"], images / c["median"]
        epochs[name] = {"images": images, "mnist_lib": f, "classic": c, "speedup": c["median"] / f["median"]}
    results["epoch"] = epochs

    # 2. What share of the machine's matrix-multiply speed an epoch reaches.
    mm = matmul_flops(device, MATMUL_SIZE if device.type == "cpu" else 2 * MATMUL_SIZE)
    results["matmul"] = mm
    results["efficiency"] = {
        name: {
            "macs_per_image": MACS[name],
            "training_flops_per_image": training_flops_per_image(MACS[name]),
            "flops": training_flops_per_image(MACS[name]) * images / epochs[name]["mnist_lib"]["median"],
            "fraction_of_matmul": fraction_of_peak(
                MACS[name], images, epochs[name]["mnist_lib"]["median"], mm["flops"]
            ),
        }
        for name in MODELS
    }

    # 3. Time to accuracy from a cold start.
    cold_results: dict[str, Any] = {}
    if cold:
        script, data_dir = reference_script(), reference_data_dir()
        for name in MODELS:
            floor = FLOORS[name]
            print(f"  cold runs, {name} ...", flush=True)
            runs = {"mnist_lib": cold_run(_child("cold_mnist_lib", name, str(device)), floor)}
            runs["cli"] = cold_cli(name, str(device), floor)
            if script.exists():
                runs["reference"] = cold_run(
                    [
                        str(script),
                        str(data_dir),
                        "--model",
                        name,
                        "--device",
                        str(device),
                        "--epochs",
                        str(DEFAULT_RECIPES[name].epochs),
                    ],
                    floor,
                )
            if name == "lenet5":
                call = _child(
                    "cold_classic", name, str(device), time.time(), CLASSIC_COLD_EPOCHS, CLASSIC_COLD_CAP_S
                )
                runs["classic"] = cold_run(call, floor)
            for pipeline, run in runs.items():
                print(f"    {pipeline:9s} {_fmt_run(pipeline, run, floor)}", flush=True)
            others = {k: r for k, r in runs.items() if k not in ("mnist_lib", "cli")}
            cold_results[name] = {
                "floor": floor,
                "runs": runs,
                "speedup": {k: floor_speedup(runs["mnist_lib"]["reached"], r) for k, r in others.items()},
                "cli_speedup": {k: floor_speedup(runs["cli"]["reached"], r) for k, r in others.items()},
            }
    results["time_to_accuracy"] = cold_results
    results["machine"]["load_after"] = _load()

    report(results)
    json_path, png_path = write_results(results, out)
    print(f"\nwrote {json_path}" + (f" and {png_path}" if png_path else ""))
    return results


def report(results: dict[str, Any]) -> None:
    """Print the results: ratios first, then the times they come from."""
    epochs, cold = results["epoch"], results.get("time_to_accuracy", {})
    print("\nSpeed-ups of mnist_lib (same run, same machine)")
    for name, e in epochs.items():
        print(f"  {name:7s} one epoch vs classic pipeline: {e['speedup']:5.1f}x")
    for name, c in cold.items():
        for other, r in c["speedup"].items():
            print(f"  {name:7s} cold start to {c['floor']:g}% vs {other + ':':10s} {_fmt_ratio(r)}")
        for other, r in c.get("cli_speedup", {}).items():
            print(f"  {name:7s} the CLI, to {c['floor']:g}%,   vs {other + ':':10s} {_fmt_ratio(r)}")
    print(
        "\nShare of this machine's matrix-multiply speed "
        f"({results['matmul']['flops'] / 1e9:.0f} GFLOP/s, float32 {results['matmul']['size']}^2 "
        "torch.mm)"
    )
    for name, e in results["efficiency"].items():
        print(
            f"  {name:7s} training epoch: {e['flops'] / 1e9:6.2f} GFLOP/s = "
            f"{100 * e['fraction_of_matmul']:.1f}%  ({e['training_flops_per_image']:,} FLOPs "
            "per image per step)"
        )
    print(f"\nOne training epoch ({next(iter(epochs.values()))['images']:,} images)")
    for name, e in epochs.items():
        for pipeline in ("mnist_lib", "classic"):
            s = e[pipeline]
            print(f"  {name:7s} {pipeline:9s} {_fmt_times(s)}, {s['images_per_s']:9,.0f} images/s")
    if cold:
        print("\nTime to accuracy from launching python (test split after every epoch)")
        for name, c in cold.items():
            for pipeline, run in c["runs"].items():
                print(f"  {name:7s} {pipeline:9s} {_fmt_run(pipeline, run, c['floor'])}")
    m = results["machine"]
    where = f"{m['device_name']} with " if m["device"] != "cpu" else ""
    print(
        f"\nAbsolute times are for {where}CPU {cpu_line(m['cpu'])}; load average before "
        f"{m['load_before']}, after {m.get('load_after')}"
    )
    loads = [load[0] for load in (m["load_before"], m.get("load_after")) if load]
    if loads and max(loads) > m["cpu"]["cores"]:
        print(
            "The machine was busy with other work: absolute times are unreliable, and with "
            "more than one thread even the ratios suffer (OMP_NUM_THREADS=1 helps)."
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, mps")
    parser.add_argument("--reps", type=int, default=5, help="timed epochs per pipeline")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for bench.json and the plot (default: outputs/bench)"
    )
    args = parser.parse_args()
    if args.reps <= 0:
        parser.error(f"--reps must be a positive integer, got {args.reps}")
    main(device=args.device, reps=args.reps, out=args.out)
