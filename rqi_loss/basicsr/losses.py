"""BasicSR loss classes: ``RQILoss`` for ``pixel_opt`` and ``RQIPerceptualLoss`` for ``perceptual_opt``.

Every YAML key is a constructor argument (``model``, ``loss_weight``, ``reduction``, ``crop``, ``num_crops``,
``antisymmetric``, ``seed``, ``checkpoint_path``, ``check_inputs``); an unknown key raises a TypeError that
lists the valid ones.
"""

from __future__ import annotations

import inspect

import torch

from .. import loss as _loss

_VALID = sorted(p for p in inspect.signature(_loss.RQILoss.__init__).parameters if p != "self")


def _checked_kwargs(cls_name: str, kwargs: dict) -> dict:
    unknown = sorted(set(kwargs) - set(_VALID))
    if unknown:
        raise TypeError(f"{cls_name} got unknown option(s) {unknown}; valid options: {', '.join(_VALID)}")
    return kwargs


class RQILoss(_loss.RQILoss):
    """``pixel_opt: {type: RQILoss, model: tiny-kadid-synth, loss_weight: 0.1}``: returns a 0-dim tensor."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**_checked_kwargs("RQILoss", kwargs))
        if self.reduction == "none":
            raise ValueError("RQILoss in BasicSR needs reduction 'mean' or 'sum' (BasicSR expects a 0-dim loss)")


class RQIPerceptualLoss(_loss.RQILoss):
    """``perceptual_opt: {type: RQIPerceptualLoss, ...}``: returns ``(loss, None)`` like BasicSR's
    PerceptualLoss (no style term), so BasicSR's L1 ``pixel_opt`` can stay."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**_checked_kwargs("RQIPerceptualLoss", kwargs))
        if self.reduction == "none":
            raise ValueError("RQIPerceptualLoss needs reduction 'mean' or 'sum' (BasicSR expects a 0-dim loss)")

    def forward(self, sr: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor | None = None):  # type: ignore[override]
        return super().forward(sr, gt, weight), None
