"""``calculate_rqi``: a BasicSR validation metric (``val: metrics: rqi: {type: calculate_rqi, ...}``)."""

from __future__ import annotations

import numpy as np
import torch

from ..factory import create_network
from ..functional import rqi_score

_NETWORKS: dict[tuple[str, str], torch.nn.Module] = {}


def _network(model: str, device: torch.device) -> torch.nn.Module:
    key = (model, str(device))
    if key not in _NETWORKS:  # built once per process, not once per validation image
        _NETWORKS[key] = create_network(model).to(device)
    return _NETWORKS[key]


def _to_tensor(img: np.ndarray, crop_border: int, input_order: str, name: str) -> torch.Tensor:
    if input_order not in ("HWC", "CHW"):
        raise ValueError(f"input_order must be 'HWC' or 'CHW'; got {input_order!r}")
    array = np.asarray(img, dtype=np.float64)
    if input_order == "CHW":
        array = array.transpose(1, 2, 0)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ValueError(f"{name} must be an HWC image with 1 or 3 channels; got shape {np.shape(img)}")
    if crop_border:
        array = array[crop_border:-crop_border, crop_border:-crop_border]
    array = array[..., ::-1] if array.shape[2] == 3 else array  # BasicSR images are BGR
    return torch.from_numpy(np.ascontiguousarray(array / 255.0)).permute(2, 0, 1)[None].float()


# Keys BasicSR itself reads from a metric block and passes on to the metric function: ``better`` (which way
# is best, read by BasicSR's best-metric bookkeeping). Accepted and not used here.
BASICSR_KEYS = ("better",)
SCORE_OPTIONS = ("num_crops", "antisymmetric", "check_inputs")


def calculate_rqi(
    img: np.ndarray,
    img2: np.ndarray,
    crop_border: int,
    input_order: str = "HWC",
    model: str = "maniqa-pipal",
    crop: str = "grid",
    device: str | None = None,
    **options,
) -> float:
    """RQI f(img, img2) of the SR output ``img`` against the GT ``img2`` (BasicSR's numpy images: BGR,
    0-255). Higher is better. Deterministic (grid crops by default). ``options``: the YAML block's other
    keys: ``num_crops``, ``antisymmetric``, ``check_inputs``, and ``better`` (BasicSR's own; ignored here).
    Unknown keys raise a TypeError that lists the valid ones."""
    unknown = sorted(set(options) - set(SCORE_OPTIONS) - set(BASICSR_KEYS))
    if unknown:
        valid = ["crop_border", "input_order", "model", "crop", "device", *SCORE_OPTIONS, *BASICSR_KEYS]
        raise TypeError(f"calculate_rqi got unknown option(s) {unknown}; valid options: {', '.join(valid)}")
    score_options = {k: v for k, v in options.items() if k in SCORE_OPTIONS}
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    network = _network(model, target)
    sr = _to_tensor(img, crop_border, input_order, "img").to(target)
    gt = _to_tensor(img2, crop_border, input_order, "img2").to(target)
    with torch.no_grad():
        return float(rqi_score(sr, gt, network, crop=crop, **score_options).item())
