"""pyiqa's published TOPIQ-FR and AHIQ files as starting weights of our ``topiq_rqi`` and ``ahiq_rqi`` networks.

pyiqa 0.1.16 publishes its weights in two layouts, both read here with ``torch.load(weights_only=True)``:

- TOPIQ-FR (CFANet, e.g. ``cfanet_fr_kadid_res50-2c4cc61d.pth``): ``{"params": state_dict}``, the whole network
  with its ResNet-50 (keys may carry DataParallel's ``module.`` prefix);
- AHIQ (``AHIQ_vit_p8_epoch33-da3ea303.pth``): the trained heads only, ``{"regressor_model_state_dict": ...,
  "deform_net_model_state_dict": ...}``; its two backbones are timm's ImageNet ``vit_base_patch8_224`` and
  ``resnet50``, which pyiqa downloads separately, so they are given here as backbone files (timm key names).

A flat state dict (pyiqa's network saved with ``state_dict()``) is accepted as well. The keys inside are
pyiqa's own, which our networks load strictly (unused ones declared, see each network's module).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from ..errors import CheckpointError
from ..networks.base import RQINetwork
from ..networks.state_dict import load_backbone_state, load_network_state
from ._checkpoints import is_flat_state_dict, read_checkpoint_object, read_state_file

AHIQ_HEADS = {"regressor_model_state_dict": "regressor.", "deform_net_model_state_dict": "deform_net."}
PYIQA_ARCHITECTURES = ("topiq_rqi", "ahiq_rqi")


def _strip_data_parallel(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("module."): v for k, v in state.items()}


def unwrap_pyiqa_state(raw: object, *, source: str) -> dict[str, torch.Tensor]:
    """A flat state dict in pyiqa's key names from what a published pyiqa file holds (see the module docstring).
    ``source`` names the file in errors."""
    if isinstance(raw, Mapping) and "params" in raw and is_flat_state_dict(raw["params"]):
        return _strip_data_parallel(raw["params"])
    if isinstance(raw, Mapping) and set(AHIQ_HEADS) <= set(raw):
        state = {}
        for entry, prefix in AHIQ_HEADS.items():
            if not is_flat_state_dict(raw[entry]):
                raise CheckpointError(f"{source}: {entry!r} is not a state dict of tensors")
            state.update({prefix + k: v for k, v in _strip_data_parallel(raw[entry]).items()})
        return state
    if is_flat_state_dict(raw):
        return _strip_data_parallel(raw)
    top = sorted(raw)[:8] if isinstance(raw, Mapping) else type(raw).__name__
    raise CheckpointError(
        f"{source} is not in a pyiqa layout (top level: {top}); expected {{'params': state_dict}} (TOPIQ-FR), "
        f"{{{', '.join(repr(k) for k in AHIQ_HEADS)}}} (AHIQ) or a flat state dict"
    )


def _backbone_keys(network: RQINetwork, parts: list[str]) -> set[str]:
    prefixes = tuple(network.backbone_parts[part] for part in parts)
    return {k for k in network.state_dict() if k.startswith(prefixes)} if prefixes else set()


def load_pyiqa_weights(
    network: RQINetwork,
    path: str | os.PathLike,
    *,
    backbones: Mapping[str, str | os.PathLike] | None = None,
) -> None:
    """Load a published pyiqa file into ``network`` (a ``topiq_rqi`` or ``ahiq_rqi`` network), strictly.

    ``backbones``: {part: timm-layout file} for backbone parts the file does not hold (AHIQ's ``vit`` and
    ``resnet``), e.g. ``{"vit": "vit_base_patch8_224.safetensors", "resnet": "resnet50.safetensors"}``.
    Every parameter must come from exactly one of the files; a missing or doubly given part is an error that
    names it."""
    if network.architecture not in PYIQA_ARCHITECTURES:
        raise ValueError(
            f"network: pyiqa files fit the {' and '.join(PYIQA_ARCHITECTURES)} architectures; got "
            f"{network.architecture!r}"
        )
    backbones = dict(backbones or {})
    state = unwrap_pyiqa_state(read_checkpoint_object(path), source=f"pyiqa file {str(path)!r}")
    for part, prefix in network.backbone_parts.items():
        in_file = any(k.startswith(prefix) for k in state)
        if in_file and part in backbones:
            raise ValueError(
                f"backbones: {str(path)!r} already holds the {part!r} backbone ({prefix}*); drop {part}= or use a "
                "file without it"
            )
        if not in_file and part not in backbones:
            raise ValueError(
                f"backbones: {str(path)!r} holds no {part!r} backbone ({prefix}*), as pyiqa's AHIQ files do (pyiqa "
                f"takes it from timm's ImageNet weights); give it, e.g. --backbone {part}=FILE (timm key names)"
            )
    for part, file in backbones.items():
        load_backbone_state(network, read_state_file(file), source=str(file), part=part)
    given = _backbone_keys(network, list(backbones))
    current = network.state_dict()
    load_network_state(network, {**{k: current[k] for k in given}, **state}, source=f"pyiqa file {str(path)!r}")
