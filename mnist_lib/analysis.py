"""Looking at trained models: confusion, per-class accuracy, shifted digits, seed statistics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .batches import normalize


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
    return pd.DataFrame(
        [{"true": t, "predicted": p, "count": int(off[t, p])} for t, p in rows]
    )


def shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move images [N, 1, H, W] by whole pixels (right/down positive), filling with 0."""
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    src_y = slice(max(0, -dy), min(h, h - dy))
    dst_y = slice(max(0, dy), min(h, h + dy))
    src_x = slice(max(0, -dx), min(w, w - dx))
    dst_x = slice(max(0, dx), min(w, w + dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


@torch.inference_mode()
def accuracy_on(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 2000) -> float:
    """Accuracy (percent) on uint8 images [N, 1, 32, 32] (normalized here)."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(images), batch_size):
        x = normalize(images[start : start + batch_size].to(device))
        y = labels[start : start + batch_size].to(device)
        correct += int((model(x).argmax(1) == y).sum())
    return 100.0 * correct / len(images)


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
            row[name] = float(np.mean([accuracy_on(model, shift(images, dx, dy), labels) for dx, dy in moves]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("shift (pixels)")


# Two-sided 95% critical values of Student's t by degrees of freedom.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000}


def t_critical(df: float) -> float:
    """Two-sided 95% critical value of Student's t for `df` degrees of freedom (a table;
    between entries the value for the next smaller df, which errs on the strict side)."""
    if df < 1:
        return math.inf
    usable = [k for k in _T95 if k <= df]
    return _T95[max(usable)] if df <= 60 else 1.96


def compare_to_baseline(
    results: Mapping[str, Sequence[float]], baseline: str, higher_is_better: bool = True
) -> pd.DataFrame:
    """Each variant against the baseline with Welch's t-test at the 5% level.

    Columns: mean, std, diff (from the baseline's mean), se (its standard error), t, df
    (Welch-Satterthwaite), and a verdict: "helps"/"hurts" when |t| exceeds the 95%
    critical value, else "within seed noise". For a loss, pass `higher_is_better=False`. Each comparison is tested on its own (no
    correction for testing several variants). Needs at least 2 seeds per variant.
    """
    b = np.asarray(results[baseline], dtype=float)
    rows = []
    for name, values in results.items():
        v = np.asarray(values, dtype=float)
        if min(len(v), len(b)) < 2:
            raise ValueError("compare_to_baseline needs at least 2 values per variant")
        va, vb = v.var(ddof=1) / len(v), b.var(ddof=1) / len(b)
        se = math.sqrt(va + vb)
        diff = float(v.mean() - b.mean())
        df = (va + vb) ** 2 / (va**2 / (len(v) - 1) + vb**2 / (len(b) - 1)) if se > 0 else math.inf
        t = diff / se if se > 0 else (math.inf if diff else 0.0)
        if name == baseline:
            verdict = "baseline"
        elif abs(t) > t_critical(df):
            verdict = "helps" if (diff > 0) == higher_is_better else "hurts"
        else:
            verdict = "within seed noise"
        rows.append({"variant": name, "mean": float(v.mean()), "std": float(v.std(ddof=1)),
                     "diff": diff, "se": se, "t": t, "df": df, "verdict": verdict})
    return pd.DataFrame(rows).set_index("variant")
