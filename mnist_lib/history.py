"""Training history: one row per epoch, written as CSV, and the training loss at a finer
grain (per tenth of an epoch), for curves that show more than a point per epoch."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_path

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")
STEPS_PER_EPOCH = 10  # points of `History.steps` per epoch


@dataclass
class History:
    """One row per epoch (see `COLUMNS`; accuracies in percent, `seconds` of training), and
    `steps`: the mean training loss over each tenth of an epoch's steps, as [epoch, loss]
    with the epoch counted in fractions (0.1 is the end of the first epoch's first tenth)."""

    rows: list[dict[str, float]] = field(default_factory=list)
    steps: list[list[float]] = field(default_factory=list)

    def append(self, **row: float) -> None:
        if set(row) != set(COLUMNS):
            raise ValueError(f"a history row has exactly {list(COLUMNS)}, got {sorted(row)}")
        bad = [k for k, v in row.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"history values must be finite numbers: {bad} are not")
        self.rows.append({k: row[k] for k in COLUMNS})

    def column(self, name: str) -> list[float]:
        return [r[name] for r in self.rows]

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's row."""
        if not self.rows:
            raise ValueError("history is empty")
        return self.rows[-1]

    def save_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the table atomically, one row per epoch."""
        path = Path(path)
        with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        return path
