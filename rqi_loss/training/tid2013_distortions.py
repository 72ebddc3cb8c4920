"""The 24 TID2013 distortion types at 5 levels each, re-implemented from the dataset's descriptions (Ponomarenko
et al., "Image database TID2013", Signal Processing: Image Communication 30, 2015).

Same contract as ``distortions.py``: an (H, W, 3) float64 RGB image in [0, 1], a level 1..5 (1 mildest, as
TID2013 numbers them) and a numpy Generator; the result has the same shape, in [0, 1]. Parameters follow the
paper's descriptions where it gives them and are otherwise chosen so each type's severity follows the order of
TID2013's mean MOS per level (``tid2013_mean_mos.csv``): rising for the local block distortions (fewer blocks
at higher levels), alternating for the contrast change (decrease, increase, ...). TID2013 adds noise-like
types that KADID-10k lacks: spatially correlated, masked and high-frequency noise, comfort noise (detail
replaced by noise), dithering, chromatic aberrations and sparse sampling.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import color

from .distortions import (
    Distortion,
    _clip,
    _from_pil,
    _per_level,
    _to_uint8_pil,
    multiplicative,
    salt_and_pepper,
    scaled_contrast,
    scaled_saturation,
    uniform_quantization,
)
from .distortions import denoise as _kadid_denoise
from .distortions import non_eccentricity_patch as _kadid_patches


def _noise(shape: tuple, std: float, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, std, shape)


def _normalised(noise: np.ndarray, std: float) -> np.ndarray:
    return noise * (std / max(noise.std(), 1e-12))


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    _to_uint8_pil(img).save(buffer, "JPEG", quality=quality)
    return _from_pil(Image.open(io.BytesIO(buffer.getvalue())))


def _jpeg2000(img: np.ndarray, rate: float) -> np.ndarray:
    buffer = io.BytesIO()
    _to_uint8_pil(img).save(buffer, "JPEG2000", quality_mode="rates", quality_layers=[rate])
    return _from_pil(Image.open(io.BytesIO(buffer.getvalue())))


def _local_std(img: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """(H, W) local standard deviation of the luma."""
    luma = img @ np.array([0.299, 0.587, 0.114])
    mean = ndimage.gaussian_filter(luma, sigma)
    return np.sqrt(np.maximum(ndimage.gaussian_filter(luma**2, sigma) - mean**2, 0.0))


def additive_noise(img, level, rng):
    return _clip(img + _noise(img.shape, _per_level((0.02, 0.03, 0.045, 0.065, 0.09), level), rng))


def color_noise(img, level, rng):
    std = _per_level((0.02, 0.035, 0.05, 0.07, 0.1), level)
    ycbcr = color.rgb2ycbcr(img) / 255
    ycbcr[..., 1:] += _noise(ycbcr[..., 1:].shape, std, rng)
    ycbcr[..., 0] += _noise(ycbcr[..., 0].shape, std / 4, rng)
    return _clip(color.ycbcr2rgb(ycbcr * 255))


def correlated_noise(img, level, rng):
    std = _per_level((0.025, 0.035, 0.05, 0.07, 0.09), level)
    noise = ndimage.gaussian_filter(_noise(img.shape, 1.0, rng), sigma=(1.5, 1.5, 0))
    return _clip(img + _normalised(noise, std))


def masked_noise(img, level, rng):
    """Noise where texture hides it: its amplitude follows the local contrast."""
    std = _per_level((0.03, 0.045, 0.06, 0.08, 0.11), level)
    mask = _local_std(img)
    mask = mask / max(mask.mean(), 1e-6)
    return _clip(img + _noise(img.shape, std, rng) * np.clip(mask, 0, 3)[..., None])


def high_frequency_noise(img, level, rng):
    std = _per_level((0.02, 0.035, 0.05, 0.08, 0.12), level)
    noise = _noise(img.shape, 1.0, rng)
    return _clip(img + _normalised(noise - ndimage.gaussian_filter(noise, sigma=(1.0, 1.0, 0)), std))


def impulse_noise(img, level, rng):
    return salt_and_pepper(img, _per_level((0.003, 0.006, 0.012, 0.025, 0.05), level), rng)


def quantization_noise(img, level, rng):
    return uniform_quantization(img, _per_level((28, 20, 14, 10, 7), level))


def gaussian_blur(img, level, rng):
    sigma = _per_level((0.5, 1.0, 1.5, 2.2, 3.2), level)
    return ndimage.gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect")


def denoising(img, level, rng):
    return _kadid_denoise(img, level, rng)


def jpeg(img, level, rng):
    return _jpeg(img, _per_level((60, 35, 20, 10, 5), level))


def jpeg2000(img, level, rng):
    return _jpeg2000(img, _per_level((10, 20, 45, 100, 250), level))


def _damaged_blocks(img: np.ndarray, count: int, size: int, rng, damage) -> np.ndarray:
    out, (h, w) = img.copy(), img.shape[:2]
    for _ in range(count):
        y, x = int(rng.integers(0, (h - size) // 8 + 1)) * 8, int(rng.integers(0, (w - size) // 8 + 1)) * 8
        out[y : y + size, x : x + size] = damage(out[y : y + size, x : x + size])
    return out


def jpeg_transmission_errors(img, level, rng):
    """JPEG (quality 75), then damaged 8x16 runs of blocks: a flat wrong colour, as a lost bit shifts the DC."""
    count = _per_level((2, 4, 8, 14, 24), level)
    damage = lambda block: _clip(block.mean(axis=(0, 1)) + rng.uniform(-0.25, 0.25, 3))  # noqa: E731
    return _damaged_blocks(_jpeg(img, 75), count, 16, rng, lambda block: np.broadcast_to(damage(block), block.shape))


def jpeg2000_transmission_errors(img, level, rng):
    """JPEG2000 (rate 12), then damaged regions decoded at a far lower rate (blur and ringing)."""
    count = _per_level((1, 2, 4, 6, 9), level)
    return _damaged_blocks(_jpeg2000(img, 12), count, 24, rng, lambda block: _jpeg2000(block, 300))


def non_eccentricity_pattern_noise(img, level, rng):
    return _kadid_patches(img, level, rng)


def local_block_distortions(img, level, rng):
    """Blocks of a constant random colour; TID2013's MOS rises with its level, so fewer blocks there."""
    count = _per_level((16, 12, 8, 5, 3), level)
    return _damaged_blocks(img, count, 8, rng, lambda block: np.broadcast_to(rng.random(3), block.shape))


