"""Two ways to speed up notebook 05's study, measured against what it does now:
`python benchmarks/trials.py` (under a minute on 2 CPU cores).

The study trains 35 LeNet-5 runs, one single-threaded run per core. Side by side in this
process, on random batches of the recipe's size (step time does not depend on the pixels):

1. `torch.compile` against eager PyTorch, one LeNet-5 training step (forward, backward,
   the recipe's fused Adam), both in channels-last as `train.prepare` makes them; and the
   first step's time, which includes compiling: with an empty compile cache, and again
   from the cache as each later run of the study (a fresh process) would find it.
2. Five seeds in one batched step (`torch.func.vmap` over the five models' stacked
   parameters: grouped convolutions) against the five models stepped one after another.

Printed: the median step time over `--steps` steps after a warm-up, and the ratio.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable

# A fresh compile cache, so that the first compile is timed as a new machine pays it.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")

import torch  # noqa: E402
import torch.nn.functional as F
from torch.func import functional_call, grad, stack_module_state, vmap  # noqa: E402

from mnist_lib.models import LeNet5  # noqa: E402
from mnist_lib.train import DEFAULT_RECIPES, device_description, make_optimizer, prepare  # noqa: E402


def median_step(step: Callable[[], None], steps: int) -> tuple[float, float]:
    """Seconds of the first call, and the median of `steps` calls after 5 more warm-up ones."""
    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    for _ in range(5):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times)


def eager_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizer = make_optimizer(model, DEFAULT_RECIPES["lenet5"])

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def vmapped_step(models: list[torch.nn.Module], xs: torch.Tensor, ys: torch.Tensor) -> Callable[[], None]:
    """One Adam step of every model on its own batch, as one batched computation."""
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def loss(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(skeleton, (p, b), (x,)), y)

    gradients = vmap(grad(loss))
    tensors = list(params.values())
    optimizer = torch.optim.Adam(tensors, lr=DEFAULT_RECIPES["lenet5"].lr, fused=True)

    def step() -> None:
        for t, g in zip(tensors, gradients(params, buffers, xs, ys).values()):
            t.grad = g
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per side (default 40)")
    parser.add_argument("--seeds", type=int, default=5, help="models batched in part 2 (default 5)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as each of the study's parallel runs
    cpu = torch.device("cpu")
    batch = DEFAULT_RECIPES["lenet5"].batch_size
    torch.manual_seed(0)
    xs = torch.randn(args.seeds, batch, 1, 32, 32)
    ys = torch.randint(0, 10, (args.seeds, batch))
    x = xs[0].contiguous(memory_format=torch.channels_last)
    print(f"{device_description(cpu)}, torch {torch.__version__}")
    print(f"LeNet-5 training steps of batch {batch}, median of {args.steps} after warm-up\n")

    eager_first, eager = median_step(eager_step(prepare(LeNet5(), cpu), x, ys[0]), args.steps)
    compiled = torch.compile(prepare(LeNet5(), cpu))
    compile_first, compiled_median = median_step(eager_step(compiled, x, ys[0]), args.steps)
    torch._dynamo.reset()  # as a new process would start: only the on-disk cache is kept
    cached_first, _ = median_step(eager_step(torch.compile(prepare(LeNet5(), cpu)), x, ys[0]), 1)
    print("1. torch.compile")
    print(f"   eager     first step {eager_first:7.2f} s   median {eager * 1e3:6.1f} ms")
    print(f"   compiled  first step {compile_first:7.2f} s   median {compiled_median * 1e3:6.1f} ms")
    print(f"   compiled again, from the compile cache: first step {cached_first:.2f} s")
    print(f"   compiled / eager per step: {compiled_median / eager:.2f}x the time\n")

    models = [prepare(LeNet5(), cpu) for _ in range(args.seeds)]
    steps = [
        eager_step(m, xs[i].contiguous(memory_format=torch.channels_last), ys[i])
        for i, m in enumerate(models)
    ]
    _, one_by_one = median_step(lambda: [s() for s in steps], args.steps)
    _, batched = median_step(vmapped_step([LeNet5() for _ in range(args.seeds)], xs, ys), args.steps)
    print(f"2. {args.seeds} seeds per step")
    print(f"   one after another  median {one_by_one * 1e3:6.1f} ms")
    print(f"   vmapped            median {batched * 1e3:6.1f} ms")
    print(f"   vmapped / one after another: {batched / one_by_one:.2f}x the time")


if __name__ == "__main__":
    main()
