"""Gradient alignment: train the judge so that its steepest ascent from the worse image of a pair points at the
better one (perceptually aligned gradients, after Ganz, Kawar and Elad, ICML 2023, "Do Perceptually Aligned
Gradients Imply Robustness?"; one double backward per step).

Used as a loss, a judge moves the SR output along d f(sr, gt) / d sr. A judge trained on verdicts alone is free
in every direction its labels never probe, and the steepest one is typically fine-band energy that it reads as
detail (what an attack finds). For a pair (a, b) whose label says b is better by more than ``margin``, the
penalty is ``1 - cos(d f(a, b) / d a, b - a)``, averaged over those pairs: it is 0 when the verdict rises
fastest by moving a straight towards b, and it does not depend on the scale of f.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class GradientAlignmentConfig:
    """``optim.gradient_alignment`` of rqi-train: ``weight`` of the penalty and ``margin``: only pairs whose label
    (the MOS difference, in [-1, 1]) is below ``-margin`` are aligned (b clearly better than a)."""

    weight: float = 0.01
    margin: float = 0.05

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"optim.gradient_alignment.weight must be > 0; got {self.weight!r}")
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"optim.gradient_alignment.margin must lie in [0, 1) (e.g. 0.05); got {self.margin!r}")


def gradient_alignment_penalty(
    gradient: torch.Tensor, a: torch.Tensor, b: torch.Tensor, target: torch.Tensor, config: GradientAlignmentConfig
) -> torch.Tensor:
    """0-dim ``weight * mean(1 - cos(gradient_i, b_i - a_i))`` over the pairs with ``target_i < -margin`` (0 when
    there are none). ``gradient`` (N, 3, S, S) is d f(a, b) / d a, built with ``create_graph=True`` so that the
    penalty is differentiable with respect to the network's parameters; ``a``, ``b`` (N, 3, S, S); ``target``
    (N,)."""
    chosen = target < -config.margin
    if not bool(chosen.any()):
        return gradient.sum() * 0.0  # keeps the graph (and DDP's parameter bookkeeping) intact
    towards_better = (b - a).detach()[chosen].flatten(1).float()
    cosine = F.cosine_similarity(gradient[chosen].flatten(1).float(), towards_better, dim=1, eps=1e-12)
    return config.weight * (1.0 - cosine).mean()
