"""Figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mnist_lib import plots
from mnist_lib.history import History


def history(offset: float = 0.0) -> History:
    h = History()
    for e in (1, 2, 3):
        h.append(
            epoch=e,
            train_loss=1 / e,
            train_acc=90 + e + offset,
            val_loss=1.1 / e,
            val_acc=89 + e + offset,
            seconds=1.0,
        )
    return h


def test_history_plot_has_the_four_curves(tmp_path):
    fig = plots.plot_histories({"": history()}, floors={"": 91.0})
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 3  # and the floor
    assert list(acc_ax.lines[1].get_ydata()) == [90, 91, 92]
    # The training curves are running figures, scored while the weights changed: said so.
    assert [line.get_label() for line in acc_ax.lines[:2]] == [
        "training, running mean over each epoch",
        "validation",
    ]
    assert acc_ax.get_ylim() == (89.0, 100.0)  # from just below the lowest point: nothing clipped
    plots.save_figure(fig, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_training_loss_is_drawn_per_tenth_of_an_epoch_where_recorded():
    h = history()
    h.steps = [[e / 10, 2.0 - e / 20] for e in range(1, 31)]
    loss_ax, _ = plots.plot_histories({"": h}).axes
    assert list(loss_ax.lines[0].get_xdata()) == [e / 10 for e in range(1, 31)]
    assert loss_ax.lines[0].get_label() == "training, mean of each tenth of an epoch"
    assert list(loss_ax.lines[1].get_xdata()) == [1, 2, 3]  # validation: once an epoch


def test_schedules_draw_rate_and_momentum_per_model_in_its_colour():
    rates, momenta = [0.1, 0.5, 1.0, 0.2], [0.95, 0.9, 0.85, 0.9]
    fig = plots.plot_schedules({"lenet5": (rates, momenta), "mlp": (rates, momenta)}, {"lenet5": 2, "mlp": 4})
    lenet_ax, mlp_ax, lenet_twin, mlp_twin = fig.axes  # the twins come after the panels
    assert list(lenet_ax.lines[0].get_ydata()) == rates and list(lenet_twin.lines[0].get_ydata()) == momenta
    assert list(mlp_ax.lines[0].get_xdata()) == [0, 1, 2, 3]  # four steps over four epochs
    assert list(lenet_ax.lines[0].get_xdata()) == [0, 0.5, 1, 1.5]
    assert lenet_ax.lines[0].get_color() == plots.MODEL_COLORS["lenet5"]
    assert mlp_twin.lines[0].get_color() == plots.MODEL_COLORS["mlp"]
    assert mlp_twin.lines[0].get_linestyle() == "--"


def test_overlaid_histories_and_confusion_and_grid():
    fig = plots.plot_histories({"a": history(), "b": history(1.0)})
    assert len(fig.axes[1].lines) == 4
    cm = np.eye(10, dtype=int) * 5
    fig = plots.plot_confusion({"a": cm, "b": cm}, hide_diagonal=True)
    assert len(fig.axes) == 2
    assert [ax.collections[0].get_cmap().name for ax in fig.axes] == ["Blues", "Blues"]
    fig = plots.plot_confusion({"a": cm, "b": cm}, cmaps={"b": "Oranges"})  # each model its colour
    assert [ax.collections[0].get_cmap().name for ax in fig.axes] == ["Blues", "Oranges"]
    images = torch.zeros(12, 1, 32, 32)
    fig = plots.plot_images(images, list(range(12)), preds=[0] * 12, ncols=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 12 and titles[1] == "true 1 / pred 0"
    assert plots.plot_images(images[:2], ["pad", "resize"]).axes[1].get_title() == "resize"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_inside_figures_have_one_panel_per_item():
    w = torch.randn(7, 5, 5)
    assert len(plots.plot_weights(w, [str(i) for i in range(7)], ncols=4).axes) == 8
    stages = {"a": torch.rand(6, 28, 28), "b": torch.rand(16, 5, 5)}
    assert len(plots.plot_feature_maps(stages).axes) == 2 * 16
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5)
    fig = plots.plot_embeddings(
        {"x": rng.normal(size=(50, 2)), "y": rng.normal(size=(50, 2))}, labels, {"x": "one", "y": "two"}
    )
    assert len(fig.axes) == 2
    images = torch.rand(3, 1, 32, 32)
    maps = {"m": torch.randn(3, 1, 32, 32), "n": torch.zeros(3, 1, 32, 32)}
    fig = plots.plot_attributions(images, maps, {"m": ["1", "2", "3"], "n": ["4", "5", "6"]}, ["a", "b", "c"])
    assert len(fig.axes) == 3 * 3


def test_embeddings_colour_digits_apart_from_the_models_with_a_key():
    """The ten digit colours are distinct and none is a model's, and the figure has a key of all ten."""
    from matplotlib.colors import to_hex

    assert len(set(plots.DIGIT_COLORS)) == 10
    assert not set(plots.DIGIT_COLORS) & set(plots.MODEL_COLORS.values())
    labels = np.repeat(np.arange(10), 3)
    fig = plots.plot_embeddings({"x": np.random.default_rng(0).normal(size=(30, 2))}, labels)
    fig.canvas.draw()  # the dots get their colours from the colour map when drawn
    dots = fig.axes[0].collections[0].get_facecolors()
    assert {to_hex(c, keep_alpha=False) for c in dots} == set(plots.DIGIT_COLORS)
    (key,) = fig.legends
    assert [t.get_text() for t in key.get_texts()] == [str(d) for d in range(10)]
    plt.close(fig)


