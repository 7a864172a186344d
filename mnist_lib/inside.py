"""Looking inside trained models: the figures of notebook 06 and one image transform.

The lessons themselves (calling LeNet-5's layers in order, a forward hook, t-SNE, Captum,
FGSM and PGD) are written out in the notebook; what is here only draws them, or turns
images, which would distract from the lesson.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Float images [N, 1, H, W] in [0, 1] turned by `degrees` about their centre,
    clockwise as an image is shown (row 0 at the top); negative degrees turn the other
    way. Bilinear; corners that come from outside the field are 0, the background. At 90
    degrees it is `torch.rot90(images, -1, (-2, -1))`; at 0 a copy of the images."""
    if degrees == 0:
        return images.clone()
    a = math.radians(degrees)
    theta = torch.tensor(
        [[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0]],
        dtype=images.dtype,
        device=images.device,
    ).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _frame(ax: plt.Axes) -> None:
    ax.set(xticks=[], yticks=[])
    for spine in ax.spines.values():
        spine.set(color="0.6", linewidth=0.8)


def plot_weights(
    weights: torch.Tensor, titles: Sequence[str], ncols: int = 6, title: str = "", size: float = 1.4
) -> Figure:
    """Weight maps [N, H, W] as images, each on its own symmetric colour scale: red
    positive, blue negative, white zero. Which pixels a unit adds up and which it
    subtracts."""
    w = weights.detach().cpu().float()
    nrows = max(1, -(-len(w) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * 1.3 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(w):
            ax.axis("off")
            continue
        limit = float(w[i].abs().max()) or 1.0
        ax.imshow(w[i].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        _frame(ax)
        ax.set_title(titles[i], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(
    stages: Mapping[str, torch.Tensor], ncols: int = 16, title: str = "", size: float = 0.8
) -> Figure:
    """One row per stage: every channel of a tensor [C, H, W] as a small grey image
    (dark = large), each row on one scale so the channels of a stage can be compared."""
    fig, axes = plt.subplots(
        len(stages), ncols, figsize=(size * ncols, size * 1.25 * len(stages)), squeeze=False
    )
    for row, (name, maps) in zip(axes, stages.items()):
        maps = maps.detach().cpu().float()
        low, high = float(maps.min()), float(maps.max())
        for c, ax in enumerate(row):
            if c >= len(maps):
                ax.axis("off")
                continue
            ax.imshow(maps[c].numpy(), cmap="gray_r", vmin=low, vmax=high if high > low else low + 1)
            _frame(ax)
        row[0].set_title(f"{name}: {len(maps)}@{maps.shape[1]}x{maps.shape[2]}", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_embeddings(
    points: Mapping[str, np.ndarray],
    labels: np.ndarray,
    subtitles: Mapping[str, str] | None = None,
    title: str = "",
) -> Figure:
    """2-D embeddings side by side, one dot per image coloured by its digit, with each
    digit's label written at the median of its points."""
    labels = np.asarray(labels)
    fig, axes = plt.subplots(1, len(points), figsize=(5.6 * len(points), 5.4), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (name, xy) in zip(axes[0], points.items()):
        ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=9.5, s=4, alpha=0.7)
        for digit in range(10):
            cx, cy = np.median(xy[labels == digit], axis=0)
            ax.text(
                cx,
                cy,
                str(digit),
                fontsize=14,
                weight="bold",
                ha="center",
                va="center",
                bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": cmap(digit), "alpha": 0.85},
            )
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"{name}\n{subtitles[name]}" if subtitles else name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attributions(
    images: torch.Tensor,
    maps: Mapping[str, torch.Tensor],
    titles: Mapping[str, Sequence[str]],
    image_titles: Sequence[str],
    title: str = "",
    size: float = 1.25,
) -> Figure:
    """A column per image: the image on top, then one row of attribution maps [N, H, W] per
    entry of `maps` (red: pixels that raise the score of the class named in the map's
    title, blue: pixels that lower it), each map on its own symmetric scale."""
    images = images.detach().cpu().reshape(len(images), *images.shape[-2:])
    n = len(images)
    fig, axes = plt.subplots(
        1 + len(maps), n, figsize=(size * n, size * 1.3 * (1 + len(maps))), squeeze=False
    )
    for i in range(n):
        axes[0, i].imshow(images[i].float().numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[0, i].set_title(image_titles[i], fontsize=7)
        _frame(axes[0, i])
        for row, (name, m) in enumerate(maps.items(), start=1):
            a = m[i].detach().cpu().float().reshape(images.shape[-2:])
            limit = float(a.abs().max()) or 1.0
            ax = axes[row, i]
            ax.imshow(a.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            _frame(ax)
            ax.set_title(titles[name][i], fontsize=7)
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
    axes[0, 0].set_ylabel("image", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
