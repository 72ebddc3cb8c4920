"""CompactRQI: a small CNN that compares multi-scale band statistics of two images.

Input (N, 3, S, S) in [0, 1] (S = ``input_size``, a multiple of 2**levels); output (N,) float32.
Each image is mapped to a luma/chroma space (a learned 1x1 conv starting at YCbCr) and split into a
Laplacian pyramid (fixed 5-tap binomial blur, ``levels`` band-pass levels plus the low-pass rest). On every
band a learned 3x3 conv gives ``width`` feature maps. Per band and image the head sees the log mean absolute
band energy, the log mean absolute conv response of each image (``own_bands``) and of their difference; with
``gain_residual`` also each image's band relative to the other's (a = g b + r: the gain and the residual's log
RMS in local windows, ``band_relations.py``), which tells shared detail from added energy; the low-pass level
adds per-channel means and log standard deviations. With ``spectrum_channels`` each image also gives its log
power spectrum in oriented frequency rings (blur kernels that octave bands see alike differ there). A LayerNorm
and an MLP g (``head_depth`` hidden layers) turn these into a score; with ``antisymmetric=True`` (default)
f(a, b) = g(a, b) - g(b, a), so f(a, b) = -f(b, a) and f(a, a) = 0 hold exactly, by construction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .band_relations import gain_and_residual
from .base import RQINetwork, at_least_float32, config_from_dict, config_to_dict
from .registry import register_architecture

_EPS = 1e-3  # the default floor: keeps log-statistics finite for flat regions and identical images
_YCBCR = ((0.299, 0.587, 0.114), (-0.169, -0.331, 0.5), (0.5, -0.419, -0.081))


@dataclass(frozen=True)
class CompactRQIConfig:
    input_size: int = 128
    levels: int = 5
    width: int = 16
    hidden: int = 128
    head_depth: int = 1  # hidden layers of the head's MLP
    dropout: float = 0.1
    antisymmetric: bool = True
    band_shape: bool = False  # per band also the log RMS and the mean log local (4x4) energy of each image
    pair_bands: bool = False  # per band also the log mean |a - b| and the structure correlation of a and b
    diff_peak: bool = False  # per band also the log of the largest 8x8-cell mean of |response a - response b|
    spectrum_channels: int = 0  # per image the binned log power spectrum of the first k YCbCr channels (0: off)
    own_bands: bool = True  # per band each image's own log band energy and conv response energy (band_shape: more)
    gain_residual: bool = False  # per band the gain and residual of each image relative to the other (see below)
    floor: float = _EPS  # amplitude (normalised units, 2/255 of the pixel range = 0.0157) added inside every log
    # statistic (powers: floor**2): energy well below it barely moves the statistics, so a faint pattern an
    # attack adds to a flat or blurred band cannot pass for detail; the default only keeps the logs finite
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CompactRQIConfig":
        return config_from_dict(cls, values, "CompactRQI")


def _binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """Separable [1, 4, 6, 4, 1] / 16 blur with reflect padding, as sums of shifted slices (much faster on
    the CPU than a grouped convolution, forward and backward)."""
    taps = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
    h, w = x.shape[-2:]
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = sum(t * x[..., :, i : i + w] for i, t in enumerate(taps))
    return sum(t * x[..., i : i + h, :] for i, t in enumerate(taps))


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``levels`` band-pass images (fine to coarse) followed by the low-pass rest."""
    bands = []
    for _ in range(levels):
        low = _binomial_blur(x)
        bands.append(x - low)
        x = F.avg_pool2d(low, 2)
    return bands + [x]


def _log_mean_abs(t: torch.Tensor, floor: float = _EPS) -> torch.Tensor:
    """(N, C, H, W) -> (N, C) log of the mean absolute value plus ``floor``."""
    return torch.log(t.abs().mean(dim=(2, 3)) + floor)


def _band_shape(band: torch.Tensor, floor: float = _EPS) -> list[torch.Tensor]:
    """[(N, C) log RMS, (N, C) mean over 4x4 cells of the log mean absolute value] of a band, floored."""
    local = F.avg_pool2d(band.abs(), 4, ceil_mode=True)
    return [0.5 * torch.log(band.square().mean(dim=(2, 3)) + floor**2), torch.log(local + floor).mean(dim=(2, 3))]


