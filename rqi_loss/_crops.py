"""Aligned crops of (sr, gt) pairs at the network's input size: random, grid (full cover) and center.

Crop positions are (..., 2) int64 top-left (row, col) offsets on the CPU; the same offsets cut both images.
Every random position in the package (the loss's crops, the metric's multi-scale protocol) is drawn by
:func:`random_offsets`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._warnings_at_caller import warn_at_caller

CROP_MODES = ("random", "grid", "center")


def grid_starts(length: int, size: int) -> list[int]:
    """Fewest evenly spread starts whose windows of ``size`` cover [0, length): ceil(length / size) of them."""
    count = math.ceil(length / size)
    if count == 1:
        return [0]
    step = (length - size) / (count - 1)
    return [round(i * step) for i in range(count)]


def random_offsets(
    shape: tuple[int, ...], height: int, width: int, size: int, generator: torch.Generator | None
) -> torch.Tensor:
    """(*shape, 2) int64 top-left (row, col) offsets of ``size`` crops in an (H, W) image, uniform over the
    valid positions: all rows are drawn from ``generator``, then all columns."""
    rows = torch.randint(0, height - size + 1, shape, generator=generator)
    cols = torch.randint(0, width - size + 1, shape, generator=generator)
    return torch.stack((rows, cols), dim=-1)


def crop_offsets(
    n: int, height: int, width: int, size: int, mode: str, num_crops: int, generator: torch.Generator | None
) -> torch.Tensor:
    """(N, K, 2) top-left (row, col) offsets of K aligned crops of ``size`` in an (H, W) image."""
    if mode == "random":
        return random_offsets((n, num_crops), height, width, size, generator)
    if mode == "grid":
        cells = [(r, c) for r in grid_starts(height, size) for c in grid_starts(width, size)]
        return torch.tensor(cells, dtype=torch.int64).unsqueeze(0).expand(n, -1, -1)
    if mode == "center":
        return torch.tensor([[[(height - size) // 2, (width - size) // 2]]], dtype=torch.int64).expand(n, -1, -1)
    raise ValueError(f"unknown crop {mode!r}; choose one of {', '.join(CROP_MODES)}")


def take_crops(x: torch.Tensor, offsets: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) and (N, K, 2) offsets -> (N * K, C, size, size), sample-major."""
    if bool((offsets == offsets[:1]).all()):
        cells = offsets[0].tolist()  # the same cells for every sample: slice the whole batch at once
        crops = torch.stack([x[:, :, r : r + size, c : c + size] for r, c in cells], dim=1)
        return crops.flatten(0, 1)
    per_sample = [x[i, :, r : r + size, c : c + size] for i, cells in enumerate(offsets.tolist()) for r, c in cells]
    return torch.stack(per_sample)


def resize_to_min_side(sr: torch.Tensor, gt: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Upscale both images the same way (bilinear, antialias) so the short side is ``size``; warn once."""
    height, width = sr.shape[-2:]
    if min(height, width) >= size:
        return sr, gt
    scale = size / min(height, width)
    target = (max(size, round(height * scale)), max(size, round(width * scale)))
    warn_at_caller(
        f"inputs with a side below the network's input size {size} are resized (bilinear, both images alike) "
        "so the short side is that size; pass larger images to avoid it"
    )
    resize = lambda t: F.interpolate(t, size=target, mode="bilinear", align_corners=False, antialias=True)  # noqa: E731
    return resize(sr), resize(gt)
