"""The two models, parameter counting and the width helper."""

from __future__ import annotations

import pytest
import torch
import torchinfo

from mnist_lib.errors import ConfigError
from mnist_lib.models import LENET5_PARAMETERS, MLP_HIDDEN, CustomMLP, LeNet5, ModelConfig
from mnist_lib.params import (
    count_parameters,
    macs_per_image,
    match_mlp_widths,
    mlp_parameter_count,
    parameter_table,
)


def test_lenet5_has_exactly_61706_parameters_and_10_logits():
    model = LeNet5()
    assert count_parameters(model) == LENET5_PARAMETERS == 61_706
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 10)


def test_lenet5_uses_5x5_kernels_in_every_convolution():
    convs = [m for m in LeNet5().modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)),
        (6, 16, (5, 5)),
        (16, 120, (5, 5)),
    ]


def test_lenet5_layer_table_shapes_formulas_and_totals():
    table = parameter_table(LeNet5()).set_index("layer")
    assert table.loc["C1", "output shape"] == (6, 28, 28)
    assert table.loc["S2", "output shape"] == (6, 14, 14)
    assert table.loc["C3", "output shape"] == (16, 10, 10)
    assert table.loc["S4", "output shape"] == (16, 5, 5)
    assert table.loc["C5", "output shape"] == (120, 1, 1)
    assert table.loc["F6", "output shape"] == (84,)
    assert table.loc["C1", "formula"] == "(5·5·1+1)·6 = 156"
    assert table.loc["C3", "formula"] == "(5·5·6+1)·16 = 2,416"
    assert table.loc["C5", "formula"] == "(5·5·16+1)·120 = 48,120"
    assert table.loc["F6", "formula"] == "(120+1)·84 = 10,164"
    assert table.loc["output", "formula"] == "(84+1)·10 = 850"
    assert table["parameters"].sum() == 61_706


@pytest.mark.parametrize(
    "model",
    [LeNet5(), CustomMLP(), LeNet5(batch_norm=True, dropout=0.3)],
    ids=["lenet5", "mlp", "lenet5-bn-dropout"],
)
def test_table_totals_agree_with_torchinfo(model):
    summary = torchinfo.summary(model, input_size=(1, 1, 32, 32), verbose=0)
    table = parameter_table(model)
    assert table["parameters"].sum() == summary.trainable_params == count_parameters(model)
    assert macs_per_image(model) == summary.total_mult_adds  # batch norm's too, as torchinfo counts them


def test_default_mlp_is_within_10_parameters_of_lenet5():
    mlp = CustomMLP()
    assert abs(count_parameters(mlp) - LENET5_PARAMETERS) <= 10
    assert mlp(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    assert [layer.out_features for layer in mlp.hidden] == list(MLP_HIDDEN) == [57, 48]


def test_the_mlp_widths_constant_is_what_the_width_search_finds():
    assert match_mlp_widths(LENET5_PARAMETERS, n_hidden=2) == (MLP_HIDDEN, -7)


def test_seed_mlp_of_59_hidden_units_had_61075_parameters():
    assert count_parameters(CustomMLP(hidden=[59])) == mlp_parameter_count([59]) == 61_075


@pytest.mark.parametrize("n_hidden", [1, 2, 3])
def test_width_helper_finds_the_closest_count(n_hidden):
    widths, gap = match_mlp_widths(LENET5_PARAMETERS, n_hidden)
    assert len(widths) == n_hidden
    assert list(widths) == sorted(widths, reverse=True) and min(widths) >= 10
    assert mlp_parameter_count(widths) - LENET5_PARAMETERS == gap
    # brute force over the same space (small enough for one and two layers)
    if n_hidden <= 2:
        space = (
            [(a,) for a in range(10, 61)]
            if n_hidden == 1
            else [(a, b) for a in range(10, 61) for b in range(10, a + 1)]
        )
        best = min(abs(mlp_parameter_count(w) - LENET5_PARAMETERS) for w in space)
        assert abs(gap) == best


def test_width_helper_examples():
    assert match_mlp_widths(LENET5_PARAMETERS, 1) == ((60,), 404)
    assert match_mlp_widths(LENET5_PARAMETERS, 2) == ((57, 48), -7)
    assert match_mlp_widths(1035 * 20 + 10, 1) == ((20,), 0)
    assert match_mlp_widths(1035 * 7 + 10, 1, min_width=1) == ((7,), 0)
    with pytest.raises(ValueError):
        match_mlp_widths(LENET5_PARAMETERS, 0)
    with pytest.raises(ValueError):
        match_mlp_widths(100, 2)


def test_batch_norm_and_dropout_variants():
    bn = LeNet5(batch_norm=True)
    assert count_parameters(bn) == 61_706 + 2 * (6 + 16 + 120 + 84)
    drop = LeNet5(dropout=0.5)
    assert count_parameters(drop) == 61_706
    drop.eval()
    x = torch.randn(4, 1, 32, 32)
    assert torch.equal(drop(x), drop(x))  # no dropout at evaluation
    drop.train()
    assert not torch.equal(drop(x), drop(x))
    with pytest.raises(ConfigError, match="dropout"):
        ModelConfig("lenet5", dropout=1.0)


def test_macs_differ_a_lot_for_the_same_parameters():
    assert macs_per_image(LeNet5()) > 6 * macs_per_image(CustomMLP())


def test_macs_are_per_image_whatever_the_batch_of_the_probe():
    for model in (LeNet5(), CustomMLP()):
        assert macs_per_image(model, (4, 1, 32, 32)) == macs_per_image(model) > 0


def test_model_configs_build_validate_and_round_trip():
    assert isinstance(ModelConfig("lenet5").build(), LeNet5)
    mlp = ModelConfig("mlp", hidden=(30,)).build()
    assert [layer.out_features for layer in mlp.hidden] == [30]
    config = ModelConfig("lenet5", batch_norm=True, dropout=0.25)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.describe() == "batch_norm=True, dropout=0.25" and ModelConfig().describe() == "plain"
    for bad, message in [
        (dict(name="resnet"), "unknown model 'resnet'"),
        (dict(name="mlp", hidden=(0,)), "hidden sizes"),
        (dict(name="mlp", batch_norm=True), "batch_norm is for lenet5 only"),
        (dict(name="lenet5", hidden=(10,)), "hidden is for mlp only"),
    ]:
        with pytest.raises(ConfigError, match=message):
            ModelConfig(**bad)
    with pytest.raises(ConfigError, match="unknown model settings"):
        ModelConfig.from_dict({"name": "mlp", "widths": [3]})


def test_the_c1_maps_shown_are_what_lenet5_pools():
    """`draw.c1_maps`, the six maps notebook 08 and its widget show, is exactly what
    LeNet-5's forward pass feeds its first pooling layer, S2."""
    from mnist_lib.draw import c1_maps

    torch.manual_seed(0)
    model = LeNet5().eval()
    x = torch.randn(1, 1, 32, 32)
    seen = []
    model.s2.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    model(x)
    assert torch.equal(c1_maps(model, x), seen[0][0])
