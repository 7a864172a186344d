"""Looking at trained models: confusion, per-class accuracy, shifted digits, seed statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .augment import shift
from .batches import Batches
from .train import EVAL_BATCH_SIZE, evaluate


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, n: int = 10) -> np.ndarray:
    """Counts indexed [true class, predicted class]."""
    idx = labels.long().cpu() * n + preds.long().cpu()
    return torch.bincount(idx, minlength=n * n).reshape(n, n).numpy()


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Accuracy (percent) of each true class, from a confusion matrix."""
    return 100.0 * np.diag(cm) / cm.sum(1)


def most_confused(cm: np.ndarray, k: int = 5) -> pd.DataFrame:
    """The k largest off-diagonal counts: which true digit is most often read as which."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:k]
    rows = [divmod(int(i), cm.shape[1]) for i in order]
    return pd.DataFrame([{"true": t, "predicted": p, "count": int(off[t, p])} for t, p in rows])


def accuracy_on(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy (percent) on uint8 images [N, 1, 32, 32] (normalized as in training)."""
    device = next(model.parameters()).device
    return evaluate(model, Batches(images, labels, EVAL_BATCH_SIZE, device=device))[1]


def shifted_accuracy(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    pixels: Sequence[int] = (0, 1, 2, 3, 4),
) -> pd.DataFrame:
    """Test accuracy when every digit is moved by p pixels, averaged over the four
    directions (left, right, up, down): one row per shift, one column per model."""
    rows = []
    for p in pixels:
        moves = [(0, 0)] if p == 0 else [(p, 0), (-p, 0), (0, p), (0, -p)]
        row: dict[str, float] = {"shift (pixels)": p}
        for name, model in models.items():
            row[name] = float(
                np.mean([accuracy_on(model, shift(images, dx, dy), labels) for dx, dy in moves])
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("shift (pixels)")


def compare_to_baseline(
    results: Mapping[str, Sequence[float]],
    baseline: str,
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Each variant against the baseline with Welch's t-test (scipy), two-sided.

    Columns: n, mean, std, diff (from the baseline's mean), t, p, and a verdict: "helps" or
    "hurts" when p < `alpha`, else "undecided": the seeds cannot tell the difference from
    seed-to-seed noise (which does not show that there is none). For a loss, pass
    `higher_is_better=False`. Each comparison is tested on its own, with no correction
    for testing several variants. Needs at least 2 values per variant.
    """
    from scipy import stats

    b = np.asarray(results[baseline], dtype=float)
    rows = []
    for name, values in results.items():
        v = np.asarray(values, dtype=float)
        if min(len(v), len(b)) < 2:
            raise ValueError("compare_to_baseline needs at least 2 values per variant")
        diff = float(v.mean() - b.mean())
        test = stats.ttest_ind(v, b, equal_var=False)
        t, p = float(test.statistic), float(test.pvalue)
        if name == baseline:
            verdict = "baseline"
        elif p < alpha:
            verdict = "helps" if (diff > 0) == higher_is_better else "hurts"
        else:
            verdict = "undecided"
        rows.append(
            {
                "variant": name,
                "n": len(v),
                "mean": float(v.mean()),
                "std": float(v.std(ddof=1)),
                "diff": diff,
                "t": t,
                "p": p,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows).set_index("variant")
