"""BasicSR loss classes: ``RQILoss`` for ``pixel_opt`` and ``RQIPerceptualLoss`` for ``perceptual_opt``.

Every YAML key is a constructor argument (``model``, ``loss_weight``, ``reduction``, ``crop``, ``num_crops``,
``crop_border``, ``max_score``, ``grey``, ``antisymmetric``, ``seed``, ``checkpoint_path``, ``check_inputs``,
``amp``, ``recompute``, ``transforms``, ``compile``; the deprecated ``checkpoint`` still works, with a
DeprecationWarning); an unknown key raises a TypeError that lists the valid ones.
"""

from __future__ import annotations

import inspect

import torch

from .. import loss as _loss

_VALID = sorted(p for p in inspect.signature(_loss.RQILoss.__init__).parameters if p != "self")


class _BasicSRLoss(_loss.RQILoss):
    """RQILoss built from YAML keys: unknown keys are a TypeError listing the valid ones, and the reduction
    must give a 0-dim loss."""

    def __init__(self, **kwargs) -> None:
        name = type(self).__name__
        unknown = sorted(set(kwargs) - set(_VALID))
        if unknown:
            raise TypeError(f"{name} got unknown option(s) {unknown}; valid options: {', '.join(_VALID)}")
        super().__init__(**kwargs)
        if self.reduction == "none":
            raise ValueError(f"{name} in BasicSR needs reduction 'mean' or 'sum' (BasicSR expects a 0-dim loss)")


class RQILoss(_BasicSRLoss):
    """``pixel_opt: {type: RQILoss, model: tiny-kadid-synth, loss_weight: 0.1}``: returns a 0-dim tensor."""


class RQIPerceptualLoss(_BasicSRLoss):
    """``perceptual_opt: {type: RQIPerceptualLoss, ...}``: returns ``(loss, None)`` like BasicSR's
    PerceptualLoss (no style term), so BasicSR's L1 ``pixel_opt`` can stay."""

    def forward(self, sr: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor | None = None):  # type: ignore[override]
        return super().forward(sr, gt, weight), None
