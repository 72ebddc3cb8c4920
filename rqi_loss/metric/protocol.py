"""The multi-scale crop protocol used to score a whole image with an RQI network.

The authors' protocol ("official"): score the full image, then bilinear x0.5 downscales of it (each made from
the previous scale, sizes floored), stopping before a scale whose short side would be below the crop size;
20 / 10 / 5 aligned random crops of the network's input size at scales 1 / 2 / 3; the score is the mean over
all crops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ScoreProtocol:
    """crops_per_scale: random crops at each scale (its length is the most scales used); scale_factor: size
    ratio between consecutive scales, in (0, 1); crop_size: crop side in pixels (None: the network's input
    size)."""

    crops_per_scale: tuple[int, ...] = (20, 10, 5)
    scale_factor: float = 0.5
    crop_size: int | None = None

    def __post_init__(self) -> None:
        counts = tuple(self.crops_per_scale)
        if not counts or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts):
            raise ValueError(
                "crops_per_scale must be a non-empty sequence of integers >= 1, e.g. (20, 10, 5); "
                f"got {self.crops_per_scale!r}"
            )
        object.__setattr__(self, "crops_per_scale", counts)
        if not isinstance(self.scale_factor, (int, float)) or not 0 < self.scale_factor < 1:
            raise ValueError(f"scale_factor must lie in (0, 1), e.g. 0.5; got {self.scale_factor!r}")
        if self.crop_size is not None and (not isinstance(self.crop_size, int) or self.crop_size < 1):
            raise ValueError(
                f"crop_size must be a positive integer or None (the network's input size); got {self.crop_size!r}"
            )


PROTOCOLS: dict[str, ScoreProtocol] = {
    "official": ScoreProtocol(),
    "single-scale": ScoreProtocol(crops_per_scale=(20,)),
}


def get_protocol(protocol: str | ScoreProtocol) -> ScoreProtocol:
    """A preset name ("official", "single-scale") or a :class:`ScoreProtocol` as it is."""
    if isinstance(protocol, ScoreProtocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)} or pass a ScoreProtocol")
    return PROTOCOLS[protocol]


def scale_sizes(height: int, width: int, crop_size: int, protocol: ScoreProtocol) -> list[tuple[int, int]]:
    """(H, W) of every scale used for an image of (height, width): the full size first."""
    sizes = [(height, width)]
    while len(sizes) < len(protocol.crops_per_scale):
        h, w = sizes[-1]
        next_size = (math.floor(h * protocol.scale_factor), math.floor(w * protocol.scale_factor))
        if min(next_size) < crop_size:
            break
        sizes.append(next_size)
    return sizes


def downscale(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, *size), bilinear without antialiasing (as the authors' protocol)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
