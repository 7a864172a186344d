"""The classic path: a `torch.utils.data.Dataset` with the course write-up's API,
`MNIST(data_dir, mode, transform)`; notebook 01 checks one batch of it, as the write-up did.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from .data import SPLITS, load_split
from .errors import ConfigError


class MNIST(Dataset):
    """One split as (image, label) pairs: a PIL image (28x28, mode "L") through `transform`.

    `mode` is "train" (55,000 images), "val" (5,000) or "test" (10,000); see `data`.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        mode: str = "train",
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        if mode not in SPLITS:
            raise ConfigError(f"mode must be one of {list(SPLITS)}, got {mode!r}")
        self.mode = mode
        self.transform = transform
        self.images, self.labels = load_split(mode, data_dir)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image: Any = Image.fromarray(self.images[index].numpy())
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])
