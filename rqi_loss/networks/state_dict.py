"""Strict, explained loading of a state dict into an RQI network (no ``strict=False`` anywhere)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import CheckpointError
from .base import RQINetwork


def _preview(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > limit else shown


def _mismatches(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> list[str]:
    """Missing and unexpected keys and shape mismatches of ``given`` against ``expected``, as sentences."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    shapes = sorted(
        f"{k}: checkpoint {tuple(given[k].shape)} vs network {tuple(expected[k].shape)}"
        for k in set(given) & set(expected)
        if tuple(given[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    if missing:
        problems.append(f"missing keys: {_preview(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_preview(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches: {_preview(shapes, 4)}")
    return problems


def load_network_state(network: RQINetwork, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load ``state_dict`` into ``network``; keys the network declares unused are dropped, anything else must
    match exactly (names and shapes). Raises :class:`rqi_loss.CheckpointError` (a WeightsError and a ValueError)
    naming the mismatched keys and ``source``."""
    given = {k: v for k, v in state_dict.items() if not network.is_unused_checkpoint_key(k)}
    problems = _mismatches(network.state_dict(), given)
    if problems:
        raise CheckpointError(
            f"checkpoint {source} does not fit the {network.architecture!r} network with config "
            f"{network.config}: " + "; ".join(problems) + ". Check that the checkpoint and the model name match."
        )
    network.load_state_dict(given, strict=True)


def load_backbone_state(
    network: RQINetwork, state_dict: Mapping[str, torch.Tensor], *, source: str, part: str | None = None
) -> None:
    """Load pretrained backbone weights in timm's key names (e.g. an ImageNet ViT) into the backbone ``part`` of
    ``network`` (one of ``network.backbone_parts``; None: its only one), the keys under that part's prefix.
    Keys the network declares unused (later blocks, the final norm, the classifier) are dropped; every other
    key must be one of the backbone's, and every backbone key must be given, with its shape. The rest of the
    network keeps its initialisation. Raises CheckpointError otherwise."""
    parts = network.backbone_parts
    if not parts:
        raise CheckpointError(
            f"the {network.architecture!r} architecture has no pretrained backbone to load from {source}; "
            "remove backbone_weights from the config"
        )
    if part is None and len(parts) > 1:
        raise CheckpointError(
            f"the {network.architecture!r} architecture has backbones {sorted(parts)}: give backbone_weights as a "
            f"mapping, e.g. {{{', '.join(f'{name}: FILE_OR_HUB_NAME' for name in sorted(parts))}}}"
        )
    if part is not None and part not in parts:
        raise CheckpointError(
            f"the {network.architecture!r} architecture has no backbone {part!r}; its backbones: {sorted(parts)}"
        )
    prefix = parts[part] if part is not None else next(iter(parts.values()))
    expected = {k: v for k, v in network.state_dict().items() if k.startswith(prefix)}
    given = {prefix + k: v for k, v in state_dict.items() if not network.is_unused_checkpoint_key(prefix + k)}
    problems = _mismatches(expected, given)
    if problems:
        raise CheckpointError(
            f"backbone weights {source} do not fit the backbone ({prefix}*) of the {network.architecture!r} network "
            f"with config {network.config}: " + "; ".join(problems) + ". Check the backbone's size and patch size."
        )
    with torch.no_grad():
        for key, value in given.items():
            expected[key].copy_(value)
