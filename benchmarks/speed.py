"""Training speed: the classic DataLoader pipeline against mnist_lib's, side by side.

    python benchmarks/speed.py                # everything (about 3.5 minutes on 2 CPU cores)
    python benchmarks/speed.py --reps 5 --baseline-reps 3 --device cuda

Prints, for LeNet-5 and the MLP: the time of one training epoch over all 60,000 images on
both pipelines (median, min and max over repetitions, run in this one process), their
ratio; then, for each model's default recipe run from a cold `python` process, the
wall-clock time from launch to the first epoch whose test accuracy passes the floor (99%
LeNet-5, 98% MLP) and to the end of the run (imports, data loading and evaluation on all
10,000 test images after every epoch included), with the peak memory of that process.

The baseline is what a first MNIST script does: per-sample PIL `Resize((32, 32))` and
`ToTensor()` through `mnist_lib.dataset.MNIST` (the seed's Dataset), `DataLoader(batch_size=64,
shuffle=True)`, SGD with momentum. Both pipelines train the same models on the same
60,000 images; only the data path, batch size and optimizer differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from mnist_lib.batches import mnist_batches
from mnist_lib.dataset import MNIST
from mnist_lib.models import build_model
from mnist_lib.train import DEFAULT_RECIPES, EVAL_BATCH_SIZE, device_description, fit, select_device

MODELS = ("lenet5", "mlp")


def baseline_epoch(name: str, device: torch.device, seed: int) -> float:
    """One epoch of the classic pipeline; returns seconds."""
    from torch.utils.data import DataLoader
    from torchvision import transforms

    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    loader = DataLoader(MNIST(mode="train", transform=transform), batch_size=64, shuffle=True)
    model = build_model(name).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def fast_epoch(name: str, device: torch.device, seed: int) -> float:
    """One epoch of mnist_lib's pipeline with the model's recipe; returns the seconds of
    the training pass as `mnist_lib.train.fit` measures them (evaluation not included)."""
    recipe = dataclasses.replace(DEFAULT_RECIPES[name], epochs=1)
    train = mnist_batches("train", recipe.batch_size, device=device, seed=seed)
    test = mnist_batches("test", EVAL_BATCH_SIZE, device=device)
    torch.manual_seed(seed)
    history = fit(build_model(name), train, test, recipe)
    return history.final["seconds"]


COLD_RUN = """
import dataclasses, json, resource, sys, time
from mnist_lib.train import DEFAULT_RECIPES, train_model
name, epochs, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recipe = dataclasses.replace(DEFAULT_RECIPES[name], epochs=epochs)
ends = []  # the clock at the end of each epoch's evaluation: the log is called then
_, h = train_model(name, recipe, device=device, log=lambda line: ends.append(time.time()))
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(json.dumps({"acc": h.column("test_acc"), "ends": ends, "peak_kib": peak_kib}))
"""


@dataclasses.dataclass
class ColdRun:
    accuracies: list[float]  # test accuracy after each epoch
    seconds: list[float]  # wall-clock from launching `python` to the end of each epoch
    peak_mib: float

    def time_to(self, floor: float) -> tuple[int, float] | None:
        """(epoch, seconds) of the first epoch at or above `floor`, or None."""
        for epoch, (acc, sec) in enumerate(zip(self.accuracies, self.seconds), start=1):
            if acc >= floor:
                return epoch, sec
        return None


def cold_run(name: str, epochs: int, device: str) -> ColdRun:
    """Train from a fresh `python` process, evaluating on all 10,000 test images each epoch."""
    start = time.time()  # wall clock, shared with the child process
    result = subprocess.run([sys.executable, "-c", COLD_RUN, name, str(epochs), device],
                            capture_output=True, text=True, check=True)
    out = json.loads(result.stdout.splitlines()[-1])
    return ColdRun(out["acc"], [t - start for t in out["ends"]], out["peak_kib"] / 1024)


def describe(times: list[float]) -> str:
    return (f"median {statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f}, "
            f"n={len(times)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5, help="epochs timed per model, mnist_lib pipeline")
    p.add_argument("--baseline-reps", type=int, default=2, help="epochs timed per model, baseline")
    p.add_argument("--device", default="auto")
    for name in MODELS:
        p.add_argument(f"--{name}-epochs", type=int, default=DEFAULT_RECIPES[name].epochs,
                       help=f"epochs of the cold run for {name} (default: its recipe's)")
    p.add_argument("--skip-baseline", action="store_true")
    args = p.parse_args()

    device = select_device(args.device)
    import torchvision

    print(f"device: {device} ({device_description(device)}); {platform.platform()}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, threads {torch.get_num_threads()}")
    for name in MODELS:
        print(f"recipe {name}: {DEFAULT_RECIPES[name]}")
    print()

    fast_epoch("lenet5", device, 0)  # warm-up: first-call costs (allocator, oneDNN kernels)
    ratios = {}
    for name in MODELS:
        # Interleave the two pipelines so slow spells of a shared machine hit both.
        base, fast = [], []
        for rep in range(max(args.reps, args.baseline_reps)):
            if rep < args.baseline_reps and not args.skip_baseline:
                base.append(baseline_epoch(name, device, rep))
            if rep < args.reps:
                fast.append(fast_epoch(name, device, rep))
        print(f"{name:7s} epoch, mnist_lib pipeline: {describe(fast)}")
        if base:
            print(f"{name:7s} epoch, classic pipeline:   {describe(base)}")
            ratios[name] = statistics.median(base) / statistics.median(fast)
            print(f"{name:7s} speed-up (median / median): {ratios[name]:.1f}x")
        print()

    for name, floor in (("lenet5", 99.0), ("mlp", 98.0)):
        epochs = getattr(args, f"{name}_epochs")
        run = cold_run(name, epochs, str(device))
        reached = run.time_to(floor)
        when = (f"{floor}% first reached after epoch {reached[0]}, {reached[1]:.1f} s from launch"
                if reached else f"{floor}% NOT reached")
        print(f"{name:7s} cold python, {epochs}-epoch recipe: {when}; final {run.accuracies[-1]:.2f}% "
              f"after {run.seconds[-1]:.1f} s; peak memory {run.peak_mib:.0f} MiB")

if __name__ == "__main__":
    main()
