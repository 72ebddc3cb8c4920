"""bench/colour_bias.py: chroma an arm adds to a grey photograph, and the judge's verdict on saturation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import colour_bias  # bench/ is on the tests' import path


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(array, 0, 255).round().astype(np.uint8)).save(path)


def _workdir(root: Path) -> Path:
    """A grey GT (texture in R = G = B) and a colour one, 128 px (the summary's MS-SSIM needs 97); per seed the
    control arm returns each GT and the RQI arm the same with a +-6 grey-level red/blue tint that leaves the luma
    almost unchanged on the grey one."""
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.uniform(40, 220, size=(128, 128, 1)), 3, axis=2)
    colour = rng.uniform(40, 220, size=(128, 128, 3))
    tint = np.zeros((128, 128, 3))
    tint[..., 0], tint[..., 2] = 6 * np.sign(rng.standard_normal((128, 128))), 0.0
    tint[..., 2] = -tint[..., 0] * 0.299 / 0.114  # luma-neutral: 0.299 dR + 0.114 dB = 0
    for name, gt in (("camera", grey), ("photo", colour)):
        _save(gt, root / "heldout_hr" / f"{name}.png")
        for seed in (0, 1):
            _save(gt, root / "results" / "sr" / f"seed{seed}_control" / f"{name}.png")
            _save(gt + tint, root / "results" / "sr" / f"seed{seed}_rqi" / f"{name}.png")
    return root


def test_chroma_helpers():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 16, 16, generator=g)
    assert torch.allclose(colour_bias.scaled_chroma(image, 1.0), image)
    assert colour_bias.chroma_rms(colour_bias.scaled_chroma(image, 0.0)) < 1e-4
    assert colour_bias.chroma_rms(colour_bias.luma_in_rgb(image)) < 1e-4 < colour_bias.chroma_rms(image)


def test_the_cost_of_added_chroma_is_what_projecting_to_grey_removes(tmp_path):
    """Only the grey GT is measured; the RQI arm's tint shows as chroma and lowers HaarPSI and VSI as saved, and
    projected to grey the two arms are (almost) the same image."""
    rows = colour_bias.grey_images(_workdir(tmp_path))
    assert list(rows) == ["camera"] and [row["seed"] for row in rows["camera"]] == [0, 1]
    for row in rows["camera"]:
        assert row["chroma_rms"]["control"] < 1e-4 and row["chroma_rms"]["rqi"] > 3
        assert row["as_saved"]["haarpsi"] < -0.01 and row["as_saved"]["vsi"] < 0
        assert abs(row["projected_to_grey"]["haarpsi"]) < abs(row["as_saved"]["haarpsi"]) / 10


def test_saturation_verdicts_cover_the_colour_gts(tmp_path, tiny_network):
    verdicts = colour_bias.saturation(_workdir(tmp_path), tiny_network)
    assert list(verdicts) == ["photo"] and list(verdicts["photo"]) == [f"{k:g}" for k in colour_bias.FACTORS]
    assert all(np.isfinite(v) for v in verdicts["photo"].values())
    assert len(set(verdicts["photo"].values())) == len(colour_bias.FACTORS)  # each factor a different image


@pytest.mark.parametrize("factor", [0.0, 2.0])
def test_scaled_chroma_stays_in_range(factor):
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    scaled = colour_bias.scaled_chroma(image, factor)
    assert scaled.min() >= 0 and scaled.max() <= 1
