"""Validation of (sr, gt) image batches, with errors that say what was received and how to fix it."""

from __future__ import annotations

import math

import torch


def _check_one(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, 3, H, W) with values in [0, 1]; got {type(x).__name__}. "
            "Convert images first, e.g. torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255"
        )
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have 4 dimensions (N, 3, H, W); got shape {tuple(x.shape)}. "
            f"For a single image use {name}.unsqueeze(0)"
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


def check_image_pair(sr: object, gt: object, *, check_values: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch pair and return it with grey images repeated to 3 channels.

    sr, gt: (N, C, H, W) float, C in {1, 3}, values in [0, 1] (slightly outside is accepted as it is).
    ``check_values`` adds one host-device sync to reject NaN/Inf and [0, 255]-scaled inputs.
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
    if check_values:
        check_pair_values(sr_t, gt_t)
    return sr_t, gt_t


def check_pair_values(sr: torch.Tensor, gt: torch.Tensor) -> None:
    """Reject NaN/Inf and [0, 255]-looking values (max > 2), with one host-device sync for both tensors."""
    with torch.no_grad():  # one pass per tensor: min and max propagate NaN, and Inf shows in one of them
        stats = torch.stack([v.float() for t in (sr, gt) for v in torch.aminmax(t.detach())]).tolist()
    # the .tolist() above is the one host-device sync of the input check
    for name, low, top in (("sr", stats[0], stats[1]), ("gt", stats[2], stats[3])):
        if not (math.isfinite(low) and math.isfinite(top)):
            raise ValueError(f"{name} contains NaN or Inf values; check the model output or data pipeline")
        if top > 2.0:
            raise ValueError(
                f"{name} has values up to {top:.1f}: it looks like [0, 255] data, but the loss expects [0, 1]. "
                f"Divide by 255 (values are never rescaled silently)"
            )
