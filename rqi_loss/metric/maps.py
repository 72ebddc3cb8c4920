"""Relative-quality maps: where in an image the judge prefers the SR output to its reference, and where not.

The network scores aligned windows of its input size on a grid (``stride`` apart, the last row and column of
windows flush with the image's edge); the map holds one score per window. Its dense view gives each pixel the
mean score of the windows that cover it, for overlays. A positive region is one where the judge prefers the SR
output there; a negative one, where it prefers the reference.

With ``stride`` equal to the input size on an image whose sides are multiples of it, the windows are exactly
the crops of ``rqi_score(..., crop="grid")``, so the map's mean is that score; with a smaller stride the map's
mean weights every pixel more evenly (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._crops import take_crops
from .._inputs import check_image_pair
from ..functional import _input_size, pair_scores
from ..networks.base import at_least_float32

__all__ = ["RQIMap", "rqi_map", "window_starts"]


@dataclass(frozen=True)
class RQIMap:
    """``values`` (N, R, C) float32: f of each window; ``rows`` (R,) and ``cols`` (C,): the windows' top-left
    coordinates; ``size``: the window side (the network's input size); ``shape``: the images' (H, W)."""

    values: torch.Tensor
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    size: int
    shape: tuple[int, int]

    def dense(self) -> torch.Tensor:
        """(N, H, W) float32: per pixel, the mean score of the windows covering it."""
        n = self.values.shape[0]
        total = torch.zeros(n, *self.shape, device=self.values.device)
        count = torch.zeros(self.shape, device=self.values.device)
        for i, r in enumerate(self.rows):
            for j, c in enumerate(self.cols):
                total[:, r : r + self.size, c : c + self.size] += self.values[:, i, j].view(n, 1, 1)
                count[r : r + self.size, c : c + self.size] += 1
        return total / count

    def extreme_windows(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Per image, the (row, col) top-left of its lowest-scored window and of its highest-scored one."""
        flat = self.values.flatten(1)
        positions = []
        for index in (flat.argmin(dim=1), flat.argmax(dim=1)):
            positions.append([(self.rows[k // len(self.cols)], self.cols[k % len(self.cols)]) for k in index.tolist()])
        return positions[0], positions[1]


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Starts of ``size`` windows ``stride`` apart along ``length``, the last one flush with the end."""
    if length < size:
        raise ValueError(f"the image side {length} is smaller than the window {size}; upsample the images first")
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


@torch.inference_mode()
def rqi_map(
    sr: torch.Tensor,
    gt: torch.Tensor,
    network: nn.Module,
    *,
    stride: int | None = None,
    batch_size: int = 64,
) -> RQIMap:
    """f(sr, gt) on every window of a grid over both images: a relative-quality map.

    Args:
        sr: (N, 3, H, W) in [0, 1], H and W at least the network's input size.
        gt: (N, 3, H, W) in [0, 1], the reference.
        network: an RQI network (``input_size``; ``extract``/``compare`` or ``forward``), frozen.
        stride: pixels between window starts (default: half the input size); the input size gives the
            windows of ``crop="grid"`` on sides that are multiples of it.
        batch_size: most window pairs per network call (bounds the memory a large image needs).

    Returns:
        An :class:`RQIMap`; ``values`` on the network's device.

    Example:
        >>> import torch, rqi_loss
        >>> from rqi_loss.metric.maps import rqi_map
        >>> gt = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
        >>> found = rqi_map(gt, gt, rqi_loss.create_network("tiny-kadid-synth"), stride=64)
        >>> found.values.shape, float(found.values.abs().max())  # 3 x 3 windows; an image against itself: 0
        (torch.Size([1, 3, 3]), 0.0)
    """
    sr, gt = check_image_pair(sr, gt)
    size = _input_size(network)
    stride = size // 2 if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive number of pixels, e.g. {size // 2}; got {stride!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1 (window pairs per network call); got {batch_size!r}")
    height, width = sr.shape[-2:]
    rows, cols = window_starts(height, size, stride), window_starts(width, size, stride)
    cells = torch.tensor([(r, c) for r in rows for c in cols], dtype=torch.int64)
    scores = []
    for sample in range(sr.shape[0]):  # window crops are taken a batch at a time: memory stays bounded
        for start in range(0, len(cells), batch_size):
            offsets = cells[start : start + batch_size].unsqueeze(0)
            crops_sr = take_crops(sr[sample : sample + 1], offsets, size)
            crops_gt = take_crops(gt[sample : sample + 1], offsets, size)
            scores.append(at_least_float32(pair_scores(network, crops_sr, crops_gt, antisymmetric=False)).float())
    values = torch.cat(scores).view(sr.shape[0], len(rows), len(cols))
    return RQIMap(values, tuple(rows), tuple(cols), size, (height, width))
