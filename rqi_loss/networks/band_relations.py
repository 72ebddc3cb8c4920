"""How one image's band relates to another's, in local windows: a = g b + r (gain g, residual r).

The distortion model of information-fidelity metrics, per band and channel: blur shows as g < 1 with a small
residual, added noise or a pattern as g near 1 with a large residual, sharpening as g > 1. Unlike an image's own
band energy, which grows alike for restored detail and for a faint added grid, the pair of numbers says
whether energy is shared with the other image or added on its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WINDOW = 4  # local windows of 4 x 4 band samples (ceil mode: the last window may be smaller)


def gain_and_residual(a: torch.Tensor, b: torch.Tensor, floor: float) -> torch.Tensor:
    """(N, C, H, W) zero-mean bands a and b -> (N, 2C): per channel the mean over windows of the gain
    g = E[ab] / (E[b^2] + floor^2) and the log RMS of the residual a - g b (plus ``floor``). Not symmetric:
    the numbers of a relative to b; swap the arguments for b relative to a."""
    cross = F.avg_pool2d(a * b, WINDOW, ceil_mode=True)
    energy_a = F.avg_pool2d(a.square(), WINDOW, ceil_mode=True)
    energy_b = F.avg_pool2d(b.square(), WINDOW, ceil_mode=True)
    gain = cross / (energy_b + floor**2)
    residual = (energy_a - 2 * gain * cross + gain.square() * energy_b).clamp_min(0)  # E[(a - g b)^2] per window
    log_rms = 0.5 * torch.log(residual.mean(dim=(2, 3)) + floor**2)
    return torch.cat((gain.mean(dim=(2, 3)), log_rms), dim=1)
