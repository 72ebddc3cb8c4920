"""Classical full-reference metrics that ``rqi-score --also`` reports beside RQI (no downloaded weights).

PSNR and SSIM are computed as SR papers report them: on the luma (Y of ITU-R BT.601 YCbCr, the 16-235 range
scaled to [0, 1]) after cropping ``crop_border`` pixels from every side; SSIM with an 11x11 gaussian window
(sigma 1.5) and no downsampling. The others are piq's on RGB after the same crop. Each takes (3, H, W) float
tensors in [0, 1] and returns a float. piq is needed for all but PSNR (``pip install "rqi-loss[score]"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

_PSNR_CAP_DB = 100.0  # identical images: reported as 100 dB rather than infinity (JSON has no infinity)


@dataclass(frozen=True)
class ClassicalMetric:
    name: str
    higher_is_better: bool
    description: str
    compute: Callable[[torch.Tensor, torch.Tensor], float]  # (sr, gt), (3, H, W) in [0, 1], already cropped


def luma(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] -> (1, H, W) BT.601 Y in [16/255, 235/255], as MATLAB's rgb2ycbcr."""
    weights = torch.tensor([65.481, 128.553, 24.966], dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (16.0 + (x * weights).sum(dim=0, keepdim=True)) / 255.0


def crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels from every side of (C, H, W)."""
    if border == 0:
        return x
    if min(x.shape[-2:]) <= 2 * border:
        raise ValueError(f"crop_border {border} leaves nothing of an image of size {tuple(x.shape[-2:])}")
    return x[..., border:-border, border:-border]


def _psnr_y(sr: torch.Tensor, gt: torch.Tensor) -> float:
    mse = (luma(sr.double()) - luma(gt.double())).square().mean().item()
    return _PSNR_CAP_DB if mse == 0 else min(_PSNR_CAP_DB, 10 * math.log10(1.0 / mse))


def _piq(function: str, *, on_luma: bool = False, **options) -> Callable[[torch.Tensor, torch.Tensor], float]:
    def compute(sr: torch.Tensor, gt: torch.Tensor) -> float:
        import piq

        a, b = (luma(sr), luma(gt)) if on_luma else (sr, gt)
        return float(
            getattr(piq, function)(a.unsqueeze(0).double(), b.unsqueeze(0).double(), data_range=1.0, **options)
        )

    return compute


CLASSICAL_METRICS: dict[str, ClassicalMetric] = {
    m.name: m
    for m in (
        ClassicalMetric("psnr", True, "PSNR on Y, dB", _psnr_y),
        ClassicalMetric(
            "ssim", True, "SSIM on Y (11x11 gaussian, no downsampling)", _piq("ssim", on_luma=True, downsample=False)
        ),
        ClassicalMetric("ms_ssim", True, "piq MS-SSIM on RGB (7x7 window)", _piq("multi_scale_ssim", kernel_size=7)),
        ClassicalMetric("haarpsi", True, "piq HaarPSI on RGB", _piq("haarpsi")),
        ClassicalMetric("gmsd", False, "piq GMSD on RGB", _piq("gmsd")),
        ClassicalMetric("vsi", True, "piq VSI on RGB", _piq("vsi")),
        ClassicalMetric("fsim", True, "piq FSIMc on RGB", _piq("fsim")),
    )
}


def parse_metric_names(text: str) -> list[ClassicalMetric]:
    """ "psnr,ssim" -> the metrics, in the order given. Raises ValueError naming unknown names and the choices,
    or piq missing."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLASSICAL_METRICS]
    if not names or unknown:
        raise ValueError(f"--also: unknown metric(s) {unknown or [text]}; choose from {', '.join(CLASSICAL_METRICS)}")
    if any(n != "psnr" for n in names):
        try:
            import piq  # noqa: F401
        except ImportError as error:
            raise ValueError(f'--also {text}: needs piq; pip install "rqi-loss[score]" ({error})') from error
    return [CLASSICAL_METRICS[n] for n in dict.fromkeys(names)]
