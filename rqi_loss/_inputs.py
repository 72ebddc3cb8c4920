"""Validation of (sr, gt) image batches, with errors that say what was received and how to fix it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._warnings_at_caller import warn_at_caller


def _check_one(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, 3, H, W) with values in [0, 1]; got {type(x).__name__}. "
            "Convert images first, e.g. torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255"
        )
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have 4 dimensions (N, 3, H, W); got shape {tuple(x.shape)}. {_batch_hint(name, x)}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} has dtype {x.dtype}; the loss expects a float tensor in [0, 1]. Convert with {name}.float() / 255"
        )
    if x.shape[1] not in (1, 3):
        raise ValueError(
            f"{name} must have 3 (RGB) or 1 (grey, repeated to RGB) channels in dim 1; got shape {tuple(x.shape)}. "
            "Channels-last arrays need .permute(0, 3, 1, 2)"
        )
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def _batch_hint(name: str, x: torch.Tensor) -> str:
    """How to make a (N, C, H, W) batch of a tensor with another number of dimensions."""
    if x.ndim == 3 and x.shape[-1] in (1, 3) and x.shape[0] not in (1, 3):
        return f"It looks like one channels-last (H, W, C) image: use {name}.permute(2, 0, 1).unsqueeze(0)"
    if x.ndim == 3:
        return f"For a single (C, H, W) image use {name}.unsqueeze(0)"
    if x.ndim == 2:
        return f"For a single grey (H, W) image use {name}[None, None]"
    return "Pass a batch of images, (N, 3, H, W)"


def check_image_pair(sr: object, gt: object, *, check_values: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch pair and return it with grey images repeated to 3 channels.

    sr, gt: (N, C, H, W) float, C in {1, 3}. ``check_values`` adds one host-device sync to apply the value
    policy of :func:`check_pair_values`.
    """
    sr_t = _check_one("sr", sr)
    gt_t = _check_one("gt", gt)
    if sr_t.shape != gt_t.shape:
        raise ValueError(
            f"sr and gt must have the same shape; got sr {tuple(sr.shape)} and gt {tuple(gt.shape)}. "  # type: ignore[union-attr]
            "Resize or crop sr to the size of gt"
        )
    if sr_t.device != gt_t.device:
        raise ValueError(f"sr is on {sr_t.device} but gt is on {gt_t.device}; move both to one device")
    if check_values and check_pair_values(sr_t, gt_t).sr_outside:
        warn_sr_outside()
    return sr_t, gt_t


# The value policy. gt is data: it must be [0, 1] images. sr is a network output: any finite values are scored
# as they are, however far outside [0, 1], unless its scale is plainly that of [0, 255] data against a [0, 1] gt.
GT_TOP = 2.0  # a gt maximum above this is [0, 255] data
GT_BOTTOM = -0.5  # a gt minimum below this is [-1, 1] data
SR_WARN_MARGIN = 0.5  # sr beyond [-0.5, 1.5] is scored, with a warning
SR_SCALE_TOP = 10.0  # sr is refused as [0, 255] data when its largest magnitude is above this ...
SR_SCALE_RATIO = 50.0  # ... and this many times the gt's (255x in practice)


@dataclass(frozen=True)
class PairRange:
    """What the value check saw: the (min, max) of sr and gt, and whether sr lies beyond [-0.5, 1.5]."""

    sr: tuple[float, float]
    gt: tuple[float, float]

    @property
    def sr_outside(self) -> bool:
        return self.sr[0] < -SR_WARN_MARGIN or self.sr[1] > 1.0 + SR_WARN_MARGIN


def check_pair_values(sr: torch.Tensor, gt: torch.Tensor) -> PairRange:
    """Apply the value policy with one host-device sync for both tensors; ValueError naming the fix for NaN/Inf
    in either input, a gt that looks like [0, 255] or [-1, 1] data, or an sr plainly 255x the scale of gt."""
    with torch.no_grad():  # one pass per tensor: min and max propagate NaN, and Inf shows in one of them
        stats = torch.stack([v.float() for t in (sr, gt) for v in torch.aminmax(t.detach())]).tolist()
    # the .tolist() above is the one host-device sync of the input check
    seen = PairRange(sr=(stats[0], stats[1]), gt=(stats[2], stats[3]))
    for name, (low, top) in (("sr", seen.sr), ("gt", seen.gt)):
        if not (math.isfinite(low) and math.isfinite(top)):
            raise ValueError(f"{name} contains NaN or Inf values; check the model output or data pipeline")
    low, top = seen.gt
    if top > GT_TOP:
        raise ValueError(
            f"gt has values up to {top:.1f}: it looks like [0, 255] data, but the loss expects [0, 1]. "
            "Divide it by 255 (values are never rescaled silently)"
        )
    if low < GT_BOTTOM:
        raise ValueError(
            f"gt has values down to {low:.2f}: it looks like [-1, 1] data (as diffusion pipelines use), but the "
            "loss expects [0, 1]. Map both images with (x + 1) / 2"
        )
    sr_size = max(abs(v) for v in seen.sr)
    gt_size = max(abs(v) for v in seen.gt)
    if sr_size > SR_SCALE_TOP and sr_size > SR_SCALE_RATIO * max(gt_size, 1.0 / 255):
        raise ValueError(
            f"sr has values up to {sr_size:.1f} while gt stays within [{low:.2f}, {top:.2f}]: sr looks like "
            "[0, 255] data against a [0, 1] gt. Divide sr by 255 (values are never rescaled silently)"
        )
    return seen


def warn_sr_outside() -> None:
    """The warning for an sr beyond [-0.5, 1.5]: scored as it is (pointing at the caller's line)."""
    warn_at_caller(
        "sr has values far outside [0, 1] (beyond [-0.5, 1.5]); they are scored as they are, as an unclamped "
        "network output. If sr is not meant to be [0, 1] data, rescale it"
    )
