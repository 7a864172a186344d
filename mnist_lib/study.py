"""Comparing training variants over several seeds (notebook 05).

Every (variant, seed) pair is an ordinary run folder (see `runs`), so a study that is
stopped continues where it was, and one whose runs are all finished loads them.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .errors import ConfigError
from .history import History
from .models import ModelConfig
from .runs import train_run
from .train import Recipe, select_device


@dataclass(frozen=True)
class Variant:
    """LeNet-5 trained one way: changes to the model and to the recipe."""

    name: str
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields
    recipe: dict[str, Any] = field(default_factory=dict)  # Recipe fields

    def config(self) -> ModelConfig:
        return replace(ModelConfig("lenet5"), **self.model)

    def recipe_from(self, base: Recipe) -> Recipe:
        return base.changed(**self.recipe)

    def describe(self) -> str:
        """What this variant changes, in one line."""
        parts = [f"{k}={v}" for k, v in {**self.model, **self.recipe}.items()]
        return ", ".join(parts) or "nothing (plain LeNet-5)"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def check_variants(variants: Sequence[Variant], base: Recipe) -> None:
    """Fail before any training if a variant cannot be built or two share a folder."""
    slugs = [v.slug for v in variants]
    repeated = sorted({v.name for v in variants if slugs.count(v.slug) > 1})
    if repeated:
        raise ConfigError(f"variant names must differ (in letters and digits); clashing: {repeated}")
    for v in variants:
        try:
            v.config()
            v.recipe_from(base)
        except (ConfigError, TypeError) as e:
            raise ConfigError(f"variant {v.name!r}: {e}") from None


def default_workers(device: torch.device) -> int:
    """Parallel runs: one per CPU core on the CPU (small convolutions use several threads
    poorly, so one single-threaded run per core gets the most done), one on a GPU."""
    if device.type != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def _one(
    folder: Path,
    variant: Variant,
    seed: int,
    base: Recipe,
    device: str,
    data_dir: str | None,
    train_limit: int | None,
) -> tuple[dict[str, Any], History]:
    started = time.perf_counter()
    run = train_run(
        folder,
        variant.config(),
        variant.recipe_from(base),
        seed=seed,
        device=device,
        data_dir=data_dir,
        train_limit=train_limit,
        resume=True,
        reuse=True,
        plot=False,
        log=None,
    )
    final = run.history.final
    row = {
        "variant": variant.name,
        "seed": run.seed,
        **{k: final[k] for k in ("val_acc", "val_loss", "train_acc")},
        "test_acc": run.test_acc,
        "test_loss": run.test_loss,
        "seconds": sum(run.history.column("seconds")),
        "folder": str(run.folder),
        # A run trained now took at least its own recorded wall time; a reused one, a moment.
        "loaded": time.perf_counter() - started < run.meta.get("wall_seconds", 0.0),
    }
    return row, run.history


def run_study(
    folder: str | os.PathLike[str],
    variants: Sequence[Variant],
    seeds: Sequence[int],
    base: Recipe,
    *,
    device: str | torch.device = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    train_limit: int | None = None,
    workers: int = 0,
    log: Callable[[str], None] | None = print,
) -> tuple[pd.DataFrame, dict[tuple[str, int], History]]:
    """Train every variant with every seed into `folder/<variant>/seed-<k>/` (finished runs
    of the same settings are loaded); return one row per run and the histories by (variant,
    seed). `workers` > 1 runs that many at once, one CPU thread each (0 = `default_workers`):
    the numbers are the same at any number of workers."""
    check_variants(variants, base)
    dev = select_device(device)
    folder = Path(folder)
    tasks = [(folder / v.slug / f"seed-{s}", v, int(s)) for v in variants for s in seeds]
    workers = min(workers or default_workers(dev), len(tasks))
    data = str(data_dir) if data_dir is not None else None
    jobs = [(path, v, s, base, str(dev), data, train_limit) for path, v, s in tasks]
    results: dict[int, tuple[dict[str, Any], History]] = {}

    def report(i: int, result: tuple[dict[str, Any], History]) -> None:
        results[i] = result
        row = result[0]
        if log is not None:
            log(
                f"{row['variant']:<20} seed {row['seed']}: validation accuracy "
                f"{row['val_acc']:.2f}%, loss {row['val_loss']:.4f} "
                + ("(loaded: trained earlier" if row.get("loaded") else "(trained")
                + f" in {row['seconds']:.0f} s)"
            )

    if workers <= 1:
        for i, job in enumerate(jobs):
            report(i, _one(*job))
    else:
        _in_parallel(workers, dev, jobs, report)
    runs = pd.DataFrame([results[i][0] for i in range(len(tasks))])
    histories = {(v.name, s): results[i][1] for i, (_, v, s) in enumerate(tasks)}
    return runs, histories


def _in_parallel(workers: int, dev: torch.device, jobs: list[tuple], report: Callable) -> None:
    """`_one` of each job in `workers` processes (one CPU thread each on a CPU), each
    result given to `report` with its index as it comes."""
    threads = 1 if dev.type == "cpu" else torch.get_num_threads()
    context = multiprocessing.get_context("spawn")  # safe with threads, on every OS
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=torch.set_num_threads, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(_one, *job): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                report(futures[future], future.result())
        except BaseException:
            for f in futures:  # do not train the queued runs before reporting the error
                f.cancel()
            raise


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per variant: seeds, mean and standard deviation over seeds of the validation and
    test figures, mean training accuracy and seconds per run."""
    grouped = runs.groupby("variant", sort=False)
    return pd.DataFrame(
        {
            "seeds": grouped["seed"].count(),
            "val acc mean (%)": grouped["val_acc"].mean(),
            "val acc std": grouped["val_acc"].std(ddof=1),
            "val loss mean": grouped["val_loss"].mean(),
            "val loss std": grouped["val_loss"].std(ddof=1),
            "train acc mean (%)": grouped["train_acc"].mean(),
            "test acc mean (%)": grouped["test_acc"].mean(),
            "test acc std": grouped["test_acc"].std(ddof=1),
            "test loss mean": grouped["test_loss"].mean(),
            "seconds per run": grouped["seconds"].mean(),
        }
    )


def mean_curves(histories: dict[tuple[str, int], History], column: str = "val_acc") -> pd.DataFrame:
    """Per-epoch mean of `column` over seeds, one column per variant."""
    series: dict[str, list[pd.Series]] = {}
    for (variant, _), h in histories.items():
        series.setdefault(variant, []).append(pd.Series(h.column(column), index=h.column("epoch")))
    return pd.DataFrame({v: pd.concat(s, axis=1).mean(axis=1) for v, s in series.items()})
