"""Maintainer tool: how the embedded tiny-kadid-synth network scores mild to strong blur of whole photographs.

    python weights/tiny_kadid_synth_blur_check.py

For four scikit-image colour photographs (cut to multiples of 128), prints f(blurred, original) with grid
crops for gaussian blur sigma 1, 2 and 4 and for an x4 bicubic down/up copy. Needs scikit-image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data
from skimage.filters import gaussian

from rqi_loss import create_network
from rqi_loss.functional import rqi_score

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket")


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float()


def main() -> None:
    network = create_network("tiny-kadid-synth")
    for name in PHOTOGRAPHS:
        photo = getattr(data, name)().astype(np.float64) / 255
        h, w = (photo.shape[0] // 128) * 128, (photo.shape[1] // 128) * 128
        photo = photo[:h, :w]
        original = as_tensor(photo)
        scores = {}
        for sigma in (1, 2, 4):
            blurred = as_tensor(gaussian(photo, sigma=sigma, channel_axis=-1))
            scores[f"sigma {sigma}"] = rqi_score(blurred, original, network, crop="grid").item()
        low = F.interpolate(original, scale_factor=0.25, mode="bicubic", antialias=True)
        upscaled = F.interpolate(low, size=(h, w), mode="bicubic").clamp(0, 1)
        scores["x4 bicubic"] = rqi_score(upscaled, original, network, crop="grid").item()
        print(f"{name:10s} " + "  ".join(f"{k}: {v:+.3f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
