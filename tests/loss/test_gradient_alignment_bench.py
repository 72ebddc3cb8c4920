"""bench/gradient_alignment.py: the cosine between the judge's push and each referee's gradient is measured
against known answers (a judge that is a pixel loss agrees with PSNR exactly; its negation disagrees)."""

from __future__ import annotations

import pytest

pytest.importorskip("piq", reason="the referees come from piq (test extra)")
pytest.importorskip("skimage", reason="the photographs come from scikit-image")

import torch
from torch import nn

import gaming  # bench/ is on pytest's pythonpath (setup.cfg), as it is on a bench script's own sys.path
import gradient_alignment


class PixelJudge(nn.Module):
    """f(a, b) = sign * -mean((a - b)^2) per crop: a judge whose steepest ascent is a pixel loss's descent."""

    input_size = 128

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return -self.sign * (a - b).square().flatten(1).mean(dim=1)


@pytest.fixture(scope="module")
def photos():
    sr, gt = gaming.targets()["photos"]
    return sr[:2], gt[:2]  # hubble and ihc


def test_a_pixel_loss_judge_points_where_psnr_does_and_its_negation_away(photos):
    agreeing = gradient_alignment.alignment(PixelJudge(1.0), *photos)
    assert agreeing["psnr"]["cosine"] == pytest.approx(1.0, abs=1e-4)
    assert agreeing["psnr"]["cosine_pixel_loss"] == pytest.approx(1.0, abs=1e-4)
    for referee in gradient_alignment.REFEREES:  # grid crops tile the 256 px images: the judge is the pixel loss
        row = agreeing[referee]
        assert row["cosine"] == pytest.approx(row["cosine_pixel_loss"], abs=1e-4)
        assert row["cosine"] > 0.1 and row["per_0.1_f"] > 0, (referee, row)
    opposing = gradient_alignment.alignment(PixelJudge(-1.0), *photos)
    assert opposing["psnr"]["cosine"] == pytest.approx(-1.0, abs=1e-4)
    assert all(opposing[r]["per_0.1_f"] < 0 for r in gradient_alignment.REFEREES)


def test_vsi_is_measured_on_grey_photographs_too():
    """VSI's gradient is NaN where a pixel's chroma is 0 (camera is grey): those pixels count as 0."""
    sr, gt = gaming.targets()["photos"]
    cosines = gradient_alignment.alignment(PixelJudge(1.0), sr[[1, 2]], gt[[1, 2]])["vsi"]["cosines"]
    assert all(c is not None and c > 0.1 for c in cosines), cosines


class StatisticsJudge(nn.Module):
    """f(a, b) = mean(a^2) - mean(b^2) per crop: a judge that compares statistics only."""

    input_size = 128

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a.square().flatten(1).mean(dim=1) - b.square().flatten(1).mean(dim=1)


def test_reference_blindness_is_one_for_a_statistics_judge_and_the_pixel_losss_for_a_pixel_judge(photos):
    blind = gradient_alignment.reference_blindness(StatisticsJudge(), *photos)
    assert blind["cosine"] == pytest.approx(1.0, abs=1e-6)
    pixel = gradient_alignment.reference_blindness(PixelJudge(1.0), *photos)
    assert pixel["cosine"] == pytest.approx(pixel["pixel_loss"], abs=1e-4) and pixel["cosine"] < 0.5
