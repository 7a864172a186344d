"""The trained models as ONNX files for the browser (onnxruntime-web) and onnxruntime.

`ForBrowser` wraps a trained model so that the whole way from the 28x28 digit to the
probabilities is one graph: the project's 28->32 step, the normalization, the model and
the softmax (LeNet-5's also outputs its C1 maps). The browser and Python then share the
preprocessing exactly. Notebook 09 writes the class and the export call out and checks
that they are these; `site/build.py` (`make site`) uses `export_onnx` for the drawing page.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .atomic import atomic_path
from .batches import RESIZE_METHODS
from .data import TRAIN_MEAN, TRAIN_STD
from .errors import ConfigError
from .models import LeNet5


def resize_matrix(method: str) -> torch.Tensor:
    """R [32, 28]: `R @ rows` is one 28->32 pass of `batches.to_32x32` over the rows of an
    image ("resize": PyTorch's antialiased bilinear; "pad": 2 black pixels each side)."""
    if method not in RESIZE_METHODS:
        raise ConfigError(f"resize must be one of {list(RESIZE_METHODS)}, got {method!r}")
    if method == "pad":
        return F.pad(torch.eye(28), (0, 0, 2, 2))
    eye = torch.eye(28)[None, None]
    return F.interpolate(eye, size=(32, 28), mode="bilinear", antialias=True, align_corners=False)[0, 0]


class ForBrowser(nn.Module):
    """A trained model taking MNIST fields [N, 28, 28] in [0, 1]: returns the class
    probabilities [N, 10], and for LeNet-5 also its C1 maps after the ReLU [N, 6, 28, 28]."""

    def __init__(self, model: nn.Module, resize: str) -> None:
        super().__init__()
        self.model = model.eval()
        self.register_buffer("r", resize_matrix(resize))

    def to_input(self, image: torch.Tensor) -> torch.Tensor:
        """MNIST fields [N, 28, 28] in [0, 1] as the model's input [N, 1, 32, 32]: equal to
        `batches.normalize(batches.to_32x32(...))` of the same digits as uint8."""
        # The fields are whole multiples of 1/255: this round removes only float error.
        x = torch.round(image * 255)
        # to_32x32 on uint8 rounds to whole pixels after each pass, halves upwards (PyTorch's
        # uint8 kernel); torch.round would send halves to the even neighbour instead.
        x = torch.floor(x @ self.r.T + 0.5)  # across the rows
        x = torch.floor(self.r @ x + 0.5)  # down the columns
        return ((x / 255 - TRAIN_MEAN) / TRAIN_STD)[:, None]

    def forward(self, image: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.to_input(image)
        probs = torch.softmax(self.model(x), dim=1)
        if isinstance(self.model, LeNet5):
            return probs, torch.relu(self.model.c1(x))
        return probs


def output_names(model: nn.Module) -> list[str]:
    return ["probs", "c1"] if isinstance(model, LeNet5) else ["probs"]


# The exporter's note, on each operator, of the Python lines it came from: they name this
# machine's files (a home folder, a user name), which a file put on a web page should not.
STACK_TRACE = "pkg.torch.onnx.stack_trace"


def drop_stack_traces(path: str | os.PathLike[str]) -> None:
    """Remove the exporter's stack-trace notes from the ONNX file at `path`, keeping the
    graph, the weights and every other note."""
    import onnx

    proto = onnx.load(path)
    for node in proto.graph.node:
        kept = [prop for prop in node.metadata_props if prop.key != STACK_TRACE]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    onnx.save(proto, path)


def export_onnx(model: nn.Module, resize: str, path: str | os.PathLike[str]) -> Path:
    """Write `ForBrowser(model, resize)` to `path` as one ONNX file (any batch size),
    without the stack traces that name this machine's files. Written whole or not at all."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.onnx.export(
            ForBrowser(model, resize).eval(),
            (torch.zeros(2, 28, 28),),  # 2, not 1: a size-1 example would fix the batch at 1
            tmp,
            input_names=["image"],
            output_names=output_names(model),
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            external_data=False,  # one self-contained file
            verbose=False,
        )
        drop_stack_traces(tmp)
    return path
