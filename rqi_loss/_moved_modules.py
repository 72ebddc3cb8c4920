"""Modules that moved keep working from their old import path until rqi_loss 0.3.0, with a DeprecationWarning.

Each old path is a file that calls :func:`alias_moved_module`: importing it gives the new module itself (the
same object, so its functions, classes and any patch of them are shared) and warns the importer once per
process, naming where the public names live now.
"""

from __future__ import annotations

import importlib
import sys

from ._deprecation import REMOVED_IN
from ._warnings_at_caller import warn_at_caller

_WEIGHTS = "rqi_loss.weights"
_INTERNAL = "the public API (rqi_loss, rqi_loss.functional, rqi_loss.metric); the module is internal now"

MOVED_MODULES: dict[str, tuple[str, str]] = {  # old path -> (new module, where to import its names from)
    "rqi_loss.atomic": ("rqi_loss.weights._atomic", _WEIGHTS),
    "rqi_loss.cache_digests": ("rqi_loss.weights._cache_digests", _WEIGHTS),
    "rqi_loss.checkpoints": ("rqi_loss.weights._checkpoints", _WEIGHTS),
    "rqi_loss.convert": ("rqi_loss.weights._convert", _WEIGHTS),
    "rqi_loss.hub": ("rqi_loss.weights._hub", _WEIGHTS),
    "rqi_loss.model_card": ("rqi_loss.weights._model_card", _WEIGHTS),
    "rqi_loss.publish": ("rqi_loss.weights._publish", _WEIGHTS),
    "rqi_loss.pyiqa_checkpoints": ("rqi_loss.weights._pyiqa_checkpoints", _WEIGHTS),
    "rqi_loss.images": ("rqi_loss._images", "rqi_loss.metric"),
    "rqi_loss.amp": ("rqi_loss._amp", _INTERNAL),
    "rqi_loss.compiled": ("rqi_loss._compiled", _INTERNAL),
    "rqi_loss.console": ("rqi_loss._console", _INTERNAL),
    "rqi_loss.crops": ("rqi_loss._crops", _INTERNAL),
    "rqi_loss.deprecation": ("rqi_loss._deprecation", _INTERNAL),
    "rqi_loss.inputs": ("rqi_loss._inputs", _INTERNAL),
    "rqi_loss.judge": ("rqi_loss._judge", _INTERNAL),
    "rqi_loss.warnings_at_caller": ("rqi_loss._warnings_at_caller", _INTERNAL),
}


def alias_moved_module(old: str) -> None:
    """Replace the module being imported as ``old`` (a key of :data:`MOVED_MODULES`) by its new module."""
    new, use = MOVED_MODULES[old]
    warn_at_caller(
        f"{old} is deprecated and will be removed in rqi_loss {REMOVED_IN}; import its names from {use}",
        DeprecationWarning,
    )
    sys.modules[old] = importlib.import_module(new)
