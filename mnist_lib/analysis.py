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


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def compare_to_baseline(
    results: Mapping[str, Sequence[float]], baseline: str, z: float = 2.0
) -> pd.DataFrame:
    """For each variant: mean, std, difference from the baseline's mean, its standard
    error, and a verdict: "helps"/"hurts" when the difference exceeds `z` standard errors
    (Welch), else "within seed noise"."""
    b_mean, b_std = mean_std(results[baseline])
    nb = len(results[baseline])
    rows = []
    for name, values in results.items():
        mean, std = mean_std(values)
        se = math.sqrt(std**2 / len(values) + b_std**2 / nb)
        diff = mean - b_mean
        if name == baseline:
            verdict = "baseline"
        elif se > 0 and abs(diff) > z * se:
            verdict = "helps" if diff > 0 else "hurts"
        else:
            verdict = "within seed noise"
        rows.append({"variant": name, "mean": mean, "std": std, "diff": diff, "se": se, "verdict": verdict})
    return pd.DataFrame(rows).set_index("variant")