class _StdOverPixels(torch.autograd.Function):
    """(N, C, H, W) -> (N, C) standard deviation over H and W, exactly ``torch.std``'s values, with a gradient that
    is 0 (not NaN) where the deviation is 0 and a backward that is itself differentiable there: a flat low-pass
    image (a saturated crop) then trains, double backward (optim.gradient_norm) included."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.std(dim=(2, 3))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        variance = x.var(dim=(2, 3), keepdim=True)
        flat = variance == 0
        safe = torch.where(flat, torch.ones_like(variance), variance).sqrt()
        count = x.shape[2] * x.shape[3]
        scale = torch.where(flat, torch.zeros_like(safe), grad[..., None, None] / ((count - 1) * safe))
        return scale * (x - x.mean(dim=(2, 3), keepdim=True))


def _log_peak_cell(t: torch.Tensor, floor: float = _EPS) -> torch.Tensor:
    """(N, C, H, W) -> (N, C) log of the largest mean absolute value over 8x8 cells: a local loss (a colour
    block, a patch of artefacts) that a spatial mean dilutes."""
    return torch.log(F.avg_pool2d(t.abs(), 8, ceil_mode=True).amax(dim=(2, 3)) + floor)


_SPECTRUM_RADII = (0.03, 0.0625, 0.125, 0.1875, 0.25, 0.3125, 0.375, 0.4375, 0.5, 0.71)  # cycles per pixel
SPECTRUM_BINS = 2 * (len(_SPECTRUM_RADII) - 1)  # each radial ring split into near-axis and near-diagonal halves


@functools.lru_cache(maxsize=16)
def _spectrum_bin_columns(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Which rfft2 coefficients of a size x size image each frequency bin averages: rings between
    ``_SPECTRUM_RADII``, each split at 22.5 degrees from the axes. Returns (columns, counts): columns
    (SPECTRUM_BINS, L) long, the flat coefficient indices of each bin padded with ``size * (size // 2 + 1)`` (a
    zero column appended by the caller); counts (SPECTRUM_BINS,) float, clamped to 1 (empty bins average to 0).
    Built once per (size, device), on the CPU (no device syncs), outside inference mode so that a table first
    built under ``torch.inference_mode`` can still be saved for a later backward; callers must not modify it."""
    with torch.inference_mode(False), torch.no_grad():
        fy = torch.fft.fftfreq(size).abs().view(-1, 1).expand(size, size // 2 + 1)
        fx = torch.fft.rfftfreq(size).view(1, -1).expand(size, size // 2 + 1)
        radius = (fx.square() + fy.square()).sqrt().flatten()
        diagonal = (torch.minimum(fx, fy) > 0.41421356 * torch.maximum(fx, fy)).flatten()
        ring = torch.bucketize(radius, torch.tensor(_SPECTRUM_RADII)) - 1
        index = torch.where((ring >= 0) & (ring < len(_SPECTRUM_RADII) - 1), 2 * ring + diagonal, -1)
        members = [torch.nonzero(index == k).flatten() for k in range(SPECTRUM_BINS)]
        width = max(len(m) for m in members)
        columns = torch.full((SPECTRUM_BINS, width), radius.numel(), dtype=torch.long)
        for k, m in enumerate(members):
            columns[k, : len(m)] = m
        counts = torch.tensor([max(len(m), 1) for m in members], dtype=torch.float32)
        return columns.to(device), counts.to(device)


def log_power_spectrum(
    x: torch.Tensor, floor: float = _EPS, bins: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """(N, C, S, S) -> (N, C * SPECTRUM_BINS) log(mean power + floor**2) (Hann window, orthonormal FFT) per oriented
    frequency bin: the shape of a blur kernel's response (gaussian: smooth and isotropic; a disk: ripples and
    aliased corners) that octave bands pool together. Each image's numbers do not depend on its place in the
    batch (a gather and a sum, not a matrix product, whose CPU kernels can round rows differently), so
    networks using them stay exactly antisymmetric."""
    size = x.shape[-1]
    with torch.autocast(x.device.type, enabled=False):  # float32 throughout: logs of powers over decades
        x = x.float()
        window = torch.hann_window(size, periodic=False, device=x.device)
        x = (x - x.mean(dim=(2, 3), keepdim=True)) * (window.view(-1, 1) * window.view(1, -1))
        spectrum = torch.fft.rfft2(x, norm="ortho")
        power = (spectrum.real.square() + spectrum.imag.square()).flatten(2)  # finite gradient at 0, unlike abs
        columns, counts = bins if bins is not None else _spectrum_bin_columns(size, x.device)
        binned = F.pad(power, (0, 1))[..., columns].sum(dim=-1) / counts  # (N, C, SPECTRUM_BINS)
        return torch.log(binned + floor**2).flatten(1)


def _structure_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, C) mean(a b) / sqrt(mean(a^2) mean(b^2)) of two zero-mean bands, in [-1, 1]; symmetric."""
    energy = (a.square().mean(dim=(2, 3)) * b.square().mean(dim=(2, 3)) + _EPS**4).sqrt()
    return (a * b).mean(dim=(2, 3)) / energy


@register_architecture
class CompactRQI(RQINetwork):
    """See the module docstring. ``features`` returns the pyramid bands and their conv responses; ``extract``
    turns them into per-image statistics and the maps the pair statistics need."""

    architecture = "rqi_cnn"

    def __init__(self, **config: Any) -> None:
        cfg = CompactRQIConfig.from_dict(config)
        super().__init__(cfg.input_size, cfg.mean, cfg.std)
        if cfg.head_depth < 1:
            raise ValueError(f"head_depth must be at least 1 (hidden layers of the head); got {cfg.head_depth}")
        if not 0 <= cfg.spectrum_channels <= 3:
            raise ValueError(
                f"spectrum_channels must be 0 (off), 1 (luma), 2 or 3 (YCbCr); got {cfg.spectrum_channels}"
            )
        if not cfg.floor > 0:
            raise ValueError(f"floor must be > 0 (it keeps the log statistics finite); got {cfg.floor!r}")
        if cfg.input_size % (2**cfg.levels):
            raise ValueError(f"input_size {cfg.input_size} must be a multiple of 2**levels = {2**cfg.levels}")
        self.cfg = cfg
        self.colour = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.colour.weight.copy_(torch.tensor(_YCBCR).view(3, 3, 1, 1))
        self.band_convs = nn.ModuleList(nn.Conv2d(3, cfg.width, 3, padding=1) for _ in range(cfg.levels))
        if cfg.band_shape and not cfg.own_bands:
            raise ValueError("band_shape adds to each image's own band statistics: it needs own_bands=True")
        stats = cfg.levels * (cfg.width + 2 * (3 + cfg.width) * cfg.own_bands) + 4 * 3
        stats += cfg.levels * (2 * 6 * cfg.band_shape + 6 * cfg.pair_bands + cfg.width * cfg.diff_peak)
        stats += cfg.levels * 2 * 6 * cfg.gain_residual
        stats += 2 * SPECTRUM_BINS * cfg.spectrum_channels
        layers: list[nn.Module] = [nn.LayerNorm(stats)]
        for depth in range(cfg.head_depth):
            width_in = stats if depth == 0 else cfg.hidden
            layers += [nn.Linear(width_in, cfg.hidden), nn.LeakyReLU(0.2), nn.Dropout(cfg.dropout)]
        self.head = nn.Sequential(*layers, nn.Linear(cfg.hidden, 1))
        if cfg.spectrum_channels:  # the bin table as buffers: moved with the network, constants to torch.compile
            columns, counts = _spectrum_bin_columns(cfg.input_size, torch.device("cpu"))
            self.register_buffer("spectrum_columns", columns.clone(), persistent=False)
            self.register_buffer("spectrum_counts", counts.long(), persistent=False)  # integers: kept by .half()

    @property
    def config(self) -> dict[str, Any]:
        return config_to_dict(self.cfg)

    def features(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """[(band, conv response)] per level, then (low-pass rest, None).

        Two orders give the same features: training the weights (they need gradients, the images do not) takes
        the pyramid of the raw images with the colour map folded into the band convs (no backward pass through
        the pyramid: 1.27x faster training steps in ``bench/compact_rqi_step.py``); everything else (a loss,
        which needs gradients to the images, and inference) maps colours first and then builds the pyramid,
        which is the faster order there."""
        if torch.is_grad_enabled() and self.colour.weight.requires_grad and not x.requires_grad:
            return self.features_of_pyramid(laplacian_pyramid(x, self.cfg.levels))
        return self.features_colour_first(x)

    def features_colour_first(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Features in the direct order: the colour map, its pyramid, the band convs."""
        bands = laplacian_pyramid(self.colour(x), self.cfg.levels)
        responses = [F.leaky_relu(conv(band), 0.2) for conv, band in zip(self.band_convs, bands)]
        return list(zip(bands, responses + [None]))

    def features_of_pyramid(self, raw: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Features from the Laplacian pyramid of the normalised images (before the colour map)."""
        # The pyramid is linear and acts on each channel alike, so it commutes with the 1x1 colour map C, and
        # conv(C band) = conv'(band) with conv' = conv composed with C.
        colour = self.colour.weight.flatten(1)  # (3 out, 3 in)
        responses = [
            F.leaky_relu(F.conv2d(band, torch.einsum("oihw,ic->ochw", conv.weight, colour), conv.bias, padding=1), 0.2)
            for conv, band in zip(self.band_convs, raw)
        ]
        return list(zip([self.colour(band) for band in raw], responses + [None]))

    def extract(self, x: torch.Tensor) -> tuple[list[tuple[torch.Tensor | None, torch.Tensor]], torch.Tensor]:
        """(N, 3, S, S) in [0, 1] -> (per band-pass level (band or None, conv response), (N, F) per-image
        statistics). Each image's own statistics are computed here, once, so that scoring many pairs of the
        same images (dense validation) reuses them; the maps are kept only for the pair statistics (bands only
        with ``pair_bands``)."""
        x = self.normalize(x)
        features = self.features(x)
        own = self._own_statistics(features)
        if self.cfg.spectrum_channels:
            own = torch.cat((own, self._spectrum_statistics(x)), dim=1)
        return self._pair_maps(features), own

    def _spectrum_statistics(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) normalised images -> (N, spectrum_channels * SPECTRUM_BINS) log power spectra of the
        first ``spectrum_channels`` YCbCr channels, in float32 under autocast too."""
        with torch.autocast(x.device.type, enabled=False):
            ycbcr = torch.tensor(_YCBCR, device=x.device)[: self.cfg.spectrum_channels]
            luma_chroma = torch.einsum("ci,nihw->nchw", ycbcr, x.float())
            bins = (self.spectrum_columns, self.spectrum_counts) if x.shape[-1] == self.cfg.input_size else None
            return log_power_spectrum(luma_chroma, self.cfg.floor, bins)

    def _pair_maps(self, features) -> list[tuple[torch.Tensor | None, torch.Tensor]]:
        """Per band-pass level what the pair statistics read: (band with ``pair_bands``, else None; response)."""
        keep = self.cfg.pair_bands or self.cfg.gain_residual
        return [(band if keep else None, response) for band, response in features[:-1]]

    def _own_statistics(self, features) -> torch.Tensor:
        """(N, F) per-image statistics: per level the log mean absolute band energy and conv response (with
        ``band_shape`` also the band's log RMS and mean log local energy, whose gaps to the log mean tell noise
        from texture and uniform from patchy loss); the low-pass rest's channel means and log stds."""
        stats, floor = [], self.cfg.floor
        for band, response in features:
            if response is None:  # low-pass rest
                stats += [band.mean(dim=(2, 3)), torch.log(_StdOverPixels.apply(band) + floor)]
                continue
            if not self.cfg.own_bands:
                continue
            stats += [_log_mean_abs(band, floor), _log_mean_abs(response, floor)]
            if self.cfg.band_shape:
                stats += _band_shape(band, floor)
        return torch.cat(stats, dim=1)

    def _pair_statistics(self, maps_a, maps_b) -> torch.Tensor:
        """(N, F') statistics of the pair, symmetric in a and b: per level the log mean absolute response
        difference; with ``diff_peak`` its log largest 8x8-cell mean (a local loss that the spatial mean
        dilutes); with ``pair_bands`` the band's log mean absolute difference and structure correlation."""
        shared, floor = [], self.cfg.floor
        for (band_a, resp_a), (band_b, resp_b) in zip(maps_a, maps_b):
            difference = resp_a - resp_b
            shared.append(_log_mean_abs(difference, floor))
            if self.cfg.diff_peak:
                shared.append(_log_peak_cell(difference, floor))
            if self.cfg.pair_bands:
                shared += [_log_mean_abs(band_a - band_b, floor), _structure_correlation(band_a, band_b)]
        return torch.cat(shared, dim=1)

    def compare(self, features_a, features_b) -> torch.Tensor:
        (maps_a, own_a), (maps_b, own_b) = features_a, features_b
        shared = self._pair_statistics(maps_a, maps_b)
        if self.cfg.gain_residual:  # each image relative to the other: with its own statistics, swapped alike
            own_a = torch.cat(
                [own_a] + [gain_and_residual(a, b, self.cfg.floor) for (a, _), (b, _) in zip(maps_a, maps_b)], 1
            )
            own_b = torch.cat(
                [own_b] + [gain_and_residual(b, a, self.cfg.floor) for (a, _), (b, _) in zip(maps_a, maps_b)], 1
            )
        score = self.head(torch.cat((own_a, own_b, shared), dim=1)).squeeze(1)
        if self.cfg.antisymmetric:  # the shared statistics are symmetric: computed once, used both ways
            score = score - self.head(torch.cat((own_b, own_a, shared), dim=1)).squeeze(1)
        return at_least_float32(score)
