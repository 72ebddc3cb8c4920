"""Warnings that point at the user's line: the first frame outside rqi_loss, torch (``nn.Module.__call__``,
autograd) and the import machinery, however deep in the package the warning was raised."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import torch

_INSIDE = (
    str(Path(__file__).resolve().parent),
    str(Path(torch.__file__).resolve().parent),
    str(Path(importlib.__file__).resolve().parent),  # an old module path imported through importlib
)
_IMPORT_MACHINERY = "<frozen importlib."  # the frames between an import statement and the module it runs


def _inside(filename: str) -> bool:
    return filename.startswith(_IMPORT_MACHINERY) or str(Path(filename).resolve()).startswith(_INSIDE)


def caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by this module's caller point at the first frame outside
    rqi_loss and torch (1 would point at the caller itself)."""
    frame, level = sys._getframe(1), 1  # the frame of the function that wants to warn
    while frame is not None and _inside(frame.f_code.co_filename):
        frame = frame.f_back
        if frame is not None and not frame.f_code.co_filename.startswith(_IMPORT_MACHINERY):
            level += 1  # warnings.warn itself skips the import machinery's frames when it counts
    return level


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the user's line (see the module docstring)."""
    warnings.warn(message, category, stacklevel=caller_stacklevel())  # counted from this frame: no +1
