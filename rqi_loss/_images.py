"""Reading image files as RGB float tensors: 8/16-bit PNG, JPEG, BMP, TIFF, WebP; grey and alpha handled.

Uses OpenCV (``pip install "rqi-loss[score]"``, or any ``cv2``), which returns BGR(A) channel order; this
module turns it into RGB. Pillow reads the header first, so an oversized image is refused before decoding.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(ValueError):
    """An image file that cannot be read or has an unsupported layout."""


def _cv2():
    try:
        import cv2
    except ImportError as error:
        raise ImportError(
            'reading image files needs OpenCV; install it with: pip install "rqi-loss[score]" '
            "(or opencv-python-headless)"
        ) from error
    return cv2


def _to_unit_range(array: np.ndarray, path: Path) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535
    if array.dtype in (np.float32, np.float64):
        return np.clip(array.astype(np.float32), 0, 1)
    raise ImageReadError(f"{path}: unsupported pixel type {array.dtype}; save it as 8- or 16-bit")


# Pillow's default decompression-bomb limit (about 89.5 megapixels, e.g. 9459 x 9459): larger images are
# refused from their header, before any decoding, unless the caller raises the limit.
DEFAULT_MAX_PIXELS = 89_478_485
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the file's header only (Pillow decodes nothing until asked)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the caller applies its own limit
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError as error:  # above twice Pillow's limit: its message has the count
        found = _BOMB_PIXELS.search(str(error))
        return (int(found.group(1)), 1) if found else (2**31, 1)
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's "cannot identify image file" and friends
        raise ImageReadError(
            f"{path}: not a readable image ({error}); supported: {', '.join(IMAGE_SUFFIXES)}"
        ) from error


def read_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """(3, H, W) float32 RGB in [0, 1]. Grey images are repeated to 3 channels, alpha is dropped, 16-bit
    values are divided by 65535. Images above ``max_pixels`` (None: no limit) are refused from their header,
    before decoding. Raises FileNotFoundError or :class:`ImageReadError` (empty, truncated, not an image, too
    large) with the path."""
    cv2 = _cv2()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: the file is empty")
    if max_pixels is not None:
        width, height = image_size(path)
        if width * height > max_pixels:
            raise ImageReadError(
                f"{path}: {width * height:,} pixels, above the limit of {max_pixels:,} (a decompression bomb "
                "guard); not decoded. Raise the limit (rqi-score --max-pixels N) if the image is genuine"
            )
    # imdecode on the bytes: also reads paths that cv2.imread cannot (non-ASCII names on some systems).
    try:
        array = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise ImageReadError(f"{path}: not a readable image ({str(error).strip().splitlines()[-1]})") from error
    if array is None:
        raise ImageReadError(f"{path}: not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})")
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels == 2:  # grey + alpha
        array = np.repeat(array[:, :, :1], 3, axis=2)
    elif channels in (3, 4):
        array = array[:, :, 2::-1]  # BGR(A) -> RGB, alpha dropped
    else:
        raise ImageReadError(f"{path}: {channels} channels; expected grey, grey+alpha, RGB or RGBA")
    unit = _to_unit_range(np.ascontiguousarray(array), path)
    return torch.from_numpy(unit).permute(2, 0, 1).contiguous()
