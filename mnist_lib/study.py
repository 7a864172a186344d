"""Comparing training variants over several seeds (notebook 05)."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from . import __version__
from .atomic import atomic_path
from .augment import RandomDistortion
from .history import History
from .models import build_model
from .train import Recipe, select_device, train_model

Log = Callable[[str], None]


@dataclass(frozen=True)
class Variant:
    """LeNet-5 trained one way: constructor arguments, recipe changes, augmentation."""

    name: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    recipe_changes: dict[str, Any] = field(default_factory=dict)
    augment: RandomDistortion | None = None

    def recipe(self, base: Recipe) -> Recipe:
        """The base recipe with this variant's changes."""
        try:
            return dataclasses.replace(base, **self.recipe_changes)
        except (TypeError, ValueError) as e:
            raise ValueError(f"variant {self.name!r}: bad recipe change: {e}") from None

    def describe(self) -> str:
        """What this variant changes, in one line."""
        parts = [f"{k}={v}" for k, v in self.model_kwargs.items()]
        parts += [f"{k}={v}" for k, v in self.recipe_changes.items()]
        if self.augment is not None:
            parts.append(repr(self.augment))
        return ", ".join(parts) or "plain LeNet-5"


def check_variants(variants: Sequence[Variant], base: Recipe) -> None:
    """Fail before any training if a variant cannot be built or two share a name."""
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"variant names must be unique; repeated: {duplicates}")
    for v in variants:
        v.recipe(base)
        try:
            build_model("lenet5", **v.model_kwargs)
        except ValueError as e:
            raise ValueError(f"variant {v.name!r}: {e}") from None


def default_workers(device: torch.device) -> int:
    """Parallel runs for `run_study`: one per CPU core on the CPU, one on a GPU."""
    if device.type != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def threads_per_run(device: torch.device, workers: int) -> int:
    """CPU threads each of `workers` parallel runs gets."""
    return max(1, torch.get_num_threads() // workers) if device.type == "cpu" else torch.get_num_threads()


def _run_one(variant: Variant, seed: int, base: Recipe, device: str,
             data_dir: str | None) -> tuple[dict[str, Any], History]:
    _, history = train_model(
        "lenet5", variant.recipe(base), device=device, seed=seed,
        model_kwargs=variant.model_kwargs, augment=variant.augment, data_dir=data_dir, log=None,
    )
    final = history.final
    row = {
        "variant": variant.name, "seed": seed, "test_acc": final["test_acc"],
        "test_loss": final["test_loss"], "train_acc": final["train_acc"],
        "parameters": history.meta["parameters"], "seconds": sum(history.column("seconds")),
    }
    return row, history


def _report(row: dict[str, Any], log: Log) -> None:
    log(f"{row['variant']:<22} seed {row['seed']}: test accuracy {row['test_acc']:.2f}%, "
        f"test loss {row['test_loss']:.4f}, {row['seconds']:.0f} s")


def run_study(
    variants: Sequence[Variant],
    seeds: Sequence[int],
    base: Recipe,
    *,
    device: str | torch.device = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    log: Log | None = print,
    workers: int = 0,
) -> tuple[pd.DataFrame, dict[tuple[str, int], History]]:
    """Train every variant with every seed; return one row per run and the histories.

    All variants share `base` (epochs, batch size, schedule) except what each changes.
    `workers` > 1 trains that many runs at once in separate processes, each with an equal
    share of the CPU threads (0 = `default_workers`). Small convolutions use two threads
    poorly: on 2 cores, two single-threaded runs side by side did 1.46 times the work of
    one run with two threads. A run's result depends only on its seed and thread count.
    """
    check_variants(variants, base)
    dev = select_device(device)
    folder = str(data_dir) if data_dir is not None else None
    tasks = [(variant, int(seed)) for variant in variants for seed in seeds]
    workers = min(workers or default_workers(dev), len(tasks))
    results: dict[int, tuple[dict[str, Any], History]] = {}

    if workers <= 1:
        for i, (variant, seed) in enumerate(tasks):
            results[i] = _run_one(variant, seed, base, str(dev), folder)
            if log is not None:
                _report(results[i][0], log)
    else:
        context = multiprocessing.get_context("spawn")  # safe with threads, on every OS
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=torch.set_num_threads,
                                   initargs=(threads_per_run(dev, workers),))
        try:
            futures = {pool.submit(_run_one, v, s, base, str(dev), folder): i
                       for i, (v, s) in enumerate(tasks)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if log is not None:
                    _report(results[futures[future]][0], log)
        finally:
            # On an error, do not train the queued runs before reporting it.
            pool.shutdown(wait=True, cancel_futures=True)
    rows = [results[i][0] for i in range(len(tasks))]
    histories = {(v.name, s): results[i][1] for i, (v, s) in enumerate(tasks)}
    return pd.DataFrame(rows), histories


def study_key(variants: Sequence[Variant], seeds: Sequence[int], base: Recipe,
              device: torch.device, workers: int) -> dict[str, Any]:
    """Everything that determines a study's results, to recognise an identical earlier run."""
    return {
        "variants": [[v.name, v.describe()] for v in variants],
        "seeds": [int(s) for s in seeds],
        "recipe": dataclasses.asdict(base),
        "device": device.type,
        "threads per run": threads_per_run(device, workers),
        "mnist_lib": __version__,
        "torch": str(torch.__version__),
    }


def save_study(path: str | os.PathLike[str], runs: pd.DataFrame,
               histories: dict[tuple[str, int], History], key: dict[str, Any] | None = None) -> None:
    """Write the runs, every history and the study's key to one JSON file, atomically."""
    payload = {
        "key": key or {},
        "runs": runs.to_dict(orient="records"),
        "histories": [{"variant": v, "seed": s, "rows": h.rows, "meta": h.meta}
                      for (v, s), h in histories.items()],
    }
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(payload, indent=1))


