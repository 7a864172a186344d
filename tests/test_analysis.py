"""The analysis helpers behind notebooks 04 and 05."""

from __future__ import annotations

import pytest
import torch

from mnist_lib import analysis
from mnist_lib.models import LeNet5


def test_confusion_per_class_and_most_confused():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 1])
    cm = analysis.confusion_matrix(preds, labels, n=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 1], [0, 1, 0]]
    assert analysis.per_class_accuracy(cm).round(1).tolist() == [50.0, 66.7, 0.0]
    top = analysis.most_confused(cm, k=2)
    assert top["count"].tolist() == [1, 1] and set(zip(top["true"], top["predicted"])) <= {
        (0, 1),
        (1, 2),
        (2, 1),
    }


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
    table = analysis.shifted_accuracy(
        {"m": _InkOnTheLeft(), "lenet5": LeNet5()}, images, labels, pixels=(0, 1)
    )
    assert list(table.index) == [0, 1] and list(table.columns) == ["m", "lenet5"]
    assert table.loc[0, "m"] == 100.0 == analysis.accuracy_on(_InkOnTheLeft(), images, labels)
    # Moved right the dot crosses to column 16; left, up and down it stays "left": 3 of 4.
    assert table.loc[1, "m"] == 75.0


def test_compare_to_baseline_verdicts():
    table = analysis.compare_to_baseline(
        {
            "base": [99.0, 99.1, 99.05],
            "better": [99.5, 99.55, 99.45],
            "same": [99.1, 98.95, 99.05],
            "worse": [98.0, 98.1, 98.05],
        },
        baseline="base",
    )
    assert table.loc["better", "verdict"] == "helps"
    assert table.loc["worse", "verdict"] == "hurts"
    assert table.loc["same", "verdict"] == "undecided"
    assert table.loc["base", "verdict"] == "baseline"
    assert table.loc["better", "diff"] == pytest.approx(0.45)
    assert 0 < table.loc["better", "p"] < 0.05 and table.loc["same", "p"] > 0.05
    # the same difference with a larger spread is not enough
    noisy = analysis.compare_to_baseline({"base": [98.8, 99.3, 99.05], "b": [99.2, 99.75, 99.55]}, "base")
    assert noisy.loc["b", "verdict"] == "undecided"
    losses = analysis.compare_to_baseline(
        {"base": [0.03, 0.031, 0.029], "b": [0.02, 0.021, 0.019]}, "base", higher_is_better=False
    )
    assert losses.loc["b", "verdict"] == "helps"
    with pytest.raises(ValueError, match="at least 2"):
        analysis.compare_to_baseline({"base": [99.0], "b": [99.1]}, "base")
