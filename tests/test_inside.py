"""mnist_lib.inside: the rotation used by notebook 06, and its figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mnist_lib import inside


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_rotate_by_zero_is_a_copy():
    x = torch.rand(3, 1, 32, 32)
    r = inside.rotate(x, 0)
    assert torch.equal(r, x) and r.data_ptr() != x.data_ptr()


def test_rotate_quarter_turns_are_exact_and_clockwise():
    x = torch.rand(2, 1, 32, 32)
    assert torch.allclose(inside.rotate(x, 90), torch.rot90(x, -1, (-2, -1)), atol=1e-5)
    assert torch.allclose(inside.rotate(x, -90), torch.rot90(x, 1, (-2, -1)), atol=1e-5)
    one = torch.zeros(1, 1, 32, 32)
    one[0, 0, 2, 10] = 1.0  # near the top: a clockwise turn takes it to the right side
    assert (inside.rotate(one, 90) > 0.5).nonzero().tolist() == [[0, 0, 10, 29]]


def test_rotate_keeps_shape_range_and_fills_corners_with_background():
    x = torch.ones(4, 1, 32, 32)
    r = inside.rotate(x, 45)
    assert r.shape == x.shape and r.min() >= 0 and r.max() <= 1 + 1e-6
    assert r[0, 0, 0, 0] == 0 and r[0, 0, 16, 16] == pytest.approx(1.0)


def test_figures_have_one_panel_per_item():
    w = torch.randn(7, 5, 5)
    assert len(inside.plot_weights(w, [str(i) for i in range(7)], ncols=4).axes) == 8
    stages = {"a": torch.rand(6, 28, 28), "b": torch.rand(16, 5, 5)}
    assert len(inside.plot_feature_maps(stages).axes) == 2 * 16
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5)
    fig = inside.plot_embeddings(
        {"x": rng.normal(size=(50, 2)), "y": rng.normal(size=(50, 2))}, labels, {"x": "one", "y": "two"}
    )
    assert len(fig.axes) == 2
    images = torch.rand(3, 1, 32, 32)
    maps = {"m": torch.randn(3, 1, 32, 32), "n": torch.zeros(3, 1, 32, 32)}
    fig = inside.plot_attributions(
        images, maps, {"m": ["1", "2", "3"], "n": ["4", "5", "6"]}, ["a", "b", "c"]
    )
    assert len(fig.axes) == 3 * 3
