"""On-device batched augmentation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnist_lib.augment import RandomDistortion


def digit_batch(n: int = 8) -> torch.Tensor:
    x = torch.zeros(n, 1, 32, 32)
    x[:, :, 8:24, 14:18] = 1.0  # a vertical bar, like a "1"
    return x


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_identity_parameters_leave_images_unchanged():
    x = digit_batch()
    out = RandomDistortion(degrees=0, translate=0, scale=(1.0, 1.0))(x, gen())
    assert torch.allclose(out, x, atol=1e-5)


def test_the_grid_agrees_with_torch_affine_grid():
    aug = RandomDistortion(degrees=20, translate=0.1, scale=(0.8, 1.2))
    x = digit_batch(4)
    theta = torch.tensor([[[0.9, -0.2, 0.1], [0.2, 0.9, -0.05]]]).expand(4, 2, 3)
    gx, gy = aug._coords(32, 32, x.device)
    ours = torch.stack([0.9 * gx - 0.2 * gy + 0.1, 0.2 * gx + 0.9 * gy - 0.05], -1)[0].expand(4, 32, 32, 2)
    assert torch.allclose(ours, F.affine_grid(theta, [4, 1, 32, 32], align_corners=False), atol=1e-6)


def test_smooth_field_interpolation_matches_torch():
    aug = RandomDistortion()
    noise = torch.rand(3, 2, 8, 8)
    ours = aug._upsample(32, 8, noise.device) @ noise @ aug._upsample(32, 8, noise.device).T
    assert torch.allclose(ours, F.interpolate(noise, size=(32, 32), mode="bilinear", align_corners=True), atol=1e-5)


def test_seeded_per_image_and_keeps_shape_and_range():
    x = digit_batch()
    aug = RandomDistortion(degrees=15, translate=0.1, scale=(0.9, 1.1), elastic_alpha=1.5)
    a, b = aug(x, gen(1)), aug(x, gen(1))
    assert torch.equal(a, b)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1 + 1e-6
    assert not torch.allclose(a[0], a[1])  # each image gets its own transform
    assert not torch.allclose(a, aug(x, gen(2)))


def test_pure_shift_moves_the_digit_by_the_drawn_amount():
    x = digit_batch(1)
    aug = RandomDistortion(degrees=0, translate=2 / 32, scale=(1.0, 1.0))
    out = aug(x, gen(0))
    u = torch.rand(4, generator=gen(0))[2]  # draws: angle, zoom, then the x and y shifts
    shift_px = (u * 2 - 1) * (2 / 32) * 32
    ink = out[0, 0].sum(0)
    centre = (ink * torch.arange(32)).sum() / ink.sum()
    assert abs(centre - (15.5 - shift_px)) < 0.05  # sampling at +d moves the ink by -d


def test_elastic_distortion_moves_pixels_but_keeps_the_ink():
    x = digit_batch()
    plain = RandomDistortion(degrees=0, translate=0, scale=(1.0, 1.0), elastic_alpha=1.5)
    out = plain(x, gen(0))
    assert not torch.allclose(out, x)
    assert abs(out.sum().item() / x.sum().item() - 1) < 0.1


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        RandomDistortion(degrees=-1)
    with pytest.raises(ValueError):
        RandomDistortion(scale=(1.2, 1.0))
    assert "elastic_alpha=1.5" in repr(RandomDistortion(elastic_alpha=1.5))
