"""Batched, on-device data augmentation for the training batches.

`RandomDistortion` warps every image of a batch with its own random affine transform
(rotation, shift, scale) and, optionally, an elastic distortion (Simard et al., 2003),
all in one `grid_sample` call on whatever device the batch lives on.
`mnist_batches("train", ..., augment=...)` applies it to every training batch; it refuses an
augmentation for the test split, which is always the original images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


class RandomDistortion:
    """A random warp per image: float images [B, 1, H, W] in [0, 1] -> same shape.

    - `degrees`: rotation drawn from [-degrees, degrees];
    - `translate`: shift drawn from [-translate, translate] times the side, per axis;
    - `scale`: zoom factor drawn from this range;
    - `elastic_alpha`, `elastic_sigma`: a smooth random displacement field whose
      root-mean-square displacement is `elastic_alpha` pixels and which varies over about
      `elastic_sigma` pixels (Simard's alpha=34, sigma=4 on 28x28 comes to about 1.4 pixels
      rms); 0 turns it off. Simard smooths per-pixel noise with a Gaussian; drawing the
      noise on a grid of one value per `sigma` pixels and upsampling it gives the same
      smoothness at a fraction of the cost.

    Uncovered pixels are filled with 0, the background.
    """

    def __init__(
        self,
        degrees: float = 10.0,
        translate: float = 0.08,
        scale: tuple[float, float] = (0.9, 1.1),
        elastic_alpha: float = 0.0,
        elastic_sigma: float = 4.0,
    ) -> None:
        problems = [f"{name} must be >= 0, got {value}" for name, value in
                    (("degrees", degrees), ("translate", translate), ("elastic_alpha", elastic_alpha))
                    if value < 0]
        if not 0 < scale[0] <= scale[1]:
            problems.append(f"scale must satisfy 0 < low <= high, got {scale}")
        if elastic_sigma <= 0:
            problems.append(f"elastic_sigma must be > 0, got {elastic_sigma}")
        if problems:
            raise ValueError("; ".join(problems))
        self.degrees, self.translate, self.scale = degrees, translate, scale
        self.elastic_alpha, self.elastic_sigma = elastic_alpha, elastic_sigma
        self._cache: dict[tuple[str, int, int, torch.device], torch.Tensor] = {}

    def __repr__(self) -> str:
        parts = f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}"
        if self.elastic_alpha:
            parts += f", elastic_alpha={self.elastic_alpha}, elastic_sigma={self.elastic_sigma}"
        return f"RandomDistortion({parts})"

    def _coords(self, h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """x and y of the pixel centres in [-1, 1] (align_corners=False), each [1, H, W]."""
        key = ("coords", h, w, device)
        if key not in self._cache:
            ys = (torch.arange(h, device=device) * 2 + 1) / h - 1
            xs = (torch.arange(w, device=device) * 2 + 1) / w - 1
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            self._cache[key] = torch.stack([gx, gy])[:, None]
        gx, gy = self._cache[key]
        return gx, gy

    def _upsample(self, size: int, coarse: int, device: torch.device) -> torch.Tensor:
        """The [size, coarse] matrix of linear interpolation (corners aligned): smooth fields
        come from coarse noise by two small matrix products, far cheaper than
        F.interpolate on a CPU."""
        key = ("up", size, coarse, device)
        if key not in self._cache:
            pos = torch.linspace(0, coarse - 1, size, device=device)
            lo = pos.floor().clamp(max=coarse - 2).long()
            frac = pos - lo
            m = torch.zeros(size, coarse, device=device)
            m[torch.arange(size), lo] = 1 - frac
            m[torch.arange(size), lo + 1] = frac
            self._cache[key] = m
        return self._cache[key]

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        dev = x.device
        angle = _uniform(n, -self.degrees, self.degrees, gen, dev) * (math.pi / 180)
        zoom = _uniform(n, *self.scale, gen, dev)
        # The grid maps each output pixel to where it samples the input, in [-1, 1]: a shift
        # of t (a fraction of the side) is 2t there, and zooming in by s divides by s.
        shift = _uniform(2 * n, -self.translate, self.translate, gen, dev).view(n, 2) * 2
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        gx, gy = self._coords(h, w, dev)
        c, s_, tx, ty = (v.view(n, 1, 1) for v in (cos, sin, shift[:, 0], shift[:, 1]))
        grid_x = c * gx - s_ * gy + tx  # [n, H, W]
        grid_y = s_ * gx + c * gy + ty
        if self.elastic_alpha:
            ch, cw = max(2, math.ceil(h / self.elastic_sigma)), max(2, math.ceil(w / self.elastic_sigma))
            noise = torch.rand(n, 2, ch, cw, generator=gen, device=dev) * 2 - 1
            field = self._upsample(h, ch, dev) @ noise @ self._upsample(w, cw, dev).T  # [n, 2, H, W]
            rms = field.square().mean((1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
            field = field * (self.elastic_alpha / rms)
            grid_x = grid_x + field[:, 0] * (2.0 / w)  # pixels -> grid units
            grid_y = grid_y + field[:, 1] * (2.0 / h)
        grid = torch.stack([grid_x, grid_y], -1)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
