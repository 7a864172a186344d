"""A drawn digit made into what the models were trained on: pure functions, no widget.

MNIST's digits were made from scanned strokes in two steps (LeCun et al.): each was
scaled to fit a 20x20 box, keeping its aspect ratio (anti-aliasing makes the grey
levels), then placed in a 28x28 field so that its centre of mass falls on the centre.
`to_mnist` repeats these steps on any ink image (a canvas of any size, the digit
anywhere on it); `model_input` then applies the project's own 28->32 step and the
normalization, as training did.

    strokes -> render_strokes -> to_mnist -> (augment.shift) -> model_input -> models

`notebooks/08_draw_a_digit.ipynb` shows each step, and `mnist_lib.widget` runs them on
every stroke drawn in the browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from .batches import DEFAULT_RESIZE, normalize, to_32x32
from .errors import ConfigError

BOX = 20  # MNIST's digits fit a 20x20 box ...
FIELD = 28  # ... centred by mass in a 28x28 field
# Where MNIST's centres of mass lie, in pixel indices: 14.0 in both directions (the
# training images' mean; each digit was moved by whole pixels).
CENTRE = 14.0
INK_THRESHOLD = 0.1  # of the darkest ink: fainter pixels (anti-aliasing halos) are not the digit's extent

LABELS = {"lenet5": "LeNet-5", "mlp": "MLP"}  # the models' names as figures and the widget show them

CANVAS = 280  # the widget's canvas, in pixels: ten times MNIST's field
STROKE_WIDTH = 22  # a pen that, after scaling, gives strokes as wide as MNIST's (2-3 px)

Stroke = Sequence[Sequence[float]]  # [[x, y], ...] in canvas pixels


class RunLike(Protocol):
    """What the widget and its figure need of a run (`mnist_lib.runs.Run` has it)."""

    model: nn.Module
    resize: str


def render_strokes(strokes: Sequence[Stroke], size: int = CANVAS, width: int = STROKE_WIDTH) -> np.ndarray:
    """The strokes drawn with a round pen of `width` pixels: ink uint8 [size, size] (255 = ink)."""
    image = Image.new("L", (size, size), 0)
    pen = ImageDraw.Draw(image)
    r = width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=width, joint="curve")
        for x, y in points:  # round caps and ends, and a dot for a single tap
            pen.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(image, dtype=np.uint8).copy()


def _pixels(images: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    """`images` as uint8, refused unless they are integers from 0 to 255: a cast would turn
    floats in [0, 1] black, wrap 300 to 44 and NaN to 0 without a word."""
    array = images.numpy(force=True) if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype.kind not in "ui":
        raise ConfigError(
            f"{what} takes uint8 pixels from 0 to 255, got {array.dtype}",
            "scale floats in [0, 1] by 255 and round them first (as to_mnist's output is).",
        )
    if array.size and not (array.min() >= 0 and array.max() <= 255):
        raise ConfigError(
            f"{what} takes pixels from 0 to 255, got values from {array.min()} to {array.max()}",
            "clip or rescale them to 0-255 first.",
        )
    return array.astype(np.uint8)


def _crop(image: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """`image` cut to the smallest box holding every True pixel of `ink` (some must be)."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """An ink image (uint8 or float, [H, W], any size, bright ink on black) as MNIST made
    its digits: uint8 [28, 28], the digit scaled to fit 20x20 and centred by mass.

    A blank image gives a blank field."""
    from scipy import ndimage  # here: the training command imports this module, never this function

    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise ConfigError(f"to_mnist takes one grey image [H, W], got shape {ink.shape}", "pass one image.")
    if not np.isfinite(ink).all() or ink.min(initial=0.0) < 0:
        raise ConfigError(
            "to_mnist takes ink from 0 up (bright ink on black), got NaN, infinite or negative values",
            "replace them (np.nan_to_num, np.clip) first.",
        )
    field = np.zeros((FIELD, FIELD), dtype=np.uint8)
    peak = float(ink.max(initial=0.0))
    if peak <= 0:
        return field
    crop = torch.from_numpy(_crop(ink, ink >= INK_THRESHOLD * peak) / peak)  # darkest ink = 1
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    # Antialiased bilinear: a large drawing shrinks to grey edges, as NIST's strokes did.
    box = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)
    box = np.round(box[0, 0].clamp_(0, 1).numpy() * 255).astype(np.uint8)
    cy, cx = ndimage.center_of_mass(box.astype(np.float64))
    top, left = round(CENTRE - cy), round(CENTRE - cx)
    # Paste with clipping: a lopsided digit centred by mass may reach past an edge.
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size[0], FIELD), min(left + size[1], FIELD)
    field[r0:r1, c0:c1] = box[r0 - top : r1 - top, c0 - left : c1 - left]
    return field


def ink_lost(field: np.ndarray, dx: int, dy: int) -> float:
    """The share of a field's ink (its pixel sum) that moving it `dx` right and `dy` down
    pushes off the 28x28 field, from 0 (all of it stays) to 1; 0 for a blank field. A shift
    near the edge crops the digit as well as moving it, and this says by how much."""
    from .augment import shift  # here: augment is heavier than this module needs elsewhere

    pixels = _pixels(field, "ink_lost").astype(np.int64)
    total = int(pixels.sum())
    if total == 0:
        return 0.0
    return 1 - int(shift(pixels, dx, dy).sum()) / total


def model_input(images: np.ndarray | torch.Tensor, resize: str = DEFAULT_RESIZE) -> torch.Tensor:
    """uint8 MNIST fields [28, 28] or [N, 28, 28] as a model's input: float [N, 1, 32, 32],
    made 32x32 with the run's resize method and normalized with the training statistics."""
    pixels = _pixels(images, "model_input")
    if pixels.shape[-2:] != (FIELD, FIELD) or pixels.ndim not in (2, 3):
        raise ConfigError(
            f"model_input takes MNIST fields [28, 28] or [N, 28, 28], got shape {list(pixels.shape)}",
            "make a drawing of any size into a field with to_mnist first.",
        )
    return normalize(to_32x32(torch.from_numpy(pixels).reshape(-1, FIELD, FIELD), resize))


