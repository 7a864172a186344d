"""Draw a digit in the notebook and watch both models read it: an anywidget.

    from mnist_lib.widget import DigitWidget
    DigitWidget(load_run(".../lenet5"), load_run(".../mlp"))

The browser side (`widget.js`, one ES module, no build step) draws the strokes and sends
them here when each stroke ends; this side runs `mnist_lib.draw`'s preprocessing and both
models, and sends back the class probabilities, the 28x28 field the models read and
LeNet-5's six C1 feature maps, all shown dark on white like the tutorial's figures, and each
model's bars in its colour there. The arrow buttons move that field by whole pixels: they
shift after the centring, which would otherwise undo any move of the drawing, and the caption
says how much of the ink a shift pushed off the field. Each C1 map is scaled to its own
strongest response (`draw.analyse`), so its greys do not compare between maps or shifts.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from PIL import Image

from . import draw
from .augment import shift
from .draw import LABELS, RunLike, analyse


def png_uri(image: np.ndarray) -> str:
    """A grey uint8 image as a data: URI of a PNG (the browser scales it up, pixelated)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class DigitWidget(anywidget.AnyWidget):
    """A canvas to draw a digit on, with both models' answers beside it."""

    _esm = Path(__file__).with_name("widget.js")
    _css = Path(__file__).with_name("widget.css")

    # Browser -> Python: the drawing and the shift asked for with the arrow buttons.
    strokes = traitlets.List(traitlets.List()).tag(sync=True)  # [[[x, y], ...], ...] in canvas pixels
    shift = traitlets.List(traitlets.Int(), default_value=[0, 0], minlen=2, maxlen=2).tag(sync=True)  # dx, dy
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
    def centred(self) -> np.ndarray:
        """The drawing made an MNIST field, before the arrows' shift."""
        return draw.to_mnist(draw.render_strokes(self.strokes, self.canvas_size, self.stroke_width))

    @property
    def field(self) -> np.ndarray:
        """What the models read now: the drawing made an MNIST field, then shifted."""
        return shift(self.centred, *self.shift)

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
        centred = self.centred
        field = shift(centred, *self.shift)
        blank = not field.any()
        out = analyse(field, self._runs["lenet5"], self._runs["mlp"])
        self.result = {
            "strokes": len(self.strokes),  # which drawing this answer is for (the browser test waits on it)
            "shift": list(self.shift),
            # A shift near the edge crops the digit too: the caption says how much ink it cut off.
            "ink_lost": round(draw.ink_lost(centred, *self.shift), 3),
            # Shown dark on white, like the tutorial's figures (gray_r): 255 is no ink.
            "field": png_uri(255 - field),
            "maps": [png_uri(255 - m) for m in out["maps"]],
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
