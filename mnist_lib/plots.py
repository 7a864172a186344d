"""Figures: training curves, confusion matrices, image grids.

Every function returns the matplotlib Figure it drew, so a notebook can show it and a
script can save it (`save_figure`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.figure import Figure

from .atomic import atomic_path
from .history import History


def plot_history(history: History, title: str = "") -> Figure:
    """Loss and accuracy per epoch, train and test: the four curves of one run."""
    return plot_histories({title or history.meta.get("model", "model"): history})


def plot_histories(histories: Mapping[str, History], title: str = "") -> Figure:
    """Loss and accuracy curves of several runs overlaid (train dashed, test solid)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    colors = sns.color_palette(n_colors=max(len(histories), 1))
    for color, (name, h) in zip(colors, histories.items()):
        epochs = h.column("epoch")
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "acc")):
            ax.plot(epochs, h.column(f"train_{metric}"), "--", color=color, label=f"{name} train")
            ax.plot(epochs, h.column(f"test_{metric}"), "-o", ms=3, color=color, label=f"{name} test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(
    matrices: Mapping[str, np.ndarray], title: str = "", hide_diagonal: bool = False
) -> Figure:
    """Confusion matrices side by side as seaborn heatmaps (rows: true, columns: predicted).

    With `hide_diagonal`, correct predictions are blanked so the errors stand out. All
    panels share one colour scale, so equal colours mean equal counts.
    """
    fig, axes = plt.subplots(1, len(matrices), figsize=(5.2 * len(matrices), 4.4), squeeze=False)
    shown = [cm * (1 - np.eye(len(cm), dtype=cm.dtype)) if hide_diagonal else cm for cm in matrices.values()]
    vmax = max(int(cm.max()) for cm in shown) or 1
    for ax, (name, cm) in zip(axes[0], matrices.items()):
        mask = np.eye(len(cm), dtype=bool) if hide_diagonal else None
        sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", cbar=False, mask=mask, ax=ax,
                    vmin=0, vmax=vmax, annot_kws={"fontsize": 7})
        ax.set(xlabel="predicted", ylabel="true", title=name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_images(
    images: torch.Tensor,
    labels: Sequence[int | str] | torch.Tensor,
    preds: Sequence[int] | torch.Tensor | None = None,
    ncols: int = 10,
    title: str = "",
    size: float = 1.1,
) -> Figure:
    """A grid of grayscale images titled with their label (any text), or with the true and
    predicted class when `preds` is given (red when they differ)."""
    images = images.detach().cpu().reshape(len(images), *images.shape[-2:])
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * 1.25 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i].float().numpy(), cmap="gray_r")
        label = labels[i].item() if isinstance(labels[i], torch.Tensor) else labels[i]
        text, color = str(label), "black"
        if preds is not None:
            text = f"true {int(labels[i])} / pred {int(preds[i])}"
            color = "black" if int(preds[i]) == int(labels[i]) else "crimson"
        ax.set_title(text, fontsize=7, color=color)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> None:
    """Save `fig` atomically; the format follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")