def test_architecture_draws_maps_of_1x1_as_one_bar():
    """LeNet-5's C5 (120 maps of 1x1) is a vector: one bar, not a stack of tiny squares."""
    from mnist_lib.models import LeNet5
    from mnist_lib.params import parameter_table

    fig = plots.plot_architecture(parameter_table(LeNet5()))
    ax = fig.axes[0]
    # input 1, C1 6, S2 6, C3 6, S4 6 squares; C5, F6 and the output one bar each
    assert len(ax.patches) == 1 + 4 * 6 + 3
    assert any(t.get_text() == "C5\n120@1×1" for t in ax.texts)
    assert not ax.lines  # 120 numbers at a quarter unit each fit under the image's 32: no cut
    plt.close(fig)


def test_architecture_draws_the_mlp_in_orange_at_lenets_scale():
    """The MLP: the image, a grey flatten bar, then one orange bar per layer, in a figure as
    much narrower than LeNet-5's as its drawing is (one scale for both)."""
    from matplotlib.colors import to_rgba

    from mnist_lib.models import CustomMLP, LeNet5
    from mnist_lib.params import parameter_table

    lenet_fig = plots.plot_architecture(parameter_table(LeNet5()))
    fig = plots.plot_architecture(parameter_table(CustomMLP()), model="mlp")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == [
        "input\n1@32×32",
        "flatten\n1,024",
        "hidden.0\n57",
        "hidden.1\n48",
        "output\n10",
    ]
    faces = [p.get_facecolor() for p in ax.patches]
    assert len(faces) == 5 and faces[0] == faces[1] == to_rgba(plt.cm.Greys(0.25))
    assert all(r > 0.7 and b < 0.1 for r, _, b, _ in faces[2:])  # orange, not blue
    assert ax.get_title() == "MLP"
    # the bars are a quarter of a unit per number: 57 and 48 units high 14.25 and 12
    assert [p.get_height() for p in ax.patches[2:4]] == [14.25, 12.0]
    (w_mlp, h_mlp), (w_lenet, h_lenet) = fig.get_size_inches(), lenet_fig.get_size_inches()
    assert h_mlp == h_lenet and w_mlp < 0.5 * w_lenet  # one scale: 95 units wide against 217
    plt.close(fig)
    plt.close(lenet_fig)


def test_architecture_marks_the_bar_it_cuts_off():
    """The MLP's 1,024-number flatten bar would be 256 units tall: it is drawn at the image's
    height with a break mark (lines across it) so the drawing does not pass it off as 32."""
    from mnist_lib.models import CustomMLP
    from mnist_lib.params import parameter_table

    fig = plots.plot_architecture(parameter_table(CustomMLP()), model="mlp")
    ax = fig.axes[0]
    flatten = ax.patches[1]
    assert flatten.get_height() == 32
    x0, x1 = flatten.get_x(), flatten.get_x() + flatten.get_width()
    assert len(ax.lines) == 3  # the white gap and its two edges, across the flatten bar only
    for line in ax.lines:
        xs = line.get_xdata()
        assert min(xs) < x0 < x1 < max(xs)
    plt.close(fig)


def test_parameters_and_macs_one_bar_per_layer_with_weights_in_its_models_colour():
    from matplotlib.colors import to_rgba

    from mnist_lib.models import CustomMLP, LeNet5
    from mnist_lib.params import parameter_table

    fig = plots.plot_parameters_and_macs(
        {"lenet5": parameter_table(LeNet5()), "mlp": parameter_table(CustomMLP())}
    )
    params_ax, macs_ax = fig.axes
    for ax in (params_ax, macs_ax):
        bars = ax.containers[0]
        assert len(bars) == 5 + 3  # C1, C3, C5, F6, output; the MLP's three layers (no pooling)
        faces = [b.get_facecolor() for b in bars]
        assert faces[:5] == [to_rgba(plots.MODEL_COLORS["lenet5"])] * 5
        assert faces[5:] == [to_rgba(plots.MODEL_COLORS["mlp"])] * 3
    assert [t.get_text() for t in params_ax.get_yticklabels()][0] == "LeNet-5 C1"
    assert params_ax.get_title() == "parameters: LeNet-5 61,706, MLP 61,699"
    assert macs_ax.get_title() == "MACs per image: LeNet-5 423,038, MLP 61,699"
    # shares of each model's total: C1 and C3 do 29% and 57% of LeNet-5's MACs
    labels = [t.get_text() for t in macs_ax.texts]
    assert labels[:2] == ["29%", "57%"] and labels[5:] == ["95%", "5%", "0.8%"]
    plt.close(fig)


def test_one_colour_scale_puts_every_map_on_one_scale_with_one_bar():
    fig = plots.plot_weights(torch.stack([torch.full((5, 5), 0.5), -torch.ones(5, 5)]), ["a", "b"], ncols=2)
    plots.one_colour_scale(fig, fig.axes[:2], "weight")
    assert [ax.images[0].get_clim() for ax in fig.axes[:2]] == [(-1.0, 1.0)] * 2
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "weight"  # the bar
    plt.close(fig)


def test_image_labels_take_a_font_size_and_keep_the_old_one_by_default():
    images = torch.zeros(2, 1, 32, 32)
    assert plots.plot_images(images, ["a", "b"]).axes[0].title.get_fontsize() == 7
    assert plots.plot_images(images, ["a", "b"], fontsize=11).axes[1].title.get_fontsize() == 11
