"""The two models: LeNet-5 and a multilayer perceptron with the same parameter count."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .params import match_mlp_widths

NUM_CLASSES = 10
INPUT_SIDE = 32  # LeNet-5 takes 32x32 images: MNIST's 28x28 digits, resized or padded


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with 5x5 kernels in every convolution.

    C1 6@5x5 -> S2 -> C3 16@5x5 -> S4 -> C5 120@5x5 -> F6 84 -> 10 logits, 61,706
    trainable parameters. Modern choices where the paper differs: ReLU instead of the
    scaled tanh, max pooling instead of trainable subsampling, a full C3 connection table
    and a linear output instead of RBF units.

    `batch_norm` and `dropout` are the regularized variants of notebook 05; both are off by
    default. Batch norm adds 2 parameters per channel or unit (452 in all).
    """

    def __init__(self, batch_norm: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")

        def conv_block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
            # Pooling comes before the ReLU: max-pool and ReLU commute, and activating the
            # pooled map touches four times fewer values (a measurable saving on a CPU).
            # Batch norm also sits after the pooling, to be cheap; unlike ReLU it does not
            # commute with pooling, so it normalizes the statistics of the pooled map.
            block: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size=5)]
            if pool:
                block.append(nn.MaxPool2d(2))
            if batch_norm:
                block.append(nn.BatchNorm2d(c_out))
            return block + [nn.ReLU()]

        self.features = nn.Sequential(
            *conv_block(1, 6, pool=True),  # C1 6@28x28, S2 6@14x14
            *conv_block(6, 16, pool=True),  # C3 16@10x10, S4 16@5x5
            *conv_block(16, 120, pool=False),  # C5 120@1x1
        )
        head: list[nn.Module] = [nn.Flatten()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(120, 84))  # F6
        if batch_norm:
            head.append(nn.BatchNorm1d(84))
        head.append(nn.ReLU())
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(84, NUM_CLASSES))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


LENET5_PARAMETERS = 61_706
# Two hidden layers whose sizes bring the MLP within 10 parameters of LeNet-5
# (see `match_mlp_widths`; the seed's one-hidden-layer MLP of 59 units was 631 short).
DEFAULT_MLP_HIDDEN: tuple[int, ...] = match_mlp_widths(LENET5_PARAMETERS, n_hidden=2)[0]


class CustomMLP(nn.Module):
    """A multilayer perceptron on the 32x32 = 1,024 pixels, ReLU between layers."""

    def __init__(
        self, hidden: Sequence[int] = DEFAULT_MLP_HIDDEN, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not hidden or any(int(h) <= 0 for h in hidden):
            raise ValueError(f"hidden sizes must be positive integers, got {list(hidden)}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = INPUT_SIDE * INPUT_SIDE
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        layers.append(nn.Linear(width, NUM_CLASSES))
        self.hidden = tuple(int(h) for h in hidden)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


MODELS = {"lenet5": LeNet5, "mlp": CustomMLP}


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Build a model by its name in `MODELS` ('lenet5' or 'mlp')."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {sorted(MODELS)}") from None
    try:
        return cls(**kwargs)  # type: ignore[arg-type]
    except TypeError as e:
        raise ValueError(f"bad arguments for {name}: {e}") from None
