"""Moving images, on whole batches and on whatever device they live on: the one shift
(whole pixels), the one rotation and warp, and the random augmentation built on them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ConfigError


def shift(images: torch.Tensor | np.ndarray, dx: int, dy: int) -> torch.Tensor | np.ndarray:
    """Images [..., H, W] (a tensor or a NumPy array; the same kind comes back) moved by whole
    pixels, `dx` right and `dy` down (negative: left, up), filling with 0, the background."""
    if isinstance(images, np.ndarray):
        return shift(torch.from_numpy(images), dx, dy).numpy()
    dx, dy = int(dx), int(dy)
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    src_y = slice(max(0, -dy), min(h, h - dy))
    dst_y = slice(max(0, dy), min(h, h + dy))
    src_x = slice(max(0, -dx), min(w, w - dx))
    dst_x = slice(max(0, dx), min(w, w + dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


def warp(x: torch.Tensor, angle: torch.Tensor, zoom: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Float images [B, 1, H, W] each turned by `angle` [B] (radians, counter-clockwise as
    shown), zoomed by `zoom` [B] and moved by `offset` [B, 2] (x, y, in sides of the image;
    sampling at +d moves the ink by -d). Bilinear; uncovered pixels are 0, the background."""
    # theta maps each output pixel to where it samples the input, in [-1, 1] units:
    # zooming in by s divides by s, and a shift of t times the side is 2t there.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, 2 * offset[:, 0]], 1), torch.stack([sin, cos, 2 * offset[:, 1]], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Float images [N, 1, H, W] in [0, 1] turned by `degrees` about their centre,
    clockwise as an image is shown (row 0 at the top); negative degrees turn the other
    way. At 90 degrees it is `torch.rot90(images, -1, (-2, -1))` up to rounding; at 0 a copy."""
    if degrees == 0:
        return images.clone()
    n = len(images)
    # In float64, like the angle itself: the sines and cosines are exact to float32.
    angle = torch.full((n,), -math.radians(degrees), dtype=torch.float64, device=images.device)
    ones = torch.ones(n, dtype=torch.float64, device=images.device)
    return warp(images, angle, ones, torch.zeros(n, 2, dtype=torch.float64, device=images.device))


@dataclass(frozen=True)
class RandomAffine:
    """A random rotation, shift and zoom of every image of a batch, each its own.

    Float images [B, 1, H, W] in [0, 1] -> the same shape. `degrees`: rotation drawn from
    [-degrees, degrees]; `translate`: shift drawn per axis from [-translate, translate]
    times the side; `scale`: zoom factor drawn from this range. Uncovered pixels are 0,
    the background. One `affine_grid` and one `grid_sample` per batch.
    """

    degrees: float = 10.0
    translate: float = 0.08
    scale: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", tuple(self.scale))
        problems = [
            f"{name} must be a finite number >= 0, got {value!r}"
            for name, value in (("degrees", self.degrees), ("translate", self.translate))
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0)
        ]
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1] < math.inf:
            problems.append(f"scale must be (low, high) with 0 < low <= high, got {self.scale}")
        if problems:
            raise ConfigError("; ".join(problems), "fix the augmentation settings.")

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n = len(x)

        def uniform(low: float, high: float, size: int = n) -> torch.Tensor:
            return torch.rand(size, generator=gen, device=x.device) * (high - low) + low

        angle = uniform(-self.degrees, self.degrees) * (math.pi / 180)
        zoom = uniform(*self.scale)
        offset = uniform(-self.translate, self.translate, 2 * n).view(n, 2)
        return warp(x, angle, zoom, offset)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RandomAffine:
        try:
            return cls(**values)
        except TypeError as e:
            raise ConfigError(f"not an augmentation: {e}") from None
