"""Per-epoch training history, saved as JSON (with metadata) or CSV (the table only)."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_path

COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")


@dataclass
class History:
    """One row per epoch (see `COLUMNS`; accuracies in percent) plus run metadata."""

    rows: list[dict[str, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def append(self, **row: float) -> None:
        missing = set(COLUMNS) - set(row)
        if missing:
            raise ValueError(f"history row lacks {sorted(missing)}")
        self.rows.append({k: row[k] for k in COLUMNS})

    def column(self, name: str) -> list[float]:
        return [r[name] for r in self.rows]

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's row."""
        if not self.rows:
            raise ValueError("history is empty")
        return self.rows[-1]

    def to_frame(self):  # -> pandas.DataFrame, imported lazily
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically; the format follows the suffix (.json or .csv)."""
        path = Path(path)
        if path.suffix not in (".json", ".csv"):
            raise ValueError(f"history files end in .json or .csv, got {path.name}")
        with atomic_path(path) as tmp:
            if path.suffix == ".json":
                tmp.write_text(json.dumps({"meta": self.meta, "rows": self.rows}, indent=1))
            else:
                with tmp.open("w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=COLUMNS)
                    writer.writeheader()
                    writer.writerows(self.rows)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        path = Path(path)
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            return cls(rows=data["rows"], meta=data.get("meta", {}))
        if path.suffix == ".csv":
            with path.open(newline="") as f:
                rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
            for r in rows:
                r["epoch"] = int(r["epoch"])
            return cls(rows=rows)
        raise ValueError(f"history files end in .json or .csv, got {path.name}")
