"""RQI network architectures, keyed by the ``architecture`` name stored in configs (see ``registry``)."""

from __future__ import annotations

from .ahiq import AHIQRQI, AHIQRQIConfig
from .base import RQINetwork
from .cnn import CompactRQI, CompactRQIConfig
from .ensemble import RQIEnsemble
from .maniqa import MANIQARQI, MANIQARQIConfig
from .registry import ARCHITECTURES, build_network, register_architecture
from .state_dict import load_backbone_state, load_network_state
from .topiq import TOPIQRQI, TOPIQRQIConfig

__all__ = [
    "AHIQRQI",
    "AHIQRQIConfig",
    "ARCHITECTURES",
    "CompactRQI",
    "CompactRQIConfig",
    "MANIQARQI",
    "MANIQARQIConfig",
    "RQIEnsemble",
    "RQINetwork",
    "TOPIQRQI",
    "TOPIQRQIConfig",
    "build_network",
    "load_backbone_state",
    "load_network_state",
    "register_architecture",
]
