"""The architecture registry: ``architecture`` name (as stored in configs) -> network class.

A leaf module: the architectures import it and register themselves with ``@register_architecture``; nothing here
imports an architecture. ``rqi_loss.networks`` imports every architecture module, so the table is full once the
package is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .base import RQINetwork

ARCHITECTURES: dict[str, type[RQINetwork]] = {}

NetworkClass = TypeVar("NetworkClass", bound="type[RQINetwork]")


def register_architecture(cls: NetworkClass) -> NetworkClass:
    """Class decorator: file ``cls`` under its ``architecture`` name; a name can be registered once."""
    name = cls.architecture
    if not name:
        raise ValueError(f"{cls.__name__} has no architecture name; set the class attribute `architecture`")
    if ARCHITECTURES.get(name, cls) is not cls:
        raise ValueError(f"architecture {name!r} is already registered by {ARCHITECTURES[name].__name__}")
    ARCHITECTURES[name] = cls
    return cls


def build_network(architecture: str, config: dict) -> RQINetwork:
    """Instantiate a randomly initialised network of ``architecture`` with ``config`` (constructor kwargs)."""
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise KeyError(
            f"unknown architecture {architecture!r}; available: {', '.join(sorted(ARCHITECTURES))}"
        ) from None
    return cls(**config)
