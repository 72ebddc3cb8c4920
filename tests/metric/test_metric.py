"""RQIMetric / score: the multi-scale protocol, parity with the authors' RQI.forward, determinism, batching."""

from __future__ import annotations

import random
import warnings

import pytest
import torch

import rqi_loss
from rqi_loss import RQIMetric, ScoreProtocol
from rqi_loss.metric.protocol import scale_sizes

from reference import RecordingRandom, UnitRangeNetwork, reference_protocol


@pytest.fixture(scope="module")
def tiny_metric_network():
    return rqi_loss.create_network("tiny-kadid-synth")  # trained, input 128: fast and meaningful


def _photo_pair(height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, H, W) GT cut from a photograph and an SR of it: x4 bicubic down and up (with a little noise, varied
    by ``seed``)."""
    from skimage import data

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255
    gt = torch.nn.functional.interpolate(photo[None], size=(height, width), mode="bilinear", antialias=True)[0]
    noise = torch.randn(gt.shape, generator=torch.Generator().manual_seed(seed)) * 0.005
    low = torch.nn.functional.interpolate(gt[None], scale_factor=0.25, mode="bicubic", antialias=True)
    blurred = torch.nn.functional.interpolate(low, size=(height, width), mode="bicubic")[0]
    return (blurred + noise).clamp(0, 1), gt


def _save_pngs(folder, sr: torch.Tensor, gt: torch.Tensor) -> tuple:
    """Write (3, H, W) images in [0, 1] as 8-bit PNGs; returns (sr path, gt path)."""
    from PIL import Image

    paths = (folder / "sr.png", folder / "gt.png")
    for path, image in zip(paths, (sr, gt)):
        Image.fromarray((image * 255).round().byte().permute(1, 2, 0).numpy()).save(path)
    return paths


def test_scale_sizes_follow_the_official_protocol():
    official = ScoreProtocol()
    assert scale_sizes(1000, 800, 224, official) == [(1000, 800), (500, 400)]  # next (250, 200): below 224
    assert scale_sizes(1020, 2040, 224, official) == [(1020, 2040), (510, 1020), (255, 510)]
    assert scale_sizes(2040, 2040, 224, official) == [(2040, 2040), (1020, 1020), (510, 510)]  # at most 3
    assert scale_sizes(224, 300, 224, official) == [(224, 300)]


@pytest.mark.parametrize("size", [(560, 540), (300, 280), (200, 150)])  # 3, 2 and 1 scales
def test_parity_with_the_authors_protocol_given_the_same_crops(monkeypatch, tmp_path, tiny_metric_network, size):
    """The authors' RQI.forward (rqi-iqa 0.1.1) around the same network, on the same PNG files (its tensor input
    path raises a TypeError in 0.1.1, so files it is), its crop positions recorded and given to ours: the
    scores agree to float32 rounding (their mapping to [-1, 1] happens before the bilinear downscales, ours
    inside the network; both are affine, so only rounding differs)."""
    import rqi.rqi as reference_module

    from rqi_loss._images import read_image

    paths = _save_pngs(tmp_path, *_photo_pair(*size))
    sr, gt = (read_image(p) for p in paths)
    recorder = RecordingRandom(seed=7)
    monkeypatch.setattr(reference_module, "random", recorder)
    theirs = reference_protocol(UnitRangeNetwork(tiny_metric_network), crop_size=128)(*map(str, paths))
    positions = recorder.positions((20, 10, 5))
    expected_scales = len(scale_sizes(*size, 128, ScoreProtocol()))
    assert len(positions) == expected_scales
    ours = RQIMetric(tiny_metric_network)(sr, gt, crop_positions=positions)
    assert ours.shape == () and ours.dtype == torch.float32
    assert abs(ours.item() - theirs) < 1e-5, (ours.item(), theirs)


def test_same_seed_same_score_and_global_rng_untouched(tiny_metric_network):
    sr, gt = _photo_pair(300, 280)
    torch_state, python_state = torch.get_rng_state(), random.getstate()
    first = RQIMetric(tiny_metric_network, seed=3)(sr, gt)
    metric = RQIMetric(tiny_metric_network, seed=3)
    metric(gt, sr)  # another call in between does not shift the crops of the next one
    assert torch.equal(metric(sr, gt), first)
    assert not torch.equal(RQIMetric(tiny_metric_network, seed=4)(sr, gt), first)
    assert torch.equal(torch.get_rng_state(), torch_state) and random.getstate() == python_state


def test_batch_scores_equal_one_by_one(tiny_metric_network):
    pairs = [_photo_pair(260, 300, seed=s) for s in range(3)]
    sr = torch.stack([p[0] for p in pairs])
    gt = torch.stack([p[1] for p in pairs])
    metric = RQIMetric(tiny_metric_network, batch_size=7)  # chunks that cut across images
    batched = metric(sr, gt)
    single = torch.stack([metric(s, g) for s, g in zip(sr, gt)])
    assert batched.shape == (3,)
    # The same crops and scores; only float rounding of batched kernels differs (the README says so).
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-6)


def test_sign_matches_quality(tiny_metric_network):
    _, gt = _photo_pair(300, 280)
    low = torch.nn.functional.interpolate(gt[None], scale_factor=0.125, mode="bicubic", antialias=True)
    sr = torch.nn.functional.interpolate(low, size=gt.shape[-2:], mode="bicubic")[0].clamp(0, 1)  # x8 down/up
    metric = RQIMetric(tiny_metric_network)
    assert metric(sr, gt) < 0 < metric(gt, sr)
    assert metric(gt, gt) == 0


def test_small_images_are_upsampled_with_a_warning(tiny_metric_network):
    sr, gt = _photo_pair(90, 100)
    with pytest.warns(UserWarning, match="resized"):
        value = RQIMetric(tiny_metric_network)(sr, gt)
    assert torch.isfinite(value) and value < 0


def test_size_mismatch_is_an_error_unless_resize_sr(tiny_metric_network):
    sr, gt = _photo_pair(300, 280)
    small_sr = torch.nn.functional.interpolate(sr[None], scale_factor=0.5, mode="bilinear")[0]
    with pytest.raises(ValueError, match="same shape"):
        RQIMetric(tiny_metric_network)(small_sr, gt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = RQIMetric(tiny_metric_network, resize_sr=True)(small_sr, gt)
    assert torch.isfinite(value)


def test_score_function_reads_files_and_agrees_with_the_metric(tmp_path, tiny_metric_network):
    sr, gt = _photo_pair(256, 256)
    sr_path, gt_path = _save_pngs(tmp_path, sr, gt)
    from_files = rqi_loss.score(sr_path, gt_path, model="tiny-kadid-synth")
    to_8bit = lambda t: (t * 255).round() / 255  # noqa: E731
    from_tensors = RQIMetric(tiny_metric_network)(to_8bit(sr), to_8bit(gt))
    torch.testing.assert_close(from_files, from_tensors, rtol=0, atol=1e-6)


def test_official_preset_uses_the_network_input_size(tiny_network):
    assert RQIMetric(tiny_network).crop_size == tiny_network.input_size
    assert RQIMetric(tiny_network, protocol=ScoreProtocol(crop_size=64)).crop_size == 64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"protocol": "oficial"}, "unknown protocol 'oficial'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"amp": "fp8"}, "unknown amp 'fp8'"),
    ],
)
def test_bad_options_name_the_argument(tiny_network, kwargs, match):
    with pytest.raises(ValueError, match=match):
        RQIMetric(tiny_network, **kwargs)


@pytest.mark.parametrize("counts", [(), (20, 0), (2.5,)])
def test_bad_protocols_are_rejected(counts):
    with pytest.raises(ValueError, match="crops_per_scale"):
        ScoreProtocol(crops_per_scale=counts)


def test_bf16_autocast_scores_close_to_fp32(tiny_metric_network):
    sr, gt = _photo_pair(300, 280)
    fp32 = RQIMetric(tiny_metric_network)(sr, gt)
    bf16 = RQIMetric(tiny_metric_network, amp="bf16")(sr, gt)
    assert bf16.dtype == torch.float32 and abs(bf16 - fp32) < 0.02 * abs(fp32) + 1e-3
