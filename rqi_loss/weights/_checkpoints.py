"""Checkpoint files and folders: reading (.pt/.pth/.bin/.safetensors, our Hub folder) and writing our Hub
folder (config.json + model.safetensors + README.md), atomically.

Pickles are only read with ``torch.load(weights_only=True)``: a pickle that carries code is refused.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..errors import CheckpointError
from ._model_card import CardMetadata, render_card

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".pt", ".pth", ".bin")
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def read_checkpoint_object(path: str | os.PathLike) -> Any:
    """The object a .safetensors file or a torch.save'd file holds (a state dict, or a nested dict of them as
    training scripts write), read with ``torch.load(weights_only=True)``.

    Raises :class:`rqi_loss.CheckpointError` for a file that is truncated, corrupt or a pickle that carries
    code; the message names the file and the fix.
    """
    path = Path(path)
    if path.suffix not in (".safetensors", *PICKLE_SUFFIXES):
        raise ValueError(
            f"checkpoint_path {str(path)!r}: unsupported file type {path.suffix!r}; "
            f"use .safetensors, {', '.join(PICKLE_SUFFIXES)} or a folder with {CONFIG_FILE} and {WEIGHTS_FILE}"
        )
    try:
        return _load_state(path)
    except CheckpointError:
        raise
    except Exception as exc:  # any reader failure on a damaged file: say so, keep the original chained
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}): "
            "it is truncated or corrupt. Download or copy it again (a Hub file: `hf download ... --force-download`)"
        ) from exc


def is_flat_state_dict(state: Any) -> bool:
    """True for a {str: tensor} mapping."""
    return isinstance(state, Mapping) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    )


def read_state_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} state dict from a .safetensors file or a plain torch.save'd dict.

    Raises :class:`rqi_loss.CheckpointError` for a file that is truncated, corrupt, a pickle that carries
    code, or not a flat state dict; the message names the file and the fix.
    """
    state = read_checkpoint_object(path)
    if not is_flat_state_dict(state):
        top = list(state)[:5] if isinstance(state, Mapping) else type(state).__name__
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a flat state dict of tensors (top level: {top}); if it is a training "
            "checkpoint, save its model state dict on its own"
        )
    return dict(state)


def _load_state(path: Path) -> Any:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "unsupported global" not in str(exc).lower():
            raise  # a damaged file (an unknown opcode, say), reported as such by read_state_file
        raise CheckpointError(
            f"checkpoint {str(path)!r} was refused: it is a pickle that needs more than tensors and plain "
            "containers to load (it could run code), and only torch.load(weights_only=True) is used. Re-save "
            f"a plain state dict with torch.save(model.state_dict(), ...). Details: {str(exc).splitlines()[0]}"
        ) from exc


def read_folder_config(folder: str | os.PathLike) -> dict[str, Any]:
    """The parsed config.json of one of our Hub folders (error if missing: no silent defaults)."""
    config_path = Path(folder) / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{str(folder)!r} is not an rqi_loss network folder: {CONFIG_FILE} is missing (folders written by "
            "save_pretrained or rqi-convert have one; it says which architecture the weights belong to)"
        )
    config = json.loads(config_path.read_text())
    for key in ("architecture", "config"):
        if key not in config:
            raise ValueError(f"{str(config_path)!r} lacks the {key!r} entry; re-export the folder with save_pretrained")
    return config


def _storage_state(state: Mapping[str, torch.Tensor], dtype: str) -> dict[str, torch.Tensor]:
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"unknown storage dtype {dtype!r}; choose one of {', '.join(STORAGE_DTYPES)}")
    target = STORAGE_DTYPES[dtype]
    return {
        k: (v.to(target) if v.is_floating_point() else v).detach().cpu().contiguous().clone() for k, v in state.items()
    }


def default_card(config: Mapping[str, Any]) -> str:
    """A minimal model card from config.json contents."""
    provenance = json.dumps(config.get("provenance", {}), indent=2)
    return (
        f"# {config.get('name') or 'RQI network'}\n\n{config.get('description', '')}\n\n"
        f"- architecture: `{config['architecture']}`\n- weights stored as: {config['storage_dtype']}\n"
        f"- load with: `rqi_loss.create_network('hf-hub:<org>/<repo>@<commit>')` or "
        f"`rqi_loss.RQILoss('hf-hub:<org>/<repo>@<commit>')`\n\n## Provenance\n\n```json\n{provenance}\n```\n"
    )


def write_folder(
    folder: str | os.PathLike,
    *,
    architecture: str,
    config: Mapping[str, Any],
    state: Mapping[str, torch.Tensor],
    name: str | None = None,
    description: str = "",
    provenance: Mapping[str, Any] | None = None,
    card: str | None = None,
    card_metadata: CardMetadata | None = None,
    dtype: str = "float32",
) -> Path:
    """Write config.json, model.safetensors and README.md into ``folder``. README.md is the model card: the YAML
    header from ``card_metadata`` (see :class:`rqi_loss.weights.CardMetadata`), then ``card`` (markdown; default:
    a summary of config.json).

    Everything is written to a temporary sibling first; files then replace their old versions one by one
    (``os.replace``), so an interrupted write never leaves a half-written file in ``folder``.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "rqi_loss_format": FORMAT_VERSION,
        "rqi_loss_version": __version__,
        "name": name,
        "description": description,
        "architecture": architecture,
        "config": dict(config),
        "storage_dtype": dtype,
        "provenance": dict(provenance or {}),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        save_file(_storage_state(state, dtype), str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        (staging / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        body = card if card is not None else default_card(meta)
        (staging / CARD_FILE).write_text(render_card(body, card_metadata, name=name, architecture=architecture))
        if not folder.exists():
            os.replace(staging, folder)
            return folder
        for item in (WEIGHTS_FILE, CARD_FILE, CONFIG_FILE):
            os.replace(staging / item, folder / item)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
