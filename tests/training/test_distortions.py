"""The KADID-10k and TID2013 distortion re-implementations: shapes, ranges, severity growing with the level."""

from __future__ import annotations

import numpy as np
import pytest

from rqi_loss.training.distortions import DISTORTIONS, distort
from rqi_loss.training.tid2013_distortions import TID2013_DISTORTIONS

# Types whose levels only strengthen one parameter: the change from the reference must grow with the level.
_MONOTONE = (
    "gaussian_blur", "lens_blur", "motion_blur", "jpeg2000", "jpeg", "white_noise", "white_noise_ycbcr",
    "impulse_noise", "multiplicative_noise", "denoise", "color_saturation_lab", "color_saturation_hsv",
    "quantization", "color_quantization", "pixelate", "high_sharpen", "darken", "brighten", "color_diffusion",
)  # fmt: skip


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """(160, 160, 3) float64 in [0, 1]: a KADID-synth-sized crop of a colour photograph (texture and edges)."""
    from skimage import data

    return data.astronaut()[100:260, 180:340].astype(np.float64) / 255


def _change(scene: np.ndarray, name: str, level: int) -> float:
    return float(np.abs(distort(scene, name, level, np.random.default_rng(0)) - scene).mean())


def test_every_type_keeps_shape_and_range(scene):
    assert len(DISTORTIONS) == 25
    for name in DISTORTIONS:
        for level in (1, 5):
            out = distort(scene, name, level, np.random.default_rng(0))
            assert out.shape == scene.shape and out.dtype == np.float64, name
            assert out.min() >= 0 and out.max() <= 1, name
    with pytest.raises(ValueError, match="level must be 1..5; got 6"):
        distort(scene, "jpeg", 6, np.random.default_rng(0))
    with pytest.raises(KeyError, match="unknown distortion 'blur'"):
        distort(scene, "blur", 1, np.random.default_rng(0))


@pytest.mark.parametrize("name", _MONOTONE)
def test_change_grows_with_the_level(scene, name):
    changes = [_change(scene, name, level) for level in range(1, 6)]
    assert all(a < b for a, b in zip(changes, changes[1:])), changes


# TID2013-synth ---------------------------------------------------------------------------------------------
_TID_MONOTONE = tuple(
    name for name in TID2013_DISTORTIONS if name not in ("local_block_distortions", "contrast_change", "mean_shift")
)


def test_tid2013_types_keep_shape_and_range(scene):
    assert len(TID2013_DISTORTIONS) == 24
    assert list(TID2013_DISTORTIONS)[2] == "correlated_noise" and list(TID2013_DISTORTIONS)[23] == "sparse_sampling"
    for name in TID2013_DISTORTIONS:
        for level in (1, 5):
            out = distort(scene, name, level, np.random.default_rng(0), TID2013_DISTORTIONS)
            assert out.shape == scene.shape and out.dtype == np.float64 and out.min() >= 0 and out.max() <= 1, name


@pytest.mark.parametrize("name", _TID_MONOTONE)
def test_tid2013_change_grows_with_the_level(scene, name):
    """Every TID2013 type but three grows more severe with its level, as its mean MOS falls: the local block
    distortions fall with it (TID2013's MOS rises with that type's level), the contrast change alternates
    between decrease and increase, and the mean shift alternates its sign."""
    rng = lambda: np.random.default_rng(0)  # noqa: E731
    changes = [np.abs(distort(scene, name, k, rng(), TID2013_DISTORTIONS) - scene).mean() for k in range(1, 6)]
    assert all(a < b for a, b in zip(changes, changes[1:])), changes


def test_tid2013_mean_mos_table_matches_its_types():
    from rqi_loss.training.kadid_table import tid2013_mean_mos

    labels = tid2013_mean_mos()
    assert set(labels) == {(name, level) for name in TID2013_DISTORTIONS for level in range(1, 6)}
    assert labels[("additive_noise", 1)] == pytest.approx(5.6742) and labels[("sparse_sampling", 5)] < 1.5
    blocks = [labels[("local_block_distortions", k)] for k in range(1, 6)]
    assert blocks == sorted(blocks)  # rises with the level in TID2013's own ratings
