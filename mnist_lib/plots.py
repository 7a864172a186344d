"""Every figure of the package: training curves, confusion matrices, image grids, the
architecture, and what notebooks 06 and 08 show of the models' insides.

Every function returns the matplotlib Figure it drew, so a notebook can show it and a
script can save it (`save_figure`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .atomic import atomic_path
from .draw import LABELS
from .history import History

if TYPE_CHECKING:
    import pandas as pd

    from .draw import RunLike

# One colour per model on every page (matplotlib's first two), so a reader never has to
# re-learn which line is which.
MODEL_COLORS = {"lenet5": "#1f77b4", "mlp": "#ff7f0e"}

# One colour per digit 0-9 for figures that colour points by class: matplotlib's tab10 less
# its blue and orange (so no digit looks like a model), plus black and a gold.
DIGIT_COLORS = (
    "#2ca02c",  # green
    "#d62728",  # red
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#e377c2",  # pink
    "#7f7f7f",  # grey
    "#bcbd22",  # olive
    "#17becf",  # cyan
    "#000000",  # black
    "#e6c000",  # gold
)


def _palette(n: int) -> list[str]:
    """`n` colours of matplotlib's current colour cycle (seaborn's, once a seaborn theme
    is set). Not seaborn's `color_palette`: importing seaborn costs a `train` run about 2 s."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return [cycle[i % len(cycle)] for i in range(n)]


def _finish(fig: Figure, title: str = "") -> Figure:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _grid(n: int, ncols: int, size: float, aspect: float) -> tuple[Figure, list[plt.Axes]]:
    """A figure of n framed panels in rows of `ncols`; the spare panels of the last row hidden."""
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * aspect * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes.flat[:n]:
        _frame(ax)
    return fig, list(axes.flat[:n])


def _frame(ax: plt.Axes) -> None:
    ax.set(xticks=[], yticks=[])
    for spine in ax.spines.values():
        spine.set(color="0.6", linewidth=0.8)


def _signed(ax: plt.Axes, values: torch.Tensor):
    """Show `values` [H, W] on a symmetric scale: red positive, blue negative, white zero."""
    limit = float(values.abs().max()) or 1.0
    return ax.imshow(values.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)


