"""Draw a digit in the notebook and watch both models read it: an anywidget.

    from mnist_lib.widget import DigitWidget
    DigitWidget(load_run(".../lenet5"), load_run(".../mlp"))

The browser side (`widget.js`, one ES module, no build step) draws the strokes and sends
them here when each stroke ends; this side runs `mnist_lib.draw`'s preprocessing and both
models, and sends back the class probabilities, the 28x28 field the models read and
LeNet-5's six C1 feature maps. The arrow buttons move that field by whole pixels: they
shift after the centring, which would otherwise undo any move of the drawing.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any, Protocol

import anywidget
import numpy as np
import torch
import traitlets
from PIL import Image
from torch import nn

from . import draw

LABELS = {"lenet5": "LeNet-5", "mlp": "MLP"}


class RunLike(Protocol):
    """What the widget needs of a run (`mnist_lib.runs.Run` has it)."""

    model: nn.Module
    resize: str


def png_uri(image: np.ndarray) -> str:
    """A grey uint8 image as a data: URI of a PNG (the browser scales it up, pixelated)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def analyse(field: np.ndarray, lenet5: RunLike, mlp: RunLike) -> dict[str, Any]:
    """Both models' probabilities for one MNIST field uint8 [28, 28], and LeNet-5's C1 maps
    (each scaled to its own brightest pixel, as uint8 [6, 28, 28])."""
    probs = {}
    for name, run in (("lenet5", lenet5), ("mlp", mlp)):
        probs[name] = draw.probabilities(run.model, draw.model_input(field, run.resize))[0]
    maps = draw.c1_maps(lenet5.model, draw.model_input(field, lenet5.resize))
    peak = maps.flatten(1).amax(1).clamp_min(1e-6)[:, None, None]
    maps = (maps / peak * 255).round().to(torch.uint8).numpy()
    return {"probs": probs, "maps": maps}


class DigitWidget(anywidget.AnyWidget):
    """A canvas to draw a digit on, with both models' answers beside it."""

    _esm = Path(__file__).with_name("widget.js")
    _css = Path(__file__).with_name("widget.css")

    # Browser -> Python: the drawing and the shift asked for with the arrow buttons.
    strokes = traitlets.List(traitlets.List()).tag(sync=True)  # [[[x, y], ...], ...] in canvas pixels
    shift = traitlets.List(traitlets.Int(), default_value=[0, 0], minlen=2, maxlen=2).tag(
        sync=True
    )  # [dx, dy]
    canvas_size = traitlets.Int(draw.CANVAS).tag(sync=True)
    stroke_width = traitlets.Int(draw.STROKE_WIDTH).tag(sync=True)
    # Python -> browser: everything to show, replaced whole after each change.
    result = traitlets.Dict().tag(sync=True)

    def __init__(self, lenet5: RunLike, mlp: RunLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runs = {"lenet5": lenet5, "mlp": mlp}
        self.observe(self._update, names=["strokes", "shift"])
        self._update()

    def __repr__(self) -> str:
        # ipywidgets' repr lists every trait, the images' base64 text included.
        return f"DigitWidget(strokes={len(self.strokes)}, shift={self.shift}, predictions={self.predictions})"

    @property
    def field(self) -> np.ndarray:
        """What the models read now: the drawing made an MNIST field, then shifted."""
        return draw.shift(
            draw.to_mnist(draw.render_strokes(self.strokes, self.canvas_size, self.stroke_width)), *self.shift
        )

    @property
    def predictions(self) -> dict[str, int | None]:
        """Each model's top class, or None while the canvas is blank."""
        return {m["name"]: m["top"] for m in self.result.get("models", [])}

    def clear(self) -> None:
        with self.hold_trait_notifications():
            self.strokes = []
            self.shift = [0, 0]

    def _update(self, _change: Any = None) -> None:
        start = time.perf_counter()
        field = self.field
        blank = not field.any()
        out = analyse(field, self._runs["lenet5"], self._runs["mlp"])
        self.result = {
            "strokes": len(self.strokes),  # which drawing this answer is for (the browser test waits on it)
            "shift": list(self.shift),
            "field": png_uri(field),
            "maps": [png_uri(m) for m in out["maps"]],
            "models": [
                {
                    "name": name,
                    "label": LABELS[name],
                    "probs": [round(float(p), 4) for p in probs],
                    "top": None if blank else int(probs.argmax()),
                }
                for name, probs in out["probs"].items()
            ],
            "ms": round(1000 * (time.perf_counter() - start), 1),
        }


def pipeline_figure(drawing: np.ndarray, lenet5: RunLike, mlp: RunLike, shifts: tuple[int, ...] = (0,)):
    """The widget's view, still: the drawing, the field the models read, both models'
    probabilities and LeNet-5's C1 maps; one row per horizontal shift in `shifts`."""
    import matplotlib.pyplot as plt

    field0 = draw.to_mnist(drawing)
    fig, axes = plt.subplots(
        len(shifts),
        9,
        figsize=(15, 1.9 * len(shifts)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.2, 1, 2.2, 1, 1, 1, 1, 1, 1]},
    )
    for row, dx in zip(axes, shifts):
        field = draw.shift(field0, dx, 0)
        out = analyse(field, lenet5, mlp)
        row[0].imshow(drawing, cmap="gray")
        row[0].set_title("drawing" if dx == 0 else "", fontsize=9)
        row[1].imshow(field, cmap="gray")
        row[1].set_title(f"28x28, shift {dx:+d}", fontsize=9)
        for offset, (name, probs) in zip((-0.2, 0.2), out["probs"].items()):
            row[2].bar(
                np.arange(10) + offset,
                probs.numpy(),
                width=0.4,
                label=f"{LABELS[name]}: {int(probs.argmax())}",
            )
        row[2].set_xticks(range(10))
        row[2].set_ylim(0, 1)
        row[2].legend(fontsize=8, loc="upper left")
        row[2].set_title("class probabilities", fontsize=9)
        for k, ax in enumerate(row[3:]):
            ax.imshow(out["maps"][k], cmap="magma")
            ax.set_title(f"C1 map {k + 1}", fontsize=9)
        for ax in (*row[:2], *row[3:]):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
