"""RQI network architectures, keyed by the ``architecture`` name stored in configs."""

from __future__ import annotations

from .base import RQINetwork
from .cnn import CompactRQI, CompactRQIConfig
from .ensemble import RQIEnsemble
from .maniqa import MANIQARQI, MANIQARQIConfig
from .state_dict import load_network_state

ARCHITECTURES: dict[str, type[RQINetwork]] = {cls.architecture: cls for cls in (MANIQARQI, CompactRQI, RQIEnsemble)}


def build_network(architecture: str, config: dict) -> RQINetwork:
    """Instantiate a randomly initialised network of ``architecture`` with ``config`` (constructor kwargs)."""
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise KeyError(
            f"unknown architecture {architecture!r}; available: {', '.join(sorted(ARCHITECTURES))}"
        ) from None
    return cls(**config)


__all__ = ["ARCHITECTURES", "CompactRQI", "CompactRQIConfig", "MANIQARQI", "MANIQARQIConfig", "RQIEnsemble", "RQINetwork", "build_network", "load_network_state"]
