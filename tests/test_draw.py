"""The drawing widget's Python side: MNIST's preprocessing of a drawn digit, and the widget
without a browser (tests/test_browser.py drives the real one)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from mnist_lib import draw
from mnist_lib.augment import shift
from mnist_lib.batches import normalize, to_32x32
from mnist_lib.data import load_split
from mnist_lib.errors import ConfigError
from mnist_lib.runs import Run


@pytest.fixture(scope="session")
def runs(trained_runs: dict[str, Run]) -> dict[str, Run]:
    return trained_runs


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def extent(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# A "1" and a "0" as strokes on the widget's 280x280 canvas.
ONE = [[[140, 40], [139, 140], [138, 240]]]
ZERO = [[[140 + 60 * math.sin(t * math.pi / 10), 140 - 95 * math.cos(t * math.pi / 10)] for t in range(21)]]


def png_pixels(uri: str) -> np.ndarray:
    """The grey pixels of a data: URI PNG, as the browser would show them."""
    import base64
    import io

    from PIL import Image

    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :]))))


def test_render_strokes_draws_round_pen() -> None:
    blank = draw.render_strokes([])
    assert blank.shape == (draw.CANVAS, draw.CANVAS) and blank.dtype == np.uint8 and not blank.any()
    line = draw.render_strokes(ONE)
    assert line[140, 139] == 255 and line[140, 60] == 0
    h, w = extent(line)
    assert w == pytest.approx(draw.STROKE_WIDTH + 2, abs=3)  # pen width plus the slant
    assert h == pytest.approx(200 + draw.STROKE_WIDTH, abs=3)  # the round caps stick out
    dot = draw.render_strokes([[[50, 50]]])  # a single tap leaves a dot
    assert dot[50, 50] == 255


def test_to_mnist_fits_20x20_box_centred_by_mass() -> None:
    for strokes in (ONE, ZERO):
        field = draw.to_mnist(draw.render_strokes(strokes))
        assert field.shape == (28, 28) and field.dtype == np.uint8
        assert max(extent(field)) == draw.BOX
        cy, cx = centre_of_mass(field.astype(float))
        assert abs(cy - draw.CENTRE) <= 0.5 and abs(cx - draw.CENTRE) <= 0.5


def test_to_mnist_keeps_aspect_ratio() -> None:
    h, w = extent(draw.to_mnist(draw.render_strokes(ONE)))
    assert h == 20 and w <= 5  # a thin stroke stays thin, not stretched to a square
    h, w = extent(draw.to_mnist(draw.render_strokes([[[40, 140], [240, 140]]])))
    assert w == 20 and h <= 5


def test_to_mnist_ignores_where_and_how_large() -> None:
    digit = load_split("test")[0][0].numpy()
    fields = [
        draw.to_mnist(draw.as_drawing(digit, scale, place))
        for scale, place in ((6, (0, 0)), (6, (1, 0.3)), (9, (0.5, 0.5)), (9, (0.2, 1)))
    ]
    for f in fields[1:]:
        # Moving the drawing changes nothing; its size changes only the rounding.
        assert np.abs(f.astype(int) - fields[0].astype(int)).mean() < 8


def test_to_mnist_blank_and_wrong_shape() -> None:
    assert not draw.to_mnist(np.zeros((100, 80))).any()
    with pytest.raises(ValueError):
        draw.to_mnist(np.zeros((3, 28, 28)))


def test_mnist_digits_are_already_in_their_form() -> None:
    # MNIST's own test digits go through `to_mnist` almost unchanged.
    digits = load_split("test")[0][:50].numpy()
    again = np.stack([draw.to_mnist(d) for d in digits])
    assert np.abs(again.astype(int) - digits.astype(int)).mean() < 5


def test_model_input_is_the_training_path() -> None:
    digits = load_split("test")[0][:3]
    for resize in ("resize", "pad"):
        x = draw.model_input(digits.numpy(), resize)
        assert x.shape == (3, 1, 32, 32) and x.dtype == torch.float32
        assert torch.equal(x, normalize(to_32x32(digits, resize)))
    assert draw.model_input(digits[0].numpy()).shape == (1, 1, 32, 32)


def test_as_drawing_checks_its_arguments() -> None:
    digit = load_split("test")[0][0].numpy()
    with pytest.raises(ValueError):
        draw.as_drawing(digit, scale=20)
    with pytest.raises(ValueError):
        draw.as_drawing(digit, place=(1.5, 0))


def test_drawn_test_digits_keep_their_class(runs: dict[str, Run]) -> None:
    """300 test digits drawn large (5 to 11 times), anywhere on the canvas, and put back
    through `to_mnist`: both models still read at least 95% of them as before, and as
    labelled."""
    images, labels = load_split("test")
    rng = np.random.default_rng(0)
    index = rng.choice(len(labels), 300, replace=False)
    fields = np.stack(
        [
            draw.to_mnist(draw.as_drawing(images[i].numpy(), rng.uniform(5, 11), tuple(rng.uniform(0, 1, 2))))
            for i in index
        ]
    )
    for name, run in runs.items():
        before = draw.probabilities(run.model, draw.model_input(images[index].numpy(), run.resize)).argmax(1)
        after = draw.probabilities(run.model, draw.model_input(fields, run.resize)).argmax(1)
        assert (after == before).float().mean() >= 0.95, name
        assert (after == labels[index]).float().mean() >= 0.95, name


def test_c1_maps(runs: dict[str, Run]) -> None:
    x = draw.model_input(draw.to_mnist(draw.render_strokes(ZERO)))
    maps = draw.c1_maps(runs["lenet5"].model, x)
    assert maps.shape == (6, 28, 28) and (maps >= 0).all() and maps.amax() > 0


def test_widget_answers_each_stroke_within_a_second(runs: dict[str, Run]) -> None:
    from mnist_lib.widget import DigitWidget

    w = DigitWidget(runs["lenet5"], runs["mlp"])
    assert w.predictions == {"lenet5": None, "mlp": None} and w.result["strokes"] == 0
    for strokes, digit in ((ONE, 1), (ZERO, 0)):
        w.clear()
        w.strokes = strokes
        assert w.predictions == {"lenet5": digit, "mlp": digit}
        assert w.result["strokes"] == 1
        assert len(w.result["maps"]) == 6
        # Shown dark ink on white, like the figures: the PNG is the field inverted.
        assert (png_pixels(w.result["field"]) == 255 - w.field).all()
        maps = draw.analyse(w.field, runs["lenet5"], runs["mlp"])["maps"]
        assert all((png_pixels(uri) == 255 - m).all() for uri, m in zip(w.result["maps"], maps))
        assert all(abs(sum(m["probs"]) - 1) < 1e-2 for m in w.result["models"])
    w.shift = [4, 0]
    assert w.result["shift"] == [4, 0]
    assert (w.field == shift(draw.to_mnist(draw.render_strokes(ZERO)), 4, 0)).all()
    assert w.result["ink_lost"] == 0  # the 0 is 20 px wide at most, centred: 4 px keeps it all
    w.shift = [10, 0]  # its right side now lies past the field's edge
    assert 0.05 < w.result["ink_lost"] < 0.5
    assert w.result["ink_lost"] == round(draw.ink_lost(w.centred, 10, 0), 3)
    w.clear()
    assert w.shift == [0, 0] and w.strokes == [] and w.predictions == {"lenet5": None, "mlp": None}


def test_ink_lost_is_the_share_of_ink_a_shift_pushes_off_the_field() -> None:
    field = np.zeros((28, 28), dtype=np.uint8)
    field[10:14, 20:24] = 100  # 16 pixels, the last 4 columns 4 to 7 px from the right edge
    field[10, 27] = 200  # and one bright pixel on the edge itself
    total = 16 * 100 + 200
    assert draw.ink_lost(field, 0, 0) == 0
    assert draw.ink_lost(field, -3, 2) == 0  # left and down: all of it stays
    assert draw.ink_lost(field, 1, 0) == pytest.approx(200 / total)  # the edge pixel goes
    assert draw.ink_lost(field, 6, 0) == pytest.approx((200 + 2 * 4 * 100) / total)  # columns 22, 23 go
    assert draw.ink_lost(field, 0, -14) == pytest.approx(1)  # rows 10-13 up past the top: all of it
    assert draw.ink_lost(np.zeros((28, 28), dtype=np.uint8), 4, 4) == 0  # blank: nothing to lose
    with pytest.raises(ConfigError):
        draw.ink_lost(np.full((28, 28), 0.5), 1, 0)  # floats are refused, as by model_input


@pytest.mark.parametrize(
    "images, expected",
    [
        (np.zeros((280, 280), dtype=np.uint8), "fields [28, 28] or [N, 28, 28], got shape [280, 280]"),
        (np.full((28, 28), 0.5, dtype=np.float32), "uint8 pixels from 0 to 255, got float32"),
        (np.full((28, 28), 300), "pixels from 0 to 255, got values from 300 to 300"),
        (np.full((28, 28), np.nan), "uint8 pixels from 0 to 255, got float64"),
        (torch.full((28, 28), -1), "pixels from 0 to 255, got values from -1 to -1"),
    ],
    ids=["canvas", "floats", "300", "nan", "negative"],
)
def test_model_input_refuses_what_is_not_a_field_of_pixels(images, expected) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        draw.model_input(images)
    assert draw.model_input(np.full((2, 28, 28), 255, dtype=np.int64)).shape == (
        2,
        1,
        32,
        32,
    )  # ints are fine


@pytest.mark.parametrize("value", [np.nan, np.inf, -1.0])
def test_to_mnist_refuses_nan_infinite_and_negative_ink(value) -> None:
    ink = draw.render_strokes(ONE).astype(np.float64)
    ink[0, 0] = value
    with pytest.raises(ConfigError, match="got NaN, infinite or negative values"):
        draw.to_mnist(ink)


def test_as_drawing_refuses_a_blank_digit_and_a_scale_of_nothing() -> None:
    digit = load_split("test")[0][0].numpy()
    with pytest.raises(ConfigError, match="got a blank one"):
        draw.as_drawing(np.zeros((28, 28), dtype=np.uint8))
    for scale in (0, -2, math.nan):
        with pytest.raises(ConfigError, match="scale must be a positive number"):
            draw.as_drawing(digit, scale=scale)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (1, 1, 28, 28), (1, 32, 32)])
def test_c1_maps_takes_exactly_one_input(shape) -> None:
    from mnist_lib.models import ModelConfig

    with pytest.raises(ConfigError, match=re.escape(f"got shape {list(shape)}")):
        draw.c1_maps(ModelConfig("lenet5").build(), torch.zeros(shape))


def test_the_pipeline_figure_shows_what_the_widget_computes(runs) -> None:
    from mnist_lib.plots import plot_pipeline

    drawing = draw.render_strokes(ONE)
    fig = plot_pipeline(drawing, runs["lenet5"], runs["mlp"], shifts=(0, 3))
    assert len(fig.axes) == 2 * 9
    for row, dx in enumerate((0, 3)):
        out = draw.analyse(shift(draw.to_mnist(drawing), dx, 0), runs["lenet5"], runs["mlp"])
        legend = [t.get_text() for t in fig.axes[row * 9 + 2].get_legend().get_texts()]
        assert legend == [f"{draw.LABELS[n]}: {int(p.argmax())}" for n, p in out["probs"].items()]
    # Each C1 filter's maps share one colour scale over the rows, so the rows compare.
    maps = [
        draw.analyse(shift(draw.to_mnist(drawing), dx, 0), runs["lenet5"], runs["mlp"])["maps"]
        for dx in (0, 3)
    ]
    for k in range(6):
        scales = [fig.axes[row * 9 + 3 + k].images[0].get_clim() for row in (0, 1)]
        top = max(float(m[k].max()) for m in maps)
        assert scales[0] == scales[1] and scales[0][0] == 0 and scales[0][1] == pytest.approx(top)
