"""Weight I/O: everything that reads, writes, downloads or publishes RQI network weights.

Hub downloads with pinning and integrity checks, our folder layout (config.json + model.safetensors +
README.md model card) read and written atomically, publishing to the Hub, conversion of the authors' and
pyiqa's files. The networks never import this package; :func:`rqi_loss.create_network` and the network's
``save_pretrained``/``push_to_hub`` are the usual ways in.
"""

from __future__ import annotations

from ._atomic import atomic_write
from ._checkpoints import (
    CARD_FILE,
    CONFIG_FILE,
    WEIGHTS_FILE,
    read_checkpoint_object,
    read_folder_config,
    read_state_file,
    write_folder,
)
from ._convert import convert, convert_pyiqa
from ._hub import HubOptions, file_sha256, parse_hub_name
from ._model_card import CardMetadata, HeldOutResult, render_card
from ._publish import push_folder_to_hub
from ._pyiqa_checkpoints import load_pyiqa_weights

__all__ = [
    "CARD_FILE",
    "CONFIG_FILE",
    "CardMetadata",
    "HeldOutResult",
    "HubOptions",
    "WEIGHTS_FILE",
    "atomic_write",
    "convert",
    "convert_pyiqa",
    "file_sha256",
    "load_pyiqa_weights",
    "parse_hub_name",
    "push_folder_to_hub",
    "read_checkpoint_object",
    "read_folder_config",
    "read_state_file",
    "render_card",
    "write_folder",
]
