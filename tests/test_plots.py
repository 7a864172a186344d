"""Figures and the analysis helpers behind notebook 04."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from mnist_lib import analysis, plots
from mnist_lib.history import History
from mnist_lib.models import LeNet5


def history(offset: float = 0.0) -> History:
    h = History(meta={"model": "lenet5"})
    for e in (1, 2, 3):
        h.append(epoch=e, train_loss=1 / e, train_acc=90 + e + offset, test_loss=1.1 / e,
                 test_acc=89 + e + offset, seconds=1.0)
    return h


def test_history_plot_has_the_four_curves(tmp_path):
    fig = plots.plot_history(history())
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    assert list(acc_ax.lines[1].get_ydata()) == [90, 91, 92]
    plots.save_figure(fig, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlaid_histories_and_confusion_and_grid():
    fig = plots.plot_histories({"a": history(), "b": history(1.0)})
    assert len(fig.axes[1].lines) == 4
    cm = np.eye(10, dtype=int) * 5
    fig = plots.plot_confusion({"a": cm, "b": cm}, hide_diagonal=True)
    assert len(fig.axes) == 2
    images = torch.zeros(12, 1, 32, 32)
    fig = plots.plot_images(images, list(range(12)), preds=[0] * 12, ncols=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 12 and titles[1] == "true 1 / pred 0"
    assert plots.plot_images(images[:2], ["pad", "resize"]).axes[1].get_title() == "resize"


def test_confusion_per_class_and_most_confused():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 1])
    cm = analysis.confusion_matrix(preds, labels, n=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 1], [0, 1, 0]]
    assert analysis.per_class_accuracy(cm).round(1).tolist() == [50.0, 66.7, 0.0]
    top = analysis.most_confused(cm, k=2)
    assert top["count"].tolist() == [1, 1] and set(zip(top["true"], top["predicted"])) <= {(0, 1), (1, 2), (2, 1)}


def test_shift_moves_pixels_and_fills_with_zero():
    x = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    x[0, 0, 1, 1] = 7
    assert analysis.shift(x, 2, 0)[0, 0, 1, 3] == 7
    assert analysis.shift(x, 0, -1)[0, 0, 0, 1] == 7
    assert analysis.shift(x, 3, 0).sum() == 0  # moved out of the frame
    assert torch.equal(analysis.shift(x, 0, 0), x)


class _InkOnTheLeft(torch.nn.Module):
    """Says 0 when the brightest pixel is in columns 0-15, else 1."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        column = x.flatten(1).argmax(1) % x.shape[-1]
        return torch.nn.functional.one_hot((column > 15).long(), 10).float()


def test_shifted_accuracy_averages_the_four_directions():
    images = torch.zeros(6, 1, 32, 32, dtype=torch.uint8)
    images[:, 0, 10, 15] = 255  # one dot, at the last column the model calls "left"
    labels = torch.zeros(6, dtype=torch.long)
    table = analysis.shifted_accuracy({"m": _InkOnTheLeft(), "lenet5": LeNet5()}, images, labels,
                                      pixels=(0, 1))
    assert list(table.index) == [0, 1] and list(table.columns) == ["m", "lenet5"]
    assert table.loc[0, "m"] == 100.0 == analysis.accuracy_on(_InkOnTheLeft(), images, labels)
    # Moved right the dot crosses to column 16; left, up and down it stays "left": 3 of 4.
    assert table.loc[1, "m"] == 75.0


def test_compare_to_baseline_verdicts():
    table = analysis.compare_to_baseline(
        {"base": [99.0, 99.1, 99.05], "better": [99.5, 99.55, 99.45], "same": [99.1, 98.95, 99.05],
         "worse": [98.0, 98.1, 98.05]}, baseline="base")
    assert table.loc["better", "verdict"] == "helps"
    assert table.loc["worse", "verdict"] == "hurts"
    assert table.loc["same", "verdict"] == "within seed noise"
    assert table.loc["base", "verdict"] == "baseline"
    assert table.loc["better", "diff"] == pytest.approx(0.45)
    assert table.loc["better", "df"] == pytest.approx(4.0)
    # the same difference with a larger spread is not enough
    noisy = analysis.compare_to_baseline({"base": [98.8, 99.3, 99.05], "b": [99.2, 99.75, 99.55]}, "base")
    assert noisy.loc["b", "verdict"] == "within seed noise"
    losses = analysis.compare_to_baseline({"base": [0.03, 0.031, 0.029], "b": [0.02, 0.021, 0.019]},
                                          "base", higher_is_better=False)
    assert losses.loc["b", "verdict"] == "helps"
    assert analysis.t_critical(2) == 4.303 and analysis.t_critical(2.7) == 4.303
    with pytest.raises(ValueError, match="at least 2"):
        analysis.compare_to_baseline({"base": [99.0], "b": [99.1]}, "base")
