"""The package's error classes for weights; every message names the model or file and the fix."""

from __future__ import annotations

__all__ = ["CheckpointError", "ChecksumError", "WeightsError"]


class WeightsError(RuntimeError):
    """Weights could not be fetched, read or verified, or do not fit the network."""


class ChecksumError(WeightsError):
    """A weights file's digest differs from the pinned sha256 or from the one the Hub gave at download."""


class CheckpointError(WeightsError, ValueError):
    """A checkpoint file that cannot be read (truncated, corrupt, a pickle that carries code) or whose keys
    and shapes do not fit the network. Also a ValueError: the file given is a bad value."""