@torch.no_grad()
def probabilities(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities [N, 10] of a model in eval mode."""
    return torch.softmax(model(x), dim=1)


@torch.no_grad()
def c1_maps(lenet: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """LeNet-5's six C1 feature maps of one input [1, 1, 32, 32], after the ReLU: [6, 28, 28]."""
    if tuple(x.shape) != (1, 1, 32, 32):
        raise ConfigError(
            f"c1_maps takes one input [1, 1, 32, 32], got shape {list(x.shape)}",
            "pass model_input of one digit (a batch would show only its first item's maps).",
        )
    return torch.relu(lenet.c1(x))[0]


def as_drawing(
    digit: np.ndarray, scale: float = 8.0, place: tuple[float, float] = (0.5, 0.5), size: int = CANVAS
) -> np.ndarray:
    """An MNIST digit as a user might draw it: its ink (uint8 [28, 28]) scaled up `scale`
    times onto a blank canvas uint8 [size, size]. `place` (down, across) says where, as a
    fraction of the free room: (0, 0) top-left, (0.5, 0.5) centred, (1, 1) bottom-right.
    The inverse of `to_mnist`, up to its rounding."""
    digit = _pixels(digit, "as_drawing")
    if digit.ndim != 2 or not digit.any():
        raise ConfigError(
            f"as_drawing takes one digit with some ink [H, W], got {'a blank one' if digit.ndim == 2 else list(digit.shape)}",
            "pass one MNIST digit.",
        )
    if not 0 < scale < float("inf"):
        raise ConfigError(f"scale must be a positive number, got {scale}", "use, say, 8 (the default).")
    crop = torch.from_numpy(_crop(digit, digit > 0).astype(np.float32))
    h, w = (max(1, round(n * scale)) for n in crop.shape)
    if h > size or w > size:
        raise ValueError(f"a digit scaled {scale} times ({h}x{w}) does not fit a {size}x{size} canvas")
    big = F.interpolate(crop[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    if not all(0 <= p <= 1 for p in place):
        raise ValueError(f"place is a pair of fractions in [0, 1], got {place}")
    top, left = round(place[0] * (size - h)), round(place[1] * (size - w))
    canvas = np.zeros((size, size), dtype=np.uint8)
    canvas[top : top + h, left : left + w] = big.clamp(0, 255).round().to(torch.uint8).numpy()
    return canvas


def analyse(field: np.ndarray, lenet5: RunLike, mlp: RunLike) -> dict[str, Any]:
    """Both models' probabilities for one MNIST field uint8 [28, 28], and LeNet-5's C1 maps
    (each scaled to its own brightest pixel, as uint8 [6, 28, 28])."""
    probs = {}
    for name, run in (("lenet5", lenet5), ("mlp", mlp)):
        probs[name] = probabilities(run.model, model_input(field, run.resize))[0]
    maps = c1_maps(lenet5.model, model_input(field, lenet5.resize))
    peak = maps.flatten(1).amax(1).clamp_min(1e-6)[:, None, None]
    maps = (maps / peak * 255).round().to(torch.uint8).numpy()
    return {"probs": probs, "maps": maps}
