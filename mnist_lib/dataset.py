"""The classic path: a `torch.utils.data.Dataset` with the seed's API.

Run `python -m mnist_lib.dataset` for the seed's check: Resize((32, 32)) + ToTensor(), a
shuffled DataLoader with batch size 4, and the first batch printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from .data import SPLITS, load_split


class MNIST(Dataset):
    """MNIST as (image, label) pairs: a PIL image (28x28, mode "L") through `transform`.

    `augment`, if given, is a random transform applied before `transform`, and only to the
    training split: passing one with mode="test" is an error, so augmentation can never
    leak into evaluation.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        mode: str = "train",
        transform: Callable[[Image.Image], Any] | None = None,
        augment: Callable[[Image.Image], Image.Image] | None = None,
    ) -> None:
        if mode not in SPLITS:
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if augment is not None and mode != "train":
            raise ValueError(
                "augment applies to the training split only; evaluate on unaltered test "
                "images (pass augment=None with mode='test')"
            )
        self.mode = mode
        self.transform = transform
        self.augment = augment
        self.images, self.labels = load_split(mode, data_dir)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image: Any = Image.fromarray(self.images[index].numpy())
        if self.augment is not None:
            image = self.augment(image)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])


def main() -> None:
    """The seed's check of the DataLoader."""
    from torch.utils.data import DataLoader
    from torchvision import transforms

    torch.set_printoptions(threshold=64, edgeitems=2, precision=3)
    transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    trainset = MNIST(mode="train", transform=transform)
    train_loader = DataLoader(trainset, batch_size=4, shuffle=True, num_workers=0)
    img, label = next(iter(train_loader))
    print(f"{len(trainset):,} training images; one batch: images {tuple(img.shape)} "
          f"{img.dtype} in [{img.min():.1f}, {img.max():.1f}], labels {tuple(label.shape)}")
    print(img)
    print(label)


if __name__ == "__main__":
    main()
