"""Reading image files as RGB float tensors: 8/16-bit PNG, JPEG, BMP, TIFF, WebP; grey and alpha handled.

Uses OpenCV (``pip install "rqi-loss[score]"``, or any ``cv2``), which returns BGR(A) channel order; this
module turns it into RGB.
"""

from __future__ import annotations

import os
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


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """(3, H, W) float32 RGB in [0, 1]. Grey images are repeated to 3 channels, alpha is dropped, 16-bit
    values are divided by 65535. Raises FileNotFoundError or :class:`ImageReadError` with the path."""
    cv2 = _cv2()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    # imdecode on the bytes: also reads paths that cv2.imread cannot (non-ASCII names on some systems).
    array = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
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