def plot_histories(
    histories: Mapping[str, History], title: str = "", floors: Mapping[str, float] | None = None
) -> Figure:
    """Loss and accuracy curves of one run or several overlaid (training dashed, validation
    solid), each model in its colour; a run named "" gets no name in the legend (a run
    folder's curves.png is `{"": history}`); the training loss per tenth of an epoch where the
    history has it (`History.steps`). The training curves are running figures (averaged over
    the batches as they were trained on), and their legend says so, so that no reader takes
    them for the accuracy of the finished weights. The accuracy axis shows every point of
    every curve, the first epoch's too; `floors` draws a dotted line per run at its target."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    palette = _palette(max(len(histories), 1))
    lowest = 100.0
    for other_color, (name, h) in zip(palette, histories.items()):
        color = MODEL_COLORS.get(name, other_color)
        epochs = h.column("epoch")
        prefix = f"{LABELS.get(name, name)} " if name else ""
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "acc")):
            if metric == "loss" and h.steps:  # the finer grain, where the run recorded it
                at, loss = zip(*h.steps)
                ax.plot(
                    at,
                    loss,
                    "--",
                    color=color,
                    lw=1,
                    label=f"{prefix}training, mean of each tenth of an epoch",
                )
            else:
                running = f"{prefix}training, running mean over each epoch"
                ax.plot(epochs, h.column(f"train_{metric}"), "--", color=color, label=running)
            ax.plot(epochs, h.column(f"val_{metric}"), "-o", ms=3, color=color, label=f"{prefix}validation")
        lowest = min(lowest, *h.column("train_acc"), *h.column("val_acc"))
        if floors and floors.get(name):
            ax_acc.axhline(
                floors[name], color=color, ls=":", lw=1.2, label=f"{prefix}floor {floors[name]:g}%"
            )
            lowest = min(lowest, floors[name])
    # On a log scale the late epochs, where training and validation part, stay readable.
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (log scale)", title="Loss", yscale="log")
    ax_acc.set(
        xlabel="epoch", ylabel="accuracy (%)", title="Accuracy", ylim=(max(0.0, math.floor(lowest - 1)), 100)
    )
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _finish(fig, title)


def plot_schedules(
    traces: dict[str, tuple[Sequence[float], Sequence[float]]],
    epochs: dict[str, int],
    titles: dict[str, str] | None = None,
    momentum_label: dict[str, str] | None = None,
) -> Figure:
    """One panel per model: its learning rate at every step (solid, left axis) and its
    momentum (dashed, right axis) against the epoch. `traces` maps a model's name to
    (rates, momenta), one value per step; `epochs` to its number of epochs. Each model
    keeps its colour (LeNet-5 blue, the MLP orange) so the panels read like the curves."""
    fig, axes = plt.subplots(1, len(traces), figsize=(5.5 * len(traces), 3.9), squeeze=False)
    palette = _palette(max(len(traces), 1))
    for ax, other_color, (name, (rates, momenta)) in zip(axes[0], palette, traces.items()):
        color = MODEL_COLORS.get(name, other_color)
        at = [step * epochs[name] / len(rates) for step in range(len(rates))]  # steps as epochs
        ax.plot(at, rates, color=color, label="learning rate (left axis)")
        ax.set(xlabel="epoch", ylabel="learning rate", title=(titles or {}).get(name, LABELS.get(name, name)))
        twin = ax.twinx()
        # The same colour, dashed and lighter: the second quantity of the same model.
        twin.plot(at, momenta, color=color, ls="--", alpha=0.6, label="momentum (right axis)")
        twin.set_ylabel((momentum_label or {}).get(name, "momentum"))
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(
            lines,
            [line.get_label() for line in lines],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
            fontsize=8,
        )  # below the panel: off the curves
    fig.tight_layout()
    return fig


def plot_confusion(
    matrices: Mapping[str, np.ndarray],
    title: str = "",
    hide_diagonal: bool = False,
    cmaps: Mapping[str, str] | None = None,
) -> Figure:
    """Confusion matrices side by side as seaborn heatmaps (rows: true, columns: predicted).

    With `hide_diagonal`, correct predictions are blanked so the errors stand out. All
    panels share one count scale (vmin 0, one vmax). `cmaps` maps a panel's name to its
    colour map, so each model can keep its colour (LeNet-5 "Blues", the MLP "Oranges");
    panels it does not name are "Blues".
    """
    import seaborn as sns

    fig, axes = plt.subplots(1, len(matrices), figsize=(5.2 * len(matrices), 4.4), squeeze=False)
    shown = [cm * (1 - np.eye(len(cm), dtype=cm.dtype)) if hide_diagonal else cm for cm in matrices.values()]
    vmax = max(int(cm.max()) for cm in shown) or 1
    style = {"annot": True, "fmt": "d", "cbar": False, "annot_kws": {"fontsize": 7}}
    for ax, (name, cm) in zip(axes[0], matrices.items()):
        mask = np.eye(len(cm), dtype=bool) if hide_diagonal else None
        cmap = (cmaps or {}).get(name, "Blues")
        sns.heatmap(cm, mask=mask, ax=ax, vmin=0, vmax=vmax, cmap=cmap, **style)
        ax.set(xlabel="predicted", ylabel="true", title=name)
    return _finish(fig, title)


def plot_images(
    images: torch.Tensor,
    labels: Sequence[int | str] | torch.Tensor,
    preds: Sequence[int] | torch.Tensor | None = None,
    ncols: int = 10,
    title: str = "",
    size: float = 1.1,
    fontsize: float = 7,
) -> Figure:
    """A grid of grayscale images titled with their label (any text), or with the true and
    predicted class when `preds` is given (red when they differ). Each image has a thin
    frame at its edge, so that where the digit sits in the field can be seen. `fontsize`
    is the labels' (the default suits small panels; larger panels can afford more)."""
    images = images.detach().cpu().reshape(len(images), *images.shape[-2:])
    fig, axes = _grid(len(images), ncols, size, 1.25)
    for i, ax in enumerate(axes):
        ax.imshow(images[i].float().numpy(), cmap="gray_r")
        label = labels[i].item() if isinstance(labels[i], torch.Tensor) else labels[i]
        text, color = str(label), "black"
        if preds is not None:
            text = f"true {int(labels[i])} / pred {int(preds[i])}"
            color = "black" if int(preds[i]) == int(labels[i]) else "crimson"
        ax.set_title(text, fontsize=fontsize, color=color)
    return _finish(fig, title)


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> None:
    """Save `fig` atomically; the format follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")


def plot_architecture(table: pd.DataFrame, title: str | None = None, model: str = "lenet5") -> Figure:
    """A block diagram of a network from its `params.parameter_table`: one stack of squares
    per layer of maps (a square's side is the map's side, to scale; at most six squares,
    however many channels), then one bar per vector (a fully connected layer, or maps of 1x1
    such as LeNet-5's C5) a quarter of a unit tall per number, on a scale of its own, cut
    off at the image's height with a break mark across it (the MLP's 1,024 pixels), with
    the layer's name and output shape under each. A network
    whose first layer is fully connected (the MLP) gets a grey "flatten" bar after the image:
    it reads the 32x32 image as one vector. The layers are drawn in shades of the model's
    colour in `MODEL_COLORS` (`model` "lenet5": blues, "mlp": oranges), the input in grey.
    The figure's width follows the drawing at a fixed scale, so two models drawn one after
    the other can be compared square for square."""
    shades = {"lenet5": plt.cm.Blues, "mlp": plt.cm.Oranges}[model]
    fig, ax = plt.subplots()
    x, biggest = 0.0, 32.0

    def block(left: float, bottom: float, width: float, height: float, color: tuple) -> None:
        ax.add_patch(plt.Rectangle((left, bottom), width, height, facecolor=color, edgecolor="0.3", lw=0.8))

    rows = [("input", (1, 32, 32))] + list(zip(table["layer"], table["output shape"]))
    if len(rows) > 1 and len(rows[1][1]) == 1:  # the first layer reads a vector: the image flattened
        rows.insert(1, ("flatten", (32 * 32,)))
    for name, shape in rows:
        if len(shape) == 3 and shape[-1] > 1:
            channels, side = shape[0], shape[-1]
            shown = min(channels, 6)  # a few stacked squares stand for many channels
            for i in range(shown):
                offset = i * 2.2
                shade = plt.cm.Greys(0.25) if name == "input" else shades(0.25 + 0.1 * i)
                block(x + offset, offset + (biggest - side) / 2, side, side, shade)
            width = side + (shown - 1) * 2.2
            label = f"{name}\n{channels}@{side}×{side}"
        else:  # a vector: a fully connected layer's output, or C maps of 1x1 (LeNet-5's C5)
            height = min(biggest, shape[0] / 4)
            if name == "flatten":
                color = plt.cm.Greys(0.25)  # the input's pixels, only rearranged
            else:
                color = shades(0.45) if len(shape) == 3 else MODEL_COLORS[model]  # C5, or F6 and output
            block(x, (biggest - height) / 2, 3, height, color)
            if shape[0] / 4 > biggest:  # cut off: a slanted white gap, edged, says "longer than drawn"
                y = biggest * 0.75
                ax.plot([x - 0.8, x + 3.8], [y - 0.6, y + 0.6], color="white", lw=4, solid_capstyle="butt")
                for dy in (-1.1, 1.1):
                    ax.plot([x - 0.8, x + 3.8], [y - 0.6 + dy, y + 0.6 + dy], color="0.3", lw=0.8)
            width = 3
            label = f"{name}\n{shape[0]}@1×1" if len(shape) == 3 else f"{name}\n{shape[0]:,}"
        ax.text(x + width / 2, -4, label, ha="center", va="top", fontsize=9)
        x += width + (9 if len(shape) == 3 and shape[-1] > 1 else 12)  # bars: room for "hidden.0"
    bottom, top = -14, biggest + 16
    ax.set(xlim=(-2, x - 8), ylim=(bottom, top), aspect="equal", title=title or LABELS[model])
    ax.axis("off")
    fig.set_size_inches(round(3.6 * (x - 6) / (top - bottom), 1), 3.6)  # one scale for every drawing
    return _finish(fig)


def plot_parameters_and_macs(tables: Mapping[str, pd.DataFrame]) -> Figure:
    """Two panels of horizontal bars, parameters (left) and MACs per image (right), one bar
    per layer with weights of each model in `tables` (model key, as in `MODEL_COLORS` ->
    its `params.parameter_table`), in the model's colour and labelled with the layer's
    share of its model's total; each panel's title gives the totals. Where a layer sits
    on the left and on the right shows which layers hold the parameters and which do the
    arithmetic."""
    import pandas as pd

    layers = pd.concat([t.assign(model=LABELS[key]) for key, t in tables.items()])
    layers = layers[layers["parameters"] > 0]  # pooling has neither parameters nor MACs
    colors = [MODEL_COLORS[key] for key, t in tables.items() for n in t["parameters"] if n > 0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.3 * len(layers) + 1.2), sharey=True)
    for ax, column, title in zip(axes, ("parameters", "MACs"), ("parameters", "MACs per image")):
        bars = ax.barh(layers["model"] + " " + layers["layer"], layers[column], color=colors)
        share = layers[column] / layers.groupby("model")[column].transform("sum")
        ax.bar_label(bars, [f"{s:.0%}" if s >= 0.01 else f"{s:.1%}" for s in share], padding=2, fontsize=8)
        totals = ", ".join(f"{m} {n:,}" for m, n in layers.groupby("model", sort=False)[column].sum().items())
        ax.set_title(f"{title}: {totals}", fontsize=10)
        ax.margins(x=0.12)  # room for the share labels past the longest bar
        ax.xaxis.set_major_formatter("{x:,.0f}")
    axes[0].invert_yaxis()  # the first layer at the top
    return _finish(fig)


def plot_kernel_sliding(
    image: torch.Tensor,
    kernel: torch.Tensor,
    positions: Sequence[tuple[int, int]] = ((0, 0), (8, 12), (27, 27)),
) -> Figure:
    """One k x k kernel sliding over an n x n image: the window at a few positions (left),
    the kernel's weights (middle) and the (n - k + 1) x (n - k + 1) map of its responses
    (right), the same positions marked; each of the last two with its colour key."""
    import torch.nn.functional as F

    k, n = kernel.shape[-1], image.shape[-1]
    kernel = kernel.reshape(k, k).float()
    response = F.conv2d(image.reshape(1, 1, n, n).float(), kernel.reshape(1, 1, k, k))[0, 0]
    fig, (ax_in, ax_k, ax_out) = plt.subplots(
        1, 3, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 0.55, 1]}
    )
    ax_in.imshow(image.reshape(n, n).float().numpy(), cmap="gray_r")
    fig.colorbar(_signed(ax_k, kernel), ax=ax_k, shrink=0.6, label="weight")
    limit = float(kernel.abs().max())
    for (row, col), w in np.ndenumerate(kernel.numpy()):
        dark = abs(w) > limit / 2  # white digits on the saturated colours
        ax_k.text(
            col, row, f"{w:g}", ha="center", va="center", fontsize=9, color="white" if dark else "black"
        )
    fig.colorbar(_signed(ax_out, response), ax=ax_out, shrink=0.8, label="response")
    # Not the models' colours (MODEL_COLORS, the cycle's first two), nor red, which the
    # red-blue response map would swallow.
    colors = [c for i, c in enumerate(_palette(len(positions) + 3)) if i not in (0, 1, 3)]
    for color, (row, col) in zip(colors, positions):
        ax_in.add_patch(plt.Rectangle((col - 0.5, row - 0.5), k, k, fill=False, edgecolor=color, lw=2))
        ax_out.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=color, lw=2))
    ax_in.set_title(f"input {n}×{n}, a {k}×{k} window\nat three places", fontsize=10)
    ax_k.set_title(f"the {k}×{k} kernel", fontsize=10)
    ax_out.set_title(f"response map {n - k + 1}×{n - k + 1}\n(= {n} − {k} + 1)", fontsize=10)
    for ax in (ax_in, ax_k, ax_out):
        ax.set(xticks=[], yticks=[])
    return _finish(fig)


# --- inside the models (notebook 06) ---------------------------------------------------


def one_colour_scale(fig: Figure, axes: Sequence[Axes], label: str, signed: bool = True) -> None:
    """Redraw the image in each of `axes` on one shared scale, with one colour bar named
    `label`: symmetric about 0 (white) for signed values, white to red from 0 for sizes
    (`signed=False`). Maps drawn each on its own scale cannot be compared by colour."""
    maps = [ax.images[0] for ax in axes]
    limit = max(float(abs(m.get_array()).max()) for m in maps)
    for m in maps:
        m.set_clim(-limit if signed else 0, limit)
        m.set_cmap("RdBu_r" if signed else "Reds")
    fig.colorbar(maps[0], ax=list(axes), label=label, shrink=0.8, pad=0.02)


def plot_weights(
    weights: torch.Tensor, titles: Sequence[str], ncols: int = 6, title: str = "", size: float = 1.4
) -> Figure:
    """Weight maps [N, H, W] as images, each on its own symmetric colour scale: red
    positive, blue negative, white zero. Which pixels a unit adds up and which it
    subtracts."""
    w = weights.detach().cpu().float()
    fig, axes = _grid(len(w), ncols, size, 1.3)
    for i, ax in enumerate(axes):
        _signed(ax, w[i])
        ax.set_title(titles[i], fontsize=8)
    return _finish(fig, title)


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
        row[0].set_title(f"{name}: {len(maps)}@{maps.shape[1]}x{maps.shape[2]}", fontsize=10, loc="left")
    return _finish(fig, title)


def plot_embeddings(
    points: Mapping[str, np.ndarray],
    labels: np.ndarray,
    subtitles: Mapping[str, str] | None = None,
    title: str = "",
) -> Figure:
    """2-D embeddings side by side, one dot per image coloured by its digit (`DIGIT_COLORS`,
    none of them a model's colour), each digit's label written at the median of its points,
    and one key of the ten colours below the panels."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    labels = np.asarray(labels)
    fig, axes = plt.subplots(1, len(points), figsize=(5.6 * len(points), 5.8), squeeze=False)
    cmap = ListedColormap(DIGIT_COLORS)
    for ax, (name, xy) in zip(axes[0], points.items()):
        ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=9.5, s=4, alpha=0.7)
        for digit in range(10):
            cx, cy = np.median(xy[labels == digit], axis=0)
            circle = {"boxstyle": "circle,pad=0.2", "fc": "white", "ec": DIGIT_COLORS[digit], "alpha": 0.85}
            ax.text(cx, cy, str(digit), fontsize=14, weight="bold", ha="center", va="center", bbox=circle)
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"{name}\n{subtitles[name]}" if subtitles else name, fontsize=10)
    key = [
        Line2D([], [], ls="", marker="o", ms=7, color=color, label=str(digit))
        for digit, color in enumerate(DIGIT_COLORS)
    ]
    fig = _finish(fig, title)
    fig.legend(
        handles=key,
        title="digit",
        loc="lower center",
        ncols=10,
        frameon=False,
        handletextpad=0.1,
        columnspacing=1.2,
    )
    fig.subplots_adjust(bottom=0.14)
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
            ax = axes[row, i]
            _signed(ax, m[i].detach().cpu().float().reshape(images.shape[-2:]))
            _frame(ax)
            ax.set_title(titles[name][i], fontsize=7)
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
    axes[0, 0].set_ylabel("image", fontsize=8)
    return _finish(fig, title)


