"""Moving images: the one shift, the one rotation, and on-device batched augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_lib.augment import RandomAffine, rotate, shift
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


def test_shift_moves_pixels_and_fills_with_zero():
    x = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    x[0, 0, 1, 1] = 7
    assert shift(x, 2, 0)[0, 0, 1, 3] == 7
    assert shift(x, 0, -1)[0, 0, 0, 1] == 7
    assert shift(x, 3, 0).sum() == 0  # moved out of the frame
    assert shift(x, -4, 0).sum() == 0
    assert torch.equal(shift(x, 0, 0), x)


def test_shift_of_a_numpy_image_is_a_numpy_image():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4) + 1
    right = shift(image, 1, 0)
    assert isinstance(right, np.ndarray) and right.dtype == np.uint8
    assert (right[:, 0] == 0).all() and (right[:, 1:] == image[:, :3]).all()
    up = shift(image, 0, -2)
    assert (up[:2] == image[2:]).all() and not up[2:].any()
    assert (shift(image, 0, 0) == image).all()
    assert not shift(image, 4, 0).any()


def test_rotate_by_zero_is_a_copy():
    x = torch.rand(3, 1, 32, 32)
    r = rotate(x, 0)
    assert torch.equal(r, x) and r.data_ptr() != x.data_ptr()


def test_rotate_quarter_turns_are_exact_and_clockwise():
    x = torch.rand(2, 1, 32, 32)
    assert torch.allclose(rotate(x, 90), torch.rot90(x, -1, (-2, -1)), atol=1e-5)
    assert torch.allclose(rotate(x, -90), torch.rot90(x, 1, (-2, -1)), atol=1e-5)
    one = torch.zeros(1, 1, 32, 32)
    one[0, 0, 2, 10] = 1.0  # near the top: a clockwise turn takes it to the right side
    assert (rotate(one, 90) > 0.5).nonzero().tolist() == [[0, 0, 10, 29]]


def test_rotate_keeps_shape_range_and_fills_corners_with_background():
    x = torch.ones(4, 1, 32, 32)
    r = rotate(x, 45)
    assert r.shape == x.shape and r.dtype == x.dtype and r.min() >= 0 and r.max() <= 1 + 1e-6
    assert r[0, 0, 0, 0] == 0 and r[0, 0, 16, 16] == pytest.approx(1.0)


def test_random_affine_with_only_rotation_is_rotate_by_the_drawn_angle():
    # One rotation in the package: the augmentation turns by the angle it draws, exactly as
    # `rotate` does (its angle runs counter-clockwise, rotate's clockwise).
    x = digit_batch(4)
    out = RandomAffine(degrees=30, translate=0, scale=(1, 1))(x, gen(5))
    angles = (torch.rand(4, generator=gen(5)) * 60 - 30).tolist()
    for i, a in enumerate(angles):
        assert torch.allclose(out[i : i + 1], rotate(x[i : i + 1], -a), atol=1e-5)
