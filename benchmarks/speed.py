"""Training speed: the classic DataLoader pipeline against mnist_lib's, side by side.

    python benchmarks/speed.py                # everything (about 5 minutes on 2 CPU cores)
    python benchmarks/speed.py --reps 5 --baseline-reps 3 --device cuda

Prints, for LeNet-5 and the MLP: the time of one training epoch over all 60,000 images on
both pipelines (median, min and max over repetitions, run in this one process), their
ratio; then the wall-clock time from a cold `python` process to the recipe's test accuracy
(imports, data loading and per-epoch evaluation on all 10,000 test images included), with
the accuracy reached and the peak memory of that process.

The baseline is what a first MNIST script does: per-sample PIL `Resize((32, 32))` and
`ToTensor()` through `mnist_lib.dataset.MNIST` (the seed's Dataset), `DataLoader(batch_size=64,
shuffle=True)`, SGD with momentum. Both pipelines train the same models on the same
60,000 images; only the data path, batch size and optimizer differ.
"""

from __future__ import annotations

import argparse
import dataclasses
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
import dataclasses, resource, sys
from mnist_lib.train import DEFAULT_RECIPES, train_model
name, epochs, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recipe = dataclasses.replace(DEFAULT_RECIPES[name], epochs=epochs)
_, h = train_model(name, recipe, device=device, log=None)
print(h.final["test_acc"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def cold_run(name: str, epochs: int, device: str) -> tuple[float, float, float]:
    """Train from a fresh `python` process; returns (seconds, test accuracy, peak MiB)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", COLD_RUN, name, str(epochs), device],
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    accuracy, peak_kib = result.stdout.split()  # ru_maxrss is in KiB on Linux
    return seconds, float(accuracy), float(peak_kib) / 1024


def describe(times: list[float]) -> str:
    return (f"median {statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f}, "
            f"n={len(times)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5, help="epochs timed per model, mnist_lib pipeline")
    p.add_argument("--baseline-reps", type=int, default=2, help="epochs timed per model, baseline")
    p.add_argument("--device", default="auto")
    p.add_argument("--lenet5-epochs", type=int, default=3, help="epochs of the cold run for LeNet-5")
    p.add_argument("--mlp-epochs", type=int, default=DEFAULT_RECIPES["mlp"].epochs)
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

    for name, epochs, floor in (("lenet5", args.lenet5_epochs, 99.0), ("mlp", args.mlp_epochs, 98.0)):
        seconds, accuracy, peak = cold_run(name, epochs, str(device))
        verdict = "reached" if accuracy >= floor else "NOT reached"
        print(f"{name:7s} cold python -> {accuracy:.2f}% test accuracy after {epochs} epochs in "
              f"{seconds:.1f} s wall-clock ({floor}% {verdict}); peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
