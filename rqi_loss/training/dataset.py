"""Image pairs for training: aligned crops of both images and identical random flips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

# Label-preserving transforms of (3, S, S) training crops, each applied on its own coin flip; an augmentation
# choice uses the first N of them.
_TRANSFORMS = (lambda c: c.flip(2), lambda c: c.flip(1), lambda c: c.transpose(1, 2))  # horizontal, vertical, transpose
AUGMENTATIONS = {"none": 0, "flips": 2, "dihedral": 3}


def check_augment(augment: str, name: str = "augment") -> None:
    """Raise unless ``augment`` names one of AUGMENTATIONS; ``name`` is the key reported."""
    if augment not in AUGMENTATIONS:
        raise ValueError(f"{name} must be one of {list(AUGMENTATIONS)}; got {augment!r}")


class ImageCache:
    """Decoded images as uint8 (3, H, W) tensors, read once from disk (``keep=False`` re-reads every time)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self._images: dict[Path, torch.Tensor] = {}

    def __call__(self, path: Path) -> torch.Tensor:
        image = self._images.get(path)
        if image is None:
            try:
                array = np.asarray(Image.open(path).convert("RGB"))
            except (OSError, ValueError) as exc:
                raise OSError(f"cannot read training image {str(path)!r}: {exc}") from exc
            image = torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
            if self.keep:
                self._images[path] = image
        return image


def check_same_size(a: torch.Tensor, b: torch.Tensor, name_a: object, name_b: object) -> None:
    """Raise if the two images of a pair differ in shape (their crops would not be aligned)."""
    if a.shape != b.shape:
        raise ValueError(f"paired images differ in size: {name_a} {tuple(a.shape)} vs {name_b} {tuple(b.shape)}")


def centre_crop(image: torch.Tensor, size: int, name: str = "image") -> torch.Tensor:
    """uint8 (3, H, W) -> float32 (3, size, size) in [0, 1], the centre ``size`` x ``size`` window."""
    h, w = image.shape[1:]
    if min(h, w) < size:
        raise ValueError(f"{name} is {h}x{w}, smaller than the network's input size {size}")
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top : top + size, left : left + size].float().div(255)


class PairDataset(Dataset):
    """Item k: (a, b, label) with a, b float32 (3, S, S) in [0, 1]: aligned crops of pair k's two images.

    Training items take a random crop position and the same random transform for both images (``augment``:
    "flips" horizontal/vertical, "dihedral" flips and transposes, i.e. all 8 rotations and mirror images of
    a square, "none"), drawn from a generator seeded by (seed, epoch, k), so results do not depend on worker
    count; evaluation items take the centre.
    """

    def __init__(
        self,
        images: Sequence[Path],
        pairs: torch.Tensor,
        labels: torch.Tensor,
        crop_size: int,
        *,
        train: bool,
        cache: ImageCache,
        seed: int = 0,
        augment: str = "flips",
    ) -> None:
        if len(pairs) != len(labels):
            raise ValueError(f"{len(pairs)} pairs but {len(labels)} labels")
        check_augment(augment)
        self.augment = augment
        self.images, self.pairs, self.labels = list(images), pairs, labels
        self.crop_size, self.train, self.cache, self.seed = crop_size, train, cache, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        i, j = self.pairs[k].tolist()
        a, b = self.cache(self.images[i]), self.cache(self.images[j])
        check_same_size(a, b, self.images[i], self.images[j])
        h, w = a.shape[1:]
        size = self.crop_size
        if not self.train:
            return centre_crop(a, size, str(self.images[i])), centre_crop(b, size, str(self.images[j])), self.labels[k]
        if min(h, w) < size:
            raise ValueError(f"image {self.images[i]} is {h}x{w}, smaller than the crop size {size}")
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + k)
        top = int(torch.randint(0, h - size + 1, (1,), generator=g))
        left = int(torch.randint(0, w - size + 1, (1,), generator=g))
        coins = (torch.rand(3, generator=g) < 0.5).tolist()[: AUGMENTATIONS[self.augment]]
        crops = []
        for image in (a, b):
            crop = image[:, top : top + size, left : left + size]
            for transform, coin in zip(_TRANSFORMS, coins):
                if coin:
                    crop = transform(crop)
            crops.append(crop.float().div(255))
        return crops[0], crops[1], self.labels[k]
