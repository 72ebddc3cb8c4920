"""Idempotent registration into BasicSR's registries (importing twice, or under ``python -m``, never raises)."""

from __future__ import annotations


def register(registry, obj) -> None:
    """Add ``obj`` under its ``__name__`` unless this very definition (same module and qualified name) is
    already there; a different object of that name is an error naming both."""
    name = obj.__name__
    existing = registry._obj_map.get(name)
    if existing is None:
        registry.register(obj)
        return
    if (existing.__module__, existing.__qualname__) == (obj.__module__, obj.__qualname__):
        return
    raise ValueError(
        f"BasicSR {registry._name} registry already has {name!r} from {existing.__module__}; "
        f"rqi_loss cannot register its own {name!r}"
    )
