"""Label-free adversarial invariance training: a perturbation within eps of an image does not change its
perceived quality, so a pair whose images are moved by at most eps keeps the clean pair's label.

Each training step finds, by a few signed-gradient steps from a random start, the perturbations (one per
image of the pair, |delta| <= eps, images kept in [0, 1]) that most increase the network's loss on the
pair's own label, and trains on them beside the clean pair. No quality label is invented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AdversarialConfig:
    """``optim.adversarial`` of rqi-train: ``eps`` (the budget per pixel, in [0, 1] units: 0.0157 is 4/255),
    ``steps`` (signed-gradient steps of 2.5 eps / steps after a random start), ``weight`` (of the adversarial
    loss term; the clean term keeps weight 1), ``target``: what the perturbed pair is trained towards, "label"
    (the pair's own label) or "clean" (the network's prediction on the clean pair, detached: pure invariance)."""

    eps: float = 4 / 255
    steps: int = 2
    weight: float = 1.0
    target: str = "label"

    def __post_init__(self) -> None:
        if not 0.0 < self.eps <= 0.1:
            raise ValueError(f"optim.adversarial.eps must lie in (0, 0.1] (e.g. 0.0157 = 4/255); got {self.eps!r}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"optim.adversarial.steps must be an integer >= 1; got {self.steps!r}")
        if not self.weight > 0:
            raise ValueError(f"optim.adversarial.weight must be > 0; got {self.weight!r}")
        if self.target not in ("label", "clean"):
            raise ValueError(f"optim.adversarial.target must be 'label' or 'clean'; got {self.target!r}")


def perturb_pair(
    network: torch.nn.Module,
    a: torch.Tensor,
    b: torch.Tensor,
    target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    config: AdversarialConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(a + delta_a, b + delta_b), each delta within ``config.eps`` and each image in [0, 1], chosen to
    maximise ``loss_fn(network(a', b'), target)``. Draws its random start from the global RNG (rqi-train runs
    inside a forked, seeded RNG). Returns detached tensors; the network's parameters get no gradient."""
    eps, step = config.eps, 2.5 * config.eps / config.steps
    deltas = [(torch.rand_like(x) * 2 - 1) * eps for x in (a, b)]
    deltas = [(x + d).clamp(0, 1) - x for x, d in zip((a, b), deltas)]
    for _ in range(config.steps):
        moved = [(x + d).requires_grad_(True) for x, d in zip((a, b), deltas)]
        loss = loss_fn(network(*moved).float(), target)
        grads = torch.autograd.grad(loss, moved)
        deltas = [(d + step * g.sign()).clamp(-eps, eps) for d, g in zip(deltas, grads)]
        deltas = [(x + d).clamp(0, 1) - x for x, d in zip((a, b), deltas)]
    return (a + deltas[0]).detach(), (b + deltas[1]).detach()
