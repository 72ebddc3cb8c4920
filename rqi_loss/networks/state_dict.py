"""Strict, explained loading of a state dict into an RQI network (no ``strict=False`` anywhere)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import CheckpointError
from .base import RQINetwork


def _preview(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > limit else shown


def load_network_state(network: RQINetwork, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load ``state_dict`` into ``network``; keys the network declares unused are dropped, anything else must
    match exactly (names and shapes). Raises :class:`rqi_loss.CheckpointError` (a WeightsError and a ValueError)
    naming the mismatched keys and ``source``."""
    expected = network.state_dict()
    given = {k: v for k, v in state_dict.items() if not network.is_unused_checkpoint_key(k)}
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
    if problems:
        raise CheckpointError(
            f"checkpoint {source} does not fit the {network.architecture!r} network with config "
            f"{network.config}: " + "; ".join(problems) + ". Check that the checkpoint and the model name match."
        )
    network.load_state_dict(given, strict=True)
