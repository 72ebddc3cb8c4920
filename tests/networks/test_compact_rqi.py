"""CompactRQI's optional statistics: exact antisymmetry in every configuration, finite gradients, and the
band statistics measuring what they claim (distribution shape, local peaks, structure correlation, spectrum shape)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rqi_loss.networks import CompactRQI
from rqi_loss.networks.cnn import (
    SPECTRUM_BINS,
    _band_shape,
    _log_mean_abs,
    _log_peak_cell,
    _structure_correlation,
    laplacian_pyramid,
    log_power_spectrum,
)

OPTIONS = [
    {},
    {"band_shape": True},
    {"pair_bands": True},
    {"diff_peak": True},
    {"spectrum_channels": 1},
    {"band_shape": True, "pair_bands": True, "diff_peak": True, "spectrum_channels": 3, "head_depth": 2},
    {"band_shape": True, "spectrum_channels": 1, "floor": 0.03},
    {"gain_residual": True, "band_shape": True},
    {"gain_residual": True, "own_bands": False, "floor": 0.03},
]
OPTION_IDS = [
    "plain", "band_shape", "pair_bands", "diff_peak", "spectrum", "all_deep_head", "floor", "gain_residual",
    "relations_only",
]  # fmt: skip


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_every_configuration_is_exactly_antisymmetric_with_finite_gradients(options):
    torch.manual_seed(0)
    network = CompactRQI(input_size=32, levels=2, width=4, hidden=8, dropout=0.0, **options).eval()
    a, b = torch.rand(2, 3, 3, 32, 32)
    a = a.requires_grad_(True)
    forward, backward = network(a, b), network(b, a)
    assert forward.shape == (3,)
    assert torch.equal(forward, -backward)
    assert torch.equal(network(b, b), torch.zeros(3))
    forward.sum().backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    flat = torch.full((1, 3, 32, 32), 0.5, requires_grad=True)  # zero bands: the statistics' worst case
    network(flat, flat.detach()).sum().backward()
    assert torch.isfinite(flat.grad).all()


def test_band_shape_tells_gaussian_from_sparse_bands():
    g = torch.Generator().manual_seed(0)
    gaussian = torch.randn(1, 1, 64, 64, generator=g)
    sparse = gaussian * (torch.rand(1, 1, 64, 64, generator=g) < 0.05)
    log_mean_abs = lambda t: torch.log(t.abs().mean())  # noqa: E731
    gap_gaussian = _band_shape(gaussian)[0] - log_mean_abs(gaussian)  # log(RMS / mean|x|) = log(sqrt(pi / 2))
    gap_sparse = _band_shape(sparse)[0] - log_mean_abs(sparse)
    assert abs(gap_gaussian.item() - 0.5 * math.log(math.pi / 2)) < 0.02
    assert gap_sparse.item() > gap_gaussian.item() + 1.0
    # mean log local energy sits below the log mean energy, far more so when the energy is patchy
    assert (log_mean_abs(sparse) - _band_shape(sparse)[1]).item() > (
        log_mean_abs(gaussian) - _band_shape(gaussian)[1]
    ).item() + 0.5


def test_peak_cell_sees_a_local_loss_that_the_mean_dilutes():
    """One 8x8 cell of a 64x64 map raised from 1 to 11 moves the log mean by log(1 + 10 / 64) = 0.15 but the
    log peak cell by log(11) = 2.4."""
    uniform = torch.ones(1, 2, 64, 64)
    local = uniform.clone()
    local[..., 16:24, 40:48] = 11.0
    mean_gap = (_log_mean_abs(local) - _log_mean_abs(uniform)).squeeze(0)
    peak_gap = (_log_peak_cell(local) - _log_peak_cell(uniform)).squeeze(0)
    torch.testing.assert_close(peak_gap, torch.full((2,), math.log(11.0)), atol=1e-3, rtol=0)
    assert (mean_gap < 0.2).all() and (peak_gap > 2.0).all()
    assert _log_peak_cell(torch.zeros(1, 1, 8, 8)).isfinite().all()


def _blur_noise(kernel: torch.Tensor) -> torch.Tensor:
    """White noise (1, 1, 64, 64) filtered with ``kernel`` (normalised here), circular padding."""
    noise = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    pad = kernel.shape[-1] // 2
    return F.conv2d(F.pad(noise, (pad,) * 4, mode="circular"), (kernel / kernel.sum()).view(1, 1, *kernel.shape))


def test_power_spectrum_tells_a_disk_blur_from_a_gaussian_blur_that_octave_bands_see_alike():
    """A binary disk of radius 2 and a gaussian of sigma 1 leave nearly the same octave band energies, but the
    disk's response is anisotropic at high frequencies (its aliased corners) and the gaussian's is not."""
    grid = torch.arange(-4, 5, dtype=torch.float32)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    gaussian = _blur_noise(torch.exp(-(xx.square() + yy.square()) / 2))
    disk = _blur_noise((xx.square() + yy.square() <= 4).float())
    bands = lambda x: torch.cat([_log_mean_abs(b) for b in laplacian_pyramid(x, 3)[:3]], 1)  # noqa: E731
    assert (bands(gaussian) - bands(disk)).abs().max() < 0.2
    assert log_power_spectrum(disk).shape == (1, SPECTRUM_BINS)
    # per ring: log power near the axes minus near the diagonals, rings 0.3125 to 0.5 cycles per pixel
    axis_minus_diagonal = lambda x: (x.view(-1, 2)[:, 0] - x.view(-1, 2)[:, 1])[5:8]  # noqa: E731
    assert axis_minus_diagonal(log_power_spectrum(gaussian)).abs().max() < 0.5
    assert axis_minus_diagonal(log_power_spectrum(disk)).max() < -1.5
    assert log_power_spectrum(torch.zeros(1, 1, 64, 64)).isfinite().all()


def test_spectrum_statistics_stay_float32_under_autocast():
    network = CompactRQI(input_size=32, levels=2, width=4, hidden=8, spectrum_channels=3)
    x = network.normalize(torch.rand(2, 3, 32, 32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = network._spectrum_statistics(x)
    assert under_autocast.dtype == torch.float32 and under_autocast.shape == (2, 3 * SPECTRUM_BINS)
    assert torch.equal(under_autocast, network._spectrum_statistics(x))


def test_structure_correlation_is_a_symmetric_correlation():
    g = torch.Generator().manual_seed(1)
    a, noise = torch.randn(2, 2, 3, 16, 16, generator=g)
    torch.testing.assert_close(_structure_correlation(a, a), torch.ones(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(_structure_correlation(a, -2 * a), -torch.ones(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(_structure_correlation(a, noise), _structure_correlation(noise, a))
    assert _structure_correlation(a, noise).abs().max() < 0.3


def test_head_depth_sets_the_hidden_layers_and_is_checked():
    linear = lambda net: [m for m in net.head if isinstance(m, torch.nn.Linear)]  # noqa: E731
    assert [m.out_features for m in linear(CompactRQI(input_size=32, levels=2, width=4, hidden=8))] == [8, 1]
    deep = CompactRQI(input_size=32, levels=2, width=4, hidden=8, head_depth=3)
    assert [(m.in_features, m.out_features) for m in linear(deep)][1:] == [(8, 8), (8, 8), (8, 1)]
    assert deep.config["head_depth"] == 3
    with pytest.raises(ValueError, match="head_depth must be at least 1 .*got 0"):
        CompactRQI(input_size=32, levels=2, width=4, hidden=8, head_depth=0)
    with pytest.raises(ValueError, match=r"spectrum_channels must be 0 \(off\), 1 \(luma\), 2 or 3 .*got 4"):
        CompactRQI(input_size=32, levels=2, width=4, hidden=8, spectrum_channels=4)


def test_both_feature_orders_agree_and_training_takes_the_folded_one():
    """features_colour_first() maps colours first, then builds the pyramid; features_of_pyramid() folds the
    colour map into the band convs. Both must give the same bands and responses, and features() must take the
    folded order only for a training step (weights need gradients, the images do not)."""
    torch.manual_seed(0)
    network = CompactRQI(input_size=32, levels=3, width=4, hidden=8).double()
    with torch.no_grad():
        network.colour.weight.add_(0.3 * torch.randn_like(network.colour.weight))  # away from plain YCbCr
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        direct = network.features_colour_first(x)
        folded = network.features_of_pyramid(laplacian_pyramid(x, 3))
    for (band, response), (expected_band, expected_response) in zip(folded, direct):
        torch.testing.assert_close(band, expected_band, rtol=0, atol=1e-12)
        if expected_response is None:
            assert response is None
        else:
            torch.testing.assert_close(response, expected_response, rtol=0, atol=1e-12)
    calls = []
    network.features_of_pyramid = lambda raw: calls.append("folded") or folded  # type: ignore[method-assign]
    network.features_colour_first = lambda x: calls.append("direct") or direct  # type: ignore[method-assign]
    network.features(x)  # weights need gradients, the images do not: the training order
    network.features(x.requires_grad_(True))  # a loss: colours first
    with torch.no_grad():
        network.features(x)  # inference
    assert calls == ["folded", "direct", "direct"]


def test_power_spectrum_of_an_image_does_not_depend_on_its_place_in_the_batch():
    """Exact antisymmetry needs each image's statistics bit for bit equal wherever it sits in the batch
    (network(a, b) extracts cat(a, b), network(b, a) extracts cat(b, a)); a matrix product did not give that on
    every CPU. The binning must also agree with the plain mean over each bin's coefficients."""
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 1, 64, 64)
    ab, ba = log_power_spectrum(torch.cat((a, b))), log_power_spectrum(torch.cat((b, a)))
    assert torch.equal(ab[:3], ba[3:]) and torch.equal(ab[3:], ba[:3])
    window = torch.hann_window(64, periodic=False)
    centred = (a[0] - a[0].mean()) * window.view(-1, 1) * window.view(1, -1)
    power = torch.fft.rfft2(centred, norm="ortho").abs().square().flatten()
    fy = torch.fft.fftfreq(64).abs().view(-1, 1).expand(64, 33).flatten()
    fx = torch.fft.rfftfreq(64).view(1, -1).expand(64, 33).flatten()
    radius = (fx.square() + fy.square()).sqrt()
    ring = (radius > 0.25) & (radius <= 0.3125) & (torch.minimum(fx, fy) <= 0.41421356 * torch.maximum(fx, fy))
    assert torch.isclose(ab[0, 8], power[ring].mean().log(), rtol=1e-4)  # ring 4 (0.25, 0.3125], near-axis half


