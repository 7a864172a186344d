"""Counting parameters and multiply-accumulates, layer by layer, and sizing the MLP."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:  # pandas is imported where a table is made: the training path never needs it
    import pandas as pd


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mlp_parameter_count(hidden: Sequence[int], n_in: int = 1024, n_out: int = 10) -> int:
    """Parameters of a fully connected net n_in -> hidden... -> n_out (weights and biases)."""
    sizes = [n_in, *hidden, n_out]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def match_mlp_widths(
    target: int, n_hidden: int, n_in: int = 1024, n_out: int = 10, min_width: int | None = None
) -> tuple[tuple[int, ...], int]:
    """Hidden widths (non-increasing, none under `min_width`, default `n_out`) whose MLP
    comes closest to `target` parameters: (widths, count - target). Between equally close
    counts the one under the target wins, then the widest first layer, then the second...
    The last width is solved for directly, the others searched exhaustively.
    """
    low = n_out if min_width is None else min_width
    if n_hidden < 1:
        raise ValueError(f"n_hidden must be at least 1, got {n_hidden}")
    if target < mlp_parameter_count([low] * n_hidden, n_in, n_out):
        raise ValueError(f"no MLP with {n_hidden} hidden layers of width >= {low} is as small as {target}")
    top = target // (n_in + 1) + 1  # no hidden layer can be wider than this
    candidates = []
    for head in itertools.combinations_with_replacement(
        range(top, low - 1, -1), n_hidden - 1
    ):  # non-increasing
        prev = head[-1] if head else n_in
        base = mlp_parameter_count(head, n_in, 0) if head else 0
        # count(last) = base + (prev + 1) * last + (last + 1) * n_out: linear in `last`
        guess = (target - base - n_out) / (prev + 1 + n_out)
        for last in {math.floor(guess), math.ceil(guess)}:
            candidates.append((*head, max(low, min(last, head[-1] if head else top))))

    def gap(widths: tuple[int, ...]) -> int:
        return mlp_parameter_count(widths, n_in, n_out) - target

    widths = min(candidates, key=lambda w: (abs(gap(w)), gap(w), tuple(-x for x in w)))
    return widths, gap(widths)


def _formula(module: nn.Module) -> str:
    n = count_parameters(module)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        bias = "+1" if module.bias is not None else ""
        return f"({kh}·{kw}·{module.in_channels}{bias})·{module.out_channels} = {n:,}"
    if isinstance(module, nn.Linear):
        bias = "+1" if module.bias is not None else ""
        return f"({module.in_features}{bias})·{module.out_features} = {n:,}"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return f"2·{module.num_features} = {n:,}"
    return "—" if n == 0 else f"{n:,}"


def parameter_table(model: nn.Module, input_size: Sequence[int] = (1, 1, 32, 32)) -> pd.DataFrame:
    """One row per layer that does something, in the order of the forward pass: name, type,
    output shape, parameters, formula, MACs.

    torchinfo runs one forward pass (batch of `input_size[0]`) and counts each layer's
    multiply-accumulates: every parameter (bias included) once per output position of a
    convolution, once for any other layer. The table gives them per image, and the output
    shapes without the batch dimension. LeNet-5's layers get their paper names (C1, S2,
    ...); identities and dropout that is off are left out.
    """
    import pandas as pd
    import torchinfo

    paths = {module: path for path, module in model.named_modules()}
    rows = []
    for layer in torchinfo.summary(model, input_size=input_size, verbose=0).summary_list:
        module, path = layer.module, paths[layer.module]
        idle = isinstance(module, nn.Identity) or (isinstance(module, nn.Dropout) and module.p == 0)
        if list(module.children()) or idle:
            continue
        rows.append(
            {
                "layer": path.upper() if re.fullmatch(r"[csf]\d", path) else path,
                "type": type(module).__name__,
                "output shape": tuple(layer.output_size[1:]),
                "parameters": count_parameters(module),
                "formula": _formula(module),
                "MACs": layer.macs // input_size[0],
            }
        )
    return pd.DataFrame(rows)


def macs_per_image(model: nn.Module, input_size: Sequence[int] = (1, 1, 32, 32)) -> int:
    """Multiply-accumulates of one forward pass for one image (the table counts per image,
    whatever the batch size of `input_size`)."""
    return int(parameter_table(model, input_size)["MACs"].sum())
