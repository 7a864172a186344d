"""The two models: LeNet-5 and a multilayer perceptron with almost its parameter count.

Notebook 02 writes both classes out and checks that they are these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from itertools import pairwise
from typing import Any

import torch
from torch import nn

from .errors import ConfigError

LENET5_PARAMETERS = 61_706
# The two hidden widths that bring the MLP closest to LeNet-5's count (7 short); notebook 02
# finds them with `params.match_mlp_widths`, and a test checks that it still does.
MLP_HIDDEN = (57, 48)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with 5x5 kernels in every convolution: 61,706 parameters.

    Modern choices where the paper differs: ReLU instead of the scaled tanh, max-pooling
    instead of trainable subsampling, every C3 filter sees all six S2 maps, and a linear
    output layer instead of RBF units. `batch_norm` and `dropout` are notebook 05's
    regularized variants, both off by default (then `norm*` are identities, and dropout
    with p=0 passes its input through).
    """

    def __init__(self, batch_norm: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)  # 1@32x32 -> 6@28x28
        self.s2 = nn.MaxPool2d(2)  # -> 6@14x14
        self.c3 = nn.Conv2d(6, 16, kernel_size=5)  # -> 16@10x10
        self.s4 = nn.MaxPool2d(2)  # -> 16@5x5
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)  # -> 120@1x1
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)
        self.norm1 = nn.BatchNorm2d(6) if batch_norm else nn.Identity()
        self.norm3 = nn.BatchNorm2d(16) if batch_norm else nn.Identity()
        self.norm5 = nn.BatchNorm2d(120) if batch_norm else nn.Identity()
        self.norm6 = nn.BatchNorm1d(84) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(torch.relu(self.norm1(self.c1(x))))
        x = self.s4(torch.relu(self.norm3(self.c3(x))))
        x = torch.relu(self.norm5(self.c5(x))).flatten(1)
        x = torch.relu(self.norm6(self.f6(self.dropout(x))))
        return self.output(self.dropout(x))


class CustomMLP(nn.Module):
    """A multilayer perceptron on the 32x32 = 1,024 pixels, ReLU after each hidden layer."""

    def __init__(self, hidden: Sequence[int] = MLP_HIDDEN, dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [32 * 32, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        self.output = nn.Linear(sizes[-1], 10)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.hidden:
            x = self.dropout(torch.relu(layer(x)))
        return self.output(x)


MODEL_NAMES = ("lenet5", "mlp")


@dataclass(frozen=True)
class ModelConfig:
    """Which model, built how: what `build` needs, and what a checkpoint stores.

    `batch_norm` applies to LeNet-5 only, `hidden` to the MLP only.
    """

    name: str = "lenet5"
    batch_norm: bool = False
    dropout: float = 0.0
    hidden: tuple[int, ...] = MLP_HIDDEN

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        problems = []
        if self.name not in MODEL_NAMES:
            problems.append(f"unknown model {self.name!r}: choose one of {list(MODEL_NAMES)}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.name == "mlp" and self.batch_norm:
            problems.append("batch_norm is for lenet5 only")
        if not self.hidden or not all(isinstance(h, int) and h > 0 for h in self.hidden):
            problems.append(f"hidden sizes must be positive integers, got {list(self.hidden)}")
        if self.name == "lenet5" and self.hidden != MLP_HIDDEN:
            problems.append("hidden is for mlp only")
        if problems:
            raise ConfigError("; ".join(problems), "fix the model settings.")

    def build(self) -> nn.Module:
        """A freshly initialized model (seed `torch.manual_seed` first to repeat it)."""
        if self.name == "lenet5":
            return LeNet5(batch_norm=self.batch_norm, dropout=self.dropout)
        return CustomMLP(hidden=self.hidden, dropout=self.dropout)

    def describe(self) -> str:
        """What differs from the plain model, in one line."""
        changed = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if f.name != "name" and getattr(self, f.name) != f.default
        ]
        return ", ".join(changed) or "plain"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """The inverse of `to_dict`; unknown keys are an error."""
        if not isinstance(values, dict):
            raise ConfigError(f"a model configuration is a dict, got {type(values).__name__}")
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown model settings {unknown}")
        return cls(**values)