def test_spectrum_bin_table_first_built_in_inference_mode_still_serves_a_backward():
    """The bin table is cached per (size, device); one first built under torch.inference_mode (a metric call)
    must not break a later loss backward, which saves it."""
    size = 40  # a size no other test uses, so the first build happens here
    with torch.inference_mode():
        scored = log_power_spectrum(torch.rand(1, 1, size, size))
    x = torch.rand(1, 1, size, size, requires_grad=True)
    log_power_spectrum(x).sum().backward()
    assert scored.shape == (1, SPECTRUM_BINS) and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_floor_keeps_a_faint_pattern_on_a_blurred_image_from_moving_the_statistics():
    """A 2/255 checkerboard added to a smooth image: with a visibility floor the per-image statistics move a
    fraction of what they move with the default floor, which only keeps the logs finite."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    smooth = (0.5 + 0.2 * torch.sin(6 * x) * torch.cos(4 * y)).expand(1, 3, 64, 64)
    checker = ((torch.arange(64).view(-1, 1) + torch.arange(64).view(1, -1)) % 2 * 2 - 1) * (2 / 255)
    patterned = (smooth + checker).clamp(0, 1)
    moves = {}
    for floor in (1e-3, 0.03):
        torch.manual_seed(0)
        network = CompactRQI(
            input_size=64, levels=3, width=4, hidden=8, band_shape=True, spectrum_channels=1, floor=floor
        )
        own = [network.extract(image)[1] for image in (smooth, patterned)]
        moves[floor] = (own[1] - own[0]).abs().max().item()
    assert moves[0.03] < 0.25 * moves[1e-3], moves
    with pytest.raises(ValueError, match="floor must be > 0"):
        CompactRQI(floor=0.0)


def test_a_flat_crop_gives_finite_gradients_of_first_and_second_order():
    """A flat image (a saturated crop) has a low-pass deviation of 0, where torch.std's backward is NaN in double
    backward: the network's own deviation keeps torch.std's values and gives finite gradients of both orders
    (optim.gradient_norm differentiates d f / d a once more)."""
    import torch

    from rqi_loss import create_network
    from rqi_loss.networks.cnn import _StdOverPixels
    from rqi_loss.training.gradient_norm import GradientNormConfig, gradient_norm_penalty

    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    assert torch.autograd.gradcheck(_StdOverPixels.apply, (x,))
    assert torch.autograd.gradgradcheck(_StdOverPixels.apply, (x,))
    flat = x.detach().clone()
    flat[0, 1] = 0.25  # one flat channel: the deviation is not differentiable there; its gradients are 0, finite
    flat.requires_grad_(True)
    deviation = _StdOverPixels.apply(flat)
    assert torch.equal(deviation, flat.std(dim=(2, 3)))
    (first,) = torch.autograd.grad(deviation.sum(), flat, create_graph=True)
    (second,) = torch.autograd.grad(first.square().sum(), flat)
    assert first[0, 1].abs().max() == 0 and torch.isfinite(first).all() and torch.isfinite(second).all()
    network = create_network("tiny-kadid-synth").train().requires_grad_(True)
    a = torch.rand(4, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    a[:2] = 0.5
    a.requires_grad_(True)
    gradient_norm_penalty(network(a, torch.rand(4, 3, 96, 96)), a, GradientNormConfig(weight=0.01)).backward()
    assert all(torch.isfinite(p.grad).all() for p in network.parameters() if p.grad is not None)
