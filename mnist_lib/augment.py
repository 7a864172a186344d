"""Data augmentation on whole batches, on whatever device the batch lives on."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .errors import ConfigError


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
        shift = uniform(-self.translate, self.translate, 2 * n).view(n, 2)
        # theta maps each output pixel to where it samples the input, in [-1, 1] units:
        # zooming in by s divides by s, and a shift of t times the side is 2t there.
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, 2 * shift[:, 0]], 1), torch.stack([sin, cos, 2 * shift[:, 1]], 1)], 1
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RandomAffine:
        try:
            return cls(**values)
        except TypeError as e:
            raise ConfigError(f"not an augmentation: {e}") from None