def load_study(path: str | os.PathLike[str]) -> tuple[dict[str, Any], pd.DataFrame, dict[tuple[str, int], History]]:
    """Read what `save_study` wrote: (key, runs, histories)."""
    payload = json.loads(Path(path).read_text())
    histories = {(h["variant"], h["seed"]): History(rows=h["rows"], meta=h["meta"]) for h in payload["histories"]}
    return payload.get("key", {}), pd.DataFrame(payload["runs"]), histories


def run_or_load_study(
    path: str | os.PathLike[str],
    variants: Sequence[Variant],
    seeds: Sequence[int],
    base: Recipe,
    *,
    device: str | torch.device = "auto",
    workers: int = 0,
    log: Log | None = print,
    **kwargs: Any,
) -> tuple[pd.DataFrame, dict[tuple[str, int], History]]:
    """`run_study`, unless `path` holds the results of an identical study (same variants,
    seeds, recipe, device type, threads per run and versions): then those are loaded, and
    said so. Results are saved to `path` after a run. Delete the file to train again."""
    check_variants(variants, base)
    dev = select_device(device)
    workers = min(workers or default_workers(dev), len(variants) * len(seeds))
    key = study_key(variants, seeds, base, dev, workers)
    json.dumps(key)  # fails now, not after hours of training, if anything is not plain JSON
    path = Path(path)
    if path.is_file():
        try:
            saved_key, runs, histories = load_study(path)
        except (ValueError, KeyError, TypeError) as e:
            saved_key = None
            if log is not None:
                log(f"{path} is unreadable ({type(e).__name__}); training again, it will be replaced.")
        if saved_key == key:
            if log is not None:
                log(f"Loaded the results of an identical earlier study from {path.name} "
                    f"({len(runs)} runs); delete it to train again.")
                for row in runs.to_dict(orient="records"):
                    _report(row, log)
            return runs, histories
    runs, histories = run_study(variants, seeds, base, device=dev, log=log, workers=workers, **kwargs)
    save_study(path, runs, histories, key)
    return runs, histories


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of test accuracy and loss, per variant."""
    grouped = runs.groupby("variant", sort=False)
    return pd.DataFrame({
        "seeds": grouped["seed"].count(),
        "test acc mean (%)": grouped["test_acc"].mean(),
        "test acc std": grouped["test_acc"].std(ddof=1),
        "test loss mean": grouped["test_loss"].mean(),
        "test loss std": grouped["test_loss"].std(ddof=1),
        "train acc mean (%)": grouped["train_acc"].mean(),
        "parameters": grouped["parameters"].first(),
        "seconds per run": grouped["seconds"].mean(),
    })


def mean_curves(histories: dict[tuple[str, int], History], column: str = "test_acc") -> pd.DataFrame:
    """Per-epoch mean of `column` over seeds, one column per variant."""
    series: dict[str, list[pd.Series]] = {}
    for (variant, _), h in histories.items():
        series.setdefault(variant, []).append(pd.Series(h.column(column), index=h.column("epoch")))
    return pd.DataFrame({v: pd.concat(s, axis=1).mean(axis=1) for v, s in series.items()})
