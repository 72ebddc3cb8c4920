"""``backbone_weights``: a pretrained backbone (ImageNet weights in timm's layout) to start a training run from.

The value is a Hub name, ``hf-hub:org/repo[@revision]`` (its ``model.safetensors``, downloaded through
huggingface_hub and verified like every weight file here), e.g.
``hf-hub:timm/vit_base_patch8_224.augreg2_in21k_ft_in1k`` (what the authors' MANIQA starts from), or a local
file (.safetensors, .pth/.pt/.bin state dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from ..networks import RQINetwork, load_backbone_state
from ..weights._checkpoints import read_state_file
from ..weights._hub import hub_file, parse_hub_name

HUB_PREFIX = "hf-hub:"
HUB_WEIGHTS_FILE = "model.safetensors"  # timm's file name on the Hub


def read_backbone_weights(spec: str) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict in timm's key names, a description of where it came from) for a ``backbone_weights`` value."""
    if spec.startswith(HUB_PREFIX):
        repo_id, revision = parse_hub_name(spec)
        path = hub_file(spec, repo_id, HUB_WEIGHTS_FILE, revision)
        return read_state_file(path), f"{spec} ({HUB_WEIGHTS_FILE})"
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(
            f"backbone_weights {spec!r} is neither a local file nor an 'hf-hub:org/repo[@revision]' name"
        )
    return read_state_file(path), str(path)


def load_backbone(network: RQINetwork, spec: str | Mapping[str, str]) -> None:
    """Load ``backbone_weights`` into ``network``'s backbone(s), strictly (see ``load_backbone_state``): one
    file or Hub name for a network with one backbone, or a mapping backbone name -> file or Hub name (AHIQ:
    ``{vit: ..., resnet: ...}``)."""
    for part, one in spec.items() if isinstance(spec, Mapping) else [(None, spec)]:
        state, source = read_backbone_weights(one)
        load_backbone_state(network, state, source=source, part=part)