def mean_shift(img, level, rng):
    shift = _per_level((0.02, -0.04, 0.07, -0.1, 0.14), level)
    return _clip(img + shift)


def contrast_change(img, level, rng):
    return scaled_contrast(img, _per_level((0.85, 1.15, 0.7, 1.3, 0.5), level))  # TID2013 alternates: -, +, ...


def saturation_change(img, level, rng):
    return scaled_saturation(img, _per_level((0.7, 0.5, 0.35, 0.2, 0.05), level))


def multiplicative_noise(img, level, rng):
    return multiplicative(img, _per_level((0.04, 0.07, 0.1, 0.14, 0.19), level), rng)


def comfort_noise(img, level, rng):
    """Detail replaced by noise of the same local energy (as codecs' noise substitution does)."""
    sigma = _per_level((0.7, 1.0, 1.4, 2.0, 2.8), level)
    smooth = ndimage.gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect")
    energy = np.sqrt(ndimage.gaussian_filter((img - smooth) ** 2, sigma=(2, 2, 0)))
    return _clip(smooth + energy * _noise(img.shape, 1.0, rng))


def noisy_image_compression(img, level, rng):
    noisy = _clip(img + _noise(img.shape, 0.03, rng))
    return _jpeg(noisy, _per_level((60, 35, 20, 10, 5), level))


def color_quantization_dither(img, level, rng):
    colours = _per_level((64, 32, 16, 8, 4), level)
    quantized = _to_uint8_pil(img).quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
    )
    return _from_pil(quantized)


def chromatic_aberrations(img, level, rng):
    """Red and blue moved apart horizontally (sub-pixel) and slightly blurred, as a lens's lateral aberration."""
    shift = _per_level((0.5, 1.0, 2.0, 3.0, 5.0), level)
    out = img.copy()
    for channel, direction in ((0, 1.0), (2, -1.0)):
        moved = ndimage.shift(img[..., channel], (0, direction * shift), order=1, mode="reflect")
        out[..., channel] = ndimage.gaussian_filter(moved, 0.3 * shift)
    return out


def sparse_sampling(img, level, rng):
    """A random fraction of the pixels kept, the rest reconstructed by normalised convolution."""
    kept = _per_level((0.5, 0.3, 0.15, 0.07, 0.03), level)
    mask = (rng.random(img.shape[:2]) < kept).astype(np.float64)
    sigma = 0.6 / np.sqrt(kept)
    weights = ndimage.gaussian_filter(mask, sigma)[..., None]
    filled = ndimage.gaussian_filter(img * mask[..., None], sigma=(sigma, sigma, 0)) / np.maximum(weights, 1e-6)
    return _clip(np.where(mask[..., None] > 0, img, filled))


# In TID2013 order: type id = index + 1.
TID2013_DISTORTIONS: dict[str, Distortion] = {
    f.__name__: f
    for f in (
        additive_noise, color_noise, correlated_noise, masked_noise, high_frequency_noise, impulse_noise,
        quantization_noise, gaussian_blur, denoising, jpeg, jpeg2000, jpeg_transmission_errors,
        jpeg2000_transmission_errors, non_eccentricity_pattern_noise, local_block_distortions, mean_shift,
        contrast_change, saturation_change, multiplicative_noise, comfort_noise, noisy_image_compression,
        color_quantization_dither, chromatic_aberrations, sparse_sampling,
    )
}  # fmt: skip
