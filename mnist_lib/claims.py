"""The runs behind a notebook's ranges.

A notebook that states a range ("99.0-99.4% over three seeds and two kernel sets") records
its own figures with `record`; `make check-claims` runs it at other seeds and with other
CPU kernels and gathers every record into results/claims.csv, which is committed. The
notebook shows that table with `recorded`, so a reader sees every run a range stands on.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import pandas as pd
import torch

from .atomic import atomic_path
from .paths import repo_root

RECORD_FILE = "claims.json"


def results_file() -> Path:
    """The committed table of recorded runs."""
    return repo_root() / "results" / "claims.csv"


def kernels() -> str:
    """The CPU kernel set PyTorch dispatches to here (AVX512, AVX2 or DEFAULT)."""
    return torch.backends.cpu.get_cpu_capability()


def record(folder: str | os.PathLike[str], notebook: str, seed: int, **figures: float) -> Path:
    """Write this run's figures (name -> number) to `folder`/claims.json; return its path."""
    row = {
        "notebook": notebook,
        "seed": seed,
        "kernels": kernels(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        **{k: round(float(v), 4) for k, v in figures.items()},
    }
    path = Path(folder) / RECORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(row, indent=1) + "\n")
    return path


def gather(*folders: str | os.PathLike[str]) -> pd.DataFrame:
    """Every claims.json under `folders`, merged into results/claims.csv (a newer record of
    the same notebook, seed and kernels replaces the older one); return the table."""
    rows = [json.loads(p.read_text()) for f in folders for p in sorted(Path(f).rglob(RECORD_FILE))]
    table = pd.DataFrame(rows)
    path = results_file()
    if path.is_file():
        table = pd.concat([pd.read_csv(path), table], ignore_index=True)
    key = ["notebook", "seed", "kernels"]
    table = table.drop_duplicates(key, keep="last").sort_values(key, ignore_index=True)
    path.parent.mkdir(exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table


def recorded(notebook: str) -> pd.DataFrame:
    """The recorded runs of one notebook ("03_training"), without columns it never filled."""
    path = results_file()
    if not path.is_file():
        return pd.DataFrame()
    table = pd.read_csv(path)
    return table[table["notebook"] == notebook].dropna(axis=1, how="all").reset_index(drop=True)


if __name__ == "__main__":  # make check-claims: python -m mnist_lib.claims FOLDER...
    print(gather(*sys.argv[1:]).to_string(index=False))
