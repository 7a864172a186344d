"""On-device batched augmentation."""

from __future__ import annotations

import pytest
import torch

from mnist_lib.augment import RandomAffine
from mnist_lib.errors import ConfigError


def digit_batch(n: int = 8) -> torch.Tensor:
    x = torch.zeros(n, 1, 32, 32)
    x[:, :, 8:24, 14:18] = 1.0  # a vertical bar, like a "1"
    return x


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_identity_settings_leave_images_unchanged():
    x = digit_batch()
    out = RandomAffine(degrees=0, translate=0, scale=(1.0, 1.0))(x, gen())
    assert torch.allclose(out, x, atol=1e-5)


def test_seeded_per_image_and_keeps_shape_and_range():
    x = digit_batch()
    aug = RandomAffine(degrees=15, translate=0.1, scale=(0.9, 1.1))
    a, b = aug(x, gen(1)), aug(x, gen(1))
    assert torch.equal(a, b)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1 + 1e-6
    assert not torch.allclose(a[0], a[1])  # each image gets its own transform
    assert not torch.allclose(a, aug(x, gen(2)))


def test_pure_shift_moves_the_digit_by_the_drawn_amount():
    x = digit_batch(1)
    out = RandomAffine(degrees=0, translate=2 / 32, scale=(1.0, 1.0))(x, gen(0))
    u = torch.rand(3, generator=gen(0))[2]  # draws: angle, zoom, then the x shift
    shift_px = (u * 2 - 1) * (2 / 32) * 32
    ink = out[0, 0].sum(0)
    centre = (ink * torch.arange(32)).sum() / ink.sum()
    assert abs(centre - (15.5 - shift_px)) < 0.05  # sampling at +d moves the ink by -d


def test_rotation_by_90_degrees_turns_a_bar_on_its_side():
    x = digit_batch(1)
    out = RandomAffine(degrees=0, translate=0, scale=(1.0, 1.0))
    turned = RandomAffine(degrees=90, translate=0, scale=(1.0, 1.0))
    # draw angles until one is close to 90 degrees
    for seed in range(200):
        g = gen(seed)
        if torch.rand(1, generator=gen(seed)).item() > 0.99:
            y = turned(x, g)
            rows, cols = y[0, 0].sum(1), y[0, 0].sum(0)
            assert (rows > 0.5).sum() < (cols > 0.5).sum()  # wider than tall now
            break
    assert torch.allclose(out(x, gen()), x, atol=1e-5)


def test_bad_settings_are_rejected_and_round_trip():
    for bad in (dict(degrees=-1), dict(scale=(1.2, 1.0)), dict(translate=float("nan"))):
        with pytest.raises(ConfigError):
            RandomAffine(**bad)
    aug = RandomAffine(degrees=5, translate=0.1, scale=(0.8, 1.2))
    assert RandomAffine.from_dict(aug.to_dict()) == aug
