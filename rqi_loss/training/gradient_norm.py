"""Input-gradient-norm regularisation: a penalty on how much an invisible change of the judged image can move
the verdict (after Liu et al., CVPR 2024, "Defense Against Adversarial Attacks on No-Reference Image Quality
Models with Gradient Norm Regularization"), one double backward per step instead of an attack's inner loop.

For a pair (a, b), ``eps * ||d f(a, b) / d a||_1`` is the first-order gain in f that an attack moving each pixel
of ``a`` (the image judged, the SR output in a loss) by at most ``eps`` can buy. Penalised as it is, it is met
most cheaply by shrinking every verdict (the scale of f is free under a Huber loss with a small delta), which is
not robustness; ``relative: true`` divides it by the batch's spread (standard deviation) of f, so the penalty
is the same at any scale of f and only a flatter judge lowers it. The network must support double backward
(``rqi_cnn`` does; torch's CPU flash attention in ViT judges does not).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GradientNormConfig:
    """``optim.gradient_norm`` of rqi-train: ``weight`` of the penalty, ``eps`` (the l-inf budget it measures the
    gain for, in [0, 1] units: 0.0078 is 2/255), ``relative`` (divide by the batch's spread of f)."""

    weight: float = 0.05
    eps: float = 2 / 255
    relative: bool = True

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f"optim.gradient_norm.weight must be > 0; got {self.weight!r}")
        if not 0.0 < self.eps <= 0.1:
            raise ValueError(f"optim.gradient_norm.eps must lie in (0, 0.1] (e.g. 0.0078 = 2/255); got {self.eps!r}")


def input_gradient(prediction: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) d prediction_i / d a_i, itself differentiable with respect to the network's parameters;
    ``prediction`` (N,) must have been computed from ``a`` with ``a.requires_grad``."""
    (gradient,) = torch.autograd.grad(prediction.sum(), a, create_graph=True)
    return gradient


def gradient_norm_penalty(
    prediction: torch.Tensor, a: torch.Tensor, config: GradientNormConfig, gradient: torch.Tensor | None = None
) -> torch.Tensor:
    """0-dim ``weight * mean_i(eps * ||d prediction_i / d a_i||_1)`` (divided by the batch's standard deviation of
    ``prediction`` with ``relative``), differentiable with respect to the network's parameters (double
    backward). ``prediction`` (N,) must have been computed from ``a`` (N, 3, S, S) with ``a.requires_grad``;
    ``gradient``: :func:`input_gradient` of them when already computed."""
    if gradient is None:
        gradient = input_gradient(prediction, a)
    gain = config.eps * gradient.abs().flatten(1).sum(dim=1)
    penalty = gain.mean()
    if config.relative:
        penalty = penalty / prediction.float().std(correction=0).clamp_min(1e-3)
    return config.weight * penalty
