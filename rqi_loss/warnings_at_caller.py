"""Warnings that point at the user's line: the first frame outside rqi_loss and torch (``nn.Module.__call__``,
autograd), however deep in the package the warning was raised."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

_INSIDE = (str(Path(__file__).resolve().parent), str(Path(torch.__file__).resolve().parent))


def caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by this module's caller point at the first frame outside
    rqi_loss and torch (1 would point at the caller itself)."""
    frame, level = sys._getframe(1), 1  # the frame of the function that wants to warn
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_INSIDE):
        frame, level = frame.f_back, level + 1
    return level


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the user's line (see the module docstring)."""
    warnings.warn(message, category, stacklevel=caller_stacklevel() + 1)