# --- the drawing widget, still (notebook 08) ---------------------------------------------


def plot_pipeline(
    drawing: np.ndarray, lenet5: RunLike, mlp: RunLike, shifts: tuple[int, ...] = (0,)
) -> Figure:
    """The widget's view, still: the drawing, the field the models read, both models'
    probabilities and LeNet-5's C1 maps; one row per horizontal shift in `shifts`. Images
    are dark ink on white, as elsewhere in the tutorial; each C1 filter's maps share one
    grey scale over the rows, from 0 to that filter's largest value, so rows compare."""
    from .augment import shift
    from .draw import analyse, to_mnist

    field0 = to_mnist(drawing)
    widths = {"width_ratios": [1.2, 1, 2.2, 1, 1, 1, 1, 1, 1]}
    fig, axes = plt.subplots(
        len(shifts), 9, figsize=(15, 1.9 * len(shifts)), squeeze=False, gridspec_kw=widths
    )
    outs = [analyse(shift(field0, dx, 0), lenet5, mlp) for dx in shifts]
    tops = [max(float(out["maps"][k].max()) for out in outs) for k in range(6)]
    for row, dx, out in zip(axes, shifts, outs):
        field = shift(field0, dx, 0)
        if dx == shifts[0]:  # the drawing once: every row moves the same field
            row[0].imshow(drawing, cmap="gray_r")
            row[0].set_title("drawing", fontsize=9)
        else:
            row[0].axis("off")
        row[1].imshow(field, cmap="gray_r")
        row[1].set_title(f"28x28, shift {dx:+d}", fontsize=9)
        for offset, (name, probs) in zip((-0.2, 0.2), out["probs"].items()):
            label = f"{LABELS[name]}: {int(probs.argmax())}"
            row[2].bar(
                np.arange(10) + offset, probs.numpy(), width=0.4, label=label, color=MODEL_COLORS[name]
            )
        row[2].set_xticks(range(10))
        row[2].set_ylim(0, 1)
        row[2].legend(fontsize=8, loc="upper left")
        row[2].set_title("class probabilities", fontsize=9)
        for k, ax in enumerate(row[3:]):
            ax.imshow(out["maps"][k], cmap="gray_r", vmin=0, vmax=tops[k] or 1)
            ax.set_title(f"C1 filter {k}", fontsize=9)
        for ax in (*row[:2], *row[3:]):
            ax.set(xticks=[], yticks=[])
    return _finish(fig)
