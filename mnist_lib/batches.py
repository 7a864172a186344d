"""The fast training path: a whole split made 32x32 once and kept as uint8 on the device
(56 MB for train), each batch sliced, converted and normalized in a few vectorized steps;
the classic path (`dataset.MNIST` + `DataLoader`) builds each sample through PIL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from .data import SPLITS, TRAIN_MEAN, TRAIN_STD, load_split
from .errors import ConfigError

RESIZE_METHODS = ("resize", "pad")
DEFAULT_RESIZE = "resize"

# An augmentation (such as `augment.RandomAffine`) takes a float batch in [0, 1] of shape
# [B, 1, 32, 32] and a generator on the same device, and returns a batch of the same shape.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def to_32x32(images: torch.Tensor, method: str = DEFAULT_RESIZE) -> torch.Tensor:
    """Turn uint8 images [N, 28, 28] into uint8 [N, 1, 32, 32].

    "resize" scales the image up as the course write-up's `transforms.Resize((32, 32))`
    does (bilinear with antialiasing, rounded back to uint8 as PIL does), so MNIST's empty
    margin grows with the digit; "pad" adds a 2-pixel black border as LeCun et al. did,
    keeping the original pixels exactly.
    """
    if method not in RESIZE_METHODS:
        raise ConfigError(f"resize must be one of {list(RESIZE_METHODS)}, got {method!r}")
    if images.dtype != torch.uint8 or images.shape[-2:] != (28, 28):
        raise ValueError(f"expected uint8 images [N, 28, 28], got {images.dtype} {tuple(images.shape)}")
    x = images.reshape(-1, 1, 28, 28)
    if method == "pad":
        return F.pad(x, (2, 2, 2, 2))
    # PyTorch's own uint8 kernel, the one torchvision's `resize` calls: the same bytes
    # without importing torchvision, which costs about 2 s of a cold start here.
    return F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Scale uint8 or [0, 1] float pixels to zero mean, unit variance (training stats)."""
    if x.dtype == torch.uint8:
        x = x.float().div_(255.0)
    return (x - TRAIN_MEAN) / TRAIN_STD


class Batches:
    """Batches of (normalized float images [B, 1, 32, 32], labels [B]) from uint8 images in
    memory (each batch is converted and normalized in place on its own copy). With
    `shuffle`, each pass draws a permutation from a generator seeded with `seed`; `augment`,
    if given, warps every batch. The last batch may be smaller."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
        augment: Augment | None = None,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if images.dtype != torch.uint8:
            raise ValueError(
                f"images must be uint8 pixels in 0..255, got {images.dtype}: pass the output "
                "of to_32x32 (normalization happens per batch)"
            )
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        # Two streams per seed that no other seed shares: the order from 2*seed, the
        # augmentations from 2*seed + 1. `train.TrainingState` saves and restores them.
        self.order_rng = torch.Generator().manual_seed(2 * seed)
        self.augment_rng = torch.Generator(device=self.device).manual_seed(2 * seed + 1)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.images, self.labels
        if self.shuffle:
            # The permutation is drawn on the CPU so that the same seed gives the same order
            # on every device. One gather per epoch, then every batch is a slice: cheaper
            # than gathering each batch (measured: about 10% of an MLP epoch on a CPU).
            order = torch.randperm(len(images), generator=self.order_rng).to(self.device)
            images, labels = images[order], labels[order]
        for start in range(0, len(images), self.batch_size):
            x = images[start : start + self.batch_size].float().div_(255.0)
            if self.augment is not None:
                x = self.augment(x, self.augment_rng)
            # In place, on a batch of our own: the same values as `normalize`, no new tensor.
            yield x.sub_(TRAIN_MEAN).div_(TRAIN_STD), labels[start : start + self.batch_size]


def mnist_batches(
    split: str,
    batch_size: int,
    *,
    device: str | torch.device = "cpu",
    resize: str = DEFAULT_RESIZE,
    shuffle: bool | None = None,
    seed: int = 0,
    augment: Augment | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> Batches:
    """Batches over one split ("train", "val" or "test"), 32x32, on `device`. Shuffled
    by default for "train".

    `limit` keeps only the first `limit` samples (for quick experiments and tests).
    `augment` is refused for "val" and "test": models are measured on the original images.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, got {split!r}")
    if limit is not None and limit <= 0:
        raise ConfigError(f"limit must be positive, got {limit}")
    if augment is not None and split != "train":
        raise ConfigError(
            f"augment was given for the {split!r} split: augmentation is for training "
            "batches only; models are measured on the original images",
            "pass augment=None for this split.",
        )
    images, labels = load_split(split, data_dir)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Batches(
        to_32x32(images, resize),
        labels,
        batch_size,
        shuffle=(split == "train") if shuffle is None else shuffle,
        seed=seed,
        device=device,
        augment=augment,
    )
