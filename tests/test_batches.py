"""The fast in-memory batch loader and the 28 -> 32 step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_lib.batches import Batches, mnist_batches, normalize, to_32x32
from mnist_lib.data import TRAIN_MEAN, TRAIN_STD, load_split


def test_resize_matches_the_seeds_pil_resize_exactly(data_dir):
    images, _ = load_split("test", data_dir)
    ours = to_32x32(images[:300], "resize")[:, 0].numpy()
    pil = np.stack(
        [np.asarray(Image.fromarray(im.numpy()).resize((32, 32), Image.BILINEAR)) for im in images[:300]]
    )
    assert np.array_equal(ours, pil)


def test_pad_keeps_the_original_pixels_inside_a_black_border(data_dir):
    images, _ = load_split("test", data_dir)
    padded = to_32x32(images[:50], "pad")
    assert padded.shape == (50, 1, 32, 32) and padded.dtype == torch.uint8
    assert torch.equal(padded[:, 0, 2:30, 2:30], images[:50])
    assert padded[:, :, :2].sum() == 0 and padded[:, :, :, 30:].sum() == 0


def test_bad_resize_method_and_bad_input():
    with pytest.raises(ValueError, match="resize must be one of"):
        to_32x32(torch.zeros(1, 28, 28, dtype=torch.uint8), "crop")
    with pytest.raises(ValueError, match="expected uint8 images"):
        to_32x32(torch.zeros(1, 28, 28), "pad")


def test_normalize_uses_the_training_statistics():
    x = torch.tensor([0, 255], dtype=torch.uint8)
    expected = torch.tensor([-TRAIN_MEAN / TRAIN_STD, (1 - TRAIN_MEAN) / TRAIN_STD])
    assert torch.allclose(normalize(x), expected)
    assert torch.allclose(normalize(x.float() / 255), expected)


def test_every_sample_once_per_epoch_in_a_new_seeded_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 32, 32).contiguous()
    labels = torch.arange(10)
    batches = Batches(images, labels, batch_size=4, shuffle=True, seed=3)
    assert len(batches) == 3
    first = torch.cat([y for _, y in batches])
    second = torch.cat([y for _, y in batches])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(10))
    assert not torch.equal(first, second)
    again = Batches(images, labels, batch_size=4, shuffle=True, seed=3)
    assert torch.equal(torch.cat([y for _, y in again]), first)
    for x, y in Batches(images, labels, batch_size=4, shuffle=True, seed=3):
        # images travel with their labels
        assert torch.allclose(x[:, 0, 0, 0], normalize(y.to(torch.uint8)))


def test_no_shuffle_keeps_order_and_sizes():
    images = torch.zeros(10, 1, 32, 32, dtype=torch.uint8)
    sizes = [len(y) for _, y in Batches(images, torch.arange(10), batch_size=4)]
    assert sizes == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in Batches(images, torch.arange(10), 3)]), torch.arange(10))


def test_augment_is_applied_to_batches_in_unit_range():
    images = torch.full((6, 1, 32, 32), 255, dtype=torch.uint8)
    seen = []

    def augment(x, gen):
        seen.append((x.min().item(), x.max().item()))
        return x * 0

    batches = Batches(images, torch.zeros(6, dtype=torch.long), 3, augment=augment)
    xs = [x for x, _ in batches]
    assert seen == [(1.0, 1.0), (1.0, 1.0)]
    assert torch.allclose(xs[0], normalize(torch.zeros(1)))


def test_bad_batch_sizes_and_lengths():
    with pytest.raises(ValueError, match="batch_size must be positive"):
        Batches(torch.zeros(2, 1, 32, 32, dtype=torch.uint8), torch.zeros(2), 0)
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        Batches(torch.zeros(2, 1, 32, 32, dtype=torch.uint8), torch.zeros(3), 1)


def test_float_images_are_refused_before_they_could_be_normalized_in_place():
    with pytest.raises(ValueError, match="images must be uint8.*to_32x32"):
        Batches(torch.zeros(2, 1, 32, 32), torch.zeros(2), 1)


def test_the_test_split_is_never_augmented(data_dir):
    for split in ("val", "test"):
        with pytest.raises(ValueError, match=f"augment was given for the '{split}' split"):
            mnist_batches(split, 100, augment=lambda x, g: x, data_dir=data_dir)
    train = mnist_batches("train", 100, augment=lambda x, g: x, data_dir=data_dir, limit=200)
    assert train.augment is not None


def test_mnist_batches_on_the_real_data(data_dir):
    train = mnist_batches("train", 1000, data_dir=data_dir)
    assert train.shuffle and train.num_samples == 55_000 and len(train) == 55
    val = mnist_batches("val", 1000, data_dir=data_dir)
    assert not val.shuffle and val.num_samples == 5_000
    x, y = next(iter(train))
    assert x.shape == (1000, 1, 32, 32) and x.dtype == torch.float32 and y.shape == (1000,)
    test = mnist_batches("test", 2000, resize="pad", data_dir=data_dir)
    assert not test.shuffle
    all_x = torch.cat([x for x, _ in test])
    # the padded test set, normalized with the training statistics, has known moments
    pixels = all_x * TRAIN_STD + TRAIN_MEAN
    assert abs(pixels.mean().item() - 0.1325 * 784 / 1024) < 2e-3
