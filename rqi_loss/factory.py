"""``create_network``: a zoo name, an 'hf-hub:' name or a local checkpoint -> a frozen, eval-mode RQI network."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from .checkpoints import CONFIG_FILE, WEIGHTS_FILE, read_folder_config, read_state_file
from .errors import ChecksumError, WeightsError
from .hub import HubOptions, file_sha256, hub_file, hub_snapshot, parse_hub_name, rank_zero_first
from .networks import RQINetwork, build_network, load_network_state
from .zoo import PretrainedModel, get_model_record

__all__ = ["create_network", "load_network", "prefetch"]

logger = logging.getLogger(__name__)

HUB_PREFIX = "hf-hub:"


def _network_from_folder(folder: Path, *, source: str) -> RQINetwork:
    meta = read_folder_config(folder)
    network = build_network(meta["architecture"], meta["config"])
    load_network_state(network, read_state_file(folder / WEIGHTS_FILE), source=source)
    return network


def _check_folder_matches(folder: Path, record: PretrainedModel, expected: dict) -> None:
    """``expected``: the config of the network built for ``record``."""
    meta = read_folder_config(folder)
    if meta["architecture"] != record.architecture or meta["config"] != expected:
        differing = sorted(k for k in set(expected) | set(meta["config"]) if expected.get(k) != meta["config"].get(k))
        raise ValueError(
            f"checkpoint folder {str(folder)!r} holds a {meta['architecture']!r} network whose config differs from "
            f"model {record.name!r} in {differing or ['architecture']}; load it as it is with "
            "rqi_loss.load_network(folder)"
        )


def _record_weights(
    record: PretrainedModel, checkpoint_path: str | os.PathLike | None, config: dict, options: HubOptions
) -> tuple[dict, str]:
    """(state dict, description of its source) for a zoo record, from ``checkpoint_path`` or the record's source
    (a Hub record fetched with ``options``). ``config``: the config of the network built for ``record``."""
    if checkpoint_path is not None:
        path = Path(checkpoint_path)
        if path.is_dir():
            _check_folder_matches(path, record, config)
            return read_state_file(path / WEIGHTS_FILE), str(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint_path {str(path)!r} does not exist")
        return read_state_file(path), str(path)
    if record.source == "package":
        path = Path(__file__).parent / record.package_folder / WEIGHTS_FILE
        if not path.is_file():
            raise WeightsError(
                f"model {record.name!r}: package data {path} is missing; "
                "reinstall rqi_loss (the file ships in the wheel)"
            )
        if record.sha256 is not None and file_sha256(path) != record.sha256:
            raise ChecksumError(
                f"model {record.name!r}: package data {path} does not match its sha256; reinstall rqi_loss"
            )
        return read_state_file(path), f"package data {record.package_folder}"
    path = hub_file(record.name, record.repo_id, record.filename, record.revision, record.sha256, options)
    return read_state_file(path), f"{record.repo_id}@{record.revision}/{record.filename}"


def _hub_folder(name: str, options: HubOptions | None = None) -> Path:
    """The cached snapshot folder of an 'hf-hub:' name: config and weights of one commit (even when the
    revision is a branch), downloaded in one call and verified."""
    repo_id, revision = parse_hub_name(name)
    return hub_snapshot(name, repo_id, revision, (CONFIG_FILE, WEIGHTS_FILE), options)


def prefetch(name: str) -> None:
    """Download the weights of a zoo or 'hf-hub:' name into the Hub cache, once per node, before networks are
    built on any subset of ranks.

    Under ``torch.distributed`` this is a collective (every rank calls it): local rank 0 downloads while the
    others wait at a barrier, then they check the cache. Without a process group it just downloads. Building a
    network never needs it (builds run no collective and concurrent downloads of one file are serialised by
    huggingface_hub's file lock); it saves the other ranks' requests. Embedded models need nothing.
    """
    if name.startswith(HUB_PREFIX):
        rank_zero_first(lambda: _hub_folder(name))
        return
    record = get_model_record(name)
    if record.source == "hub":
        rank_zero_first(lambda: hub_file(record.name, record.repo_id, record.filename, record.revision, record.sha256))


def load_network(folder: str | os.PathLike) -> RQINetwork:
    """A network from a local folder in our Hub layout (config.json + model.safetensors), frozen, eval mode."""
    folder = Path(folder)
    return _network_from_folder(folder, source=str(folder)).requires_grad_(False).eval()


def create_network(
    name: str,
    *,
    pretrained: bool = True,
    checkpoint_path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> RQINetwork:
    """Build an RQI network, frozen (no parameter requires grad) and in eval mode.

    Args:
        name: a zoo name (:func:`rqi_loss.list_models`), ``"hf-hub:org/repo[@revision]"`` for a folder in our
            Hub layout (config.json + model.safetensors), loaded strictly, or a local folder in that layout.
        pretrained: ``False`` gives random weights (tests, training from scratch).
        checkpoint_path: a local ``.pt``/``.pth``/``.safetensors`` file or Hub-layout folder to load instead of
            downloading (for machines without internet).
        cache_dir: where Hub files are cached (default: HF_HUB_CACHE), for whatever comes from the Hub
            ('hf-hub:' names and zoo names whose weights are on the Hub).
        local_files_only: the Hub cache only, no request.
        token: for private repos (default: the logged-in one); see :class:`rqi_loss.hub.HubOptions`.

    Raises:
        KeyError: an unknown zoo name (the message lists the available ones).
        rqi_loss.WeightsError: weights that cannot be had (offline and not cached, a missing repo or file) or are
            corrupt (:class:`rqi_loss.ChecksumError`, :class:`rqi_loss.CheckpointError`).

    Example:
        >>> import rqi_loss
        >>> rqi_loss.list_models()
        ['maniqa-pipal', 'tiny-kadid-synth']
        >>> network = rqi_loss.create_network("tiny-kadid-synth")  # embedded: no download
        >>> network.input_size, network.training, any(p.requires_grad for p in network.parameters())
        (128, False, False)
        >>> random = rqi_loss.create_network("maniqa-pipal", pretrained=False)  # the architecture, random weights
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a model name string; got {type(name).__name__}")
    options = HubOptions(cache_dir=cache_dir, local_files_only=local_files_only, token=token)
    if name.startswith(HUB_PREFIX):
        if checkpoint_path is not None:
            raise ValueError(f"model {name!r}: pass either an 'hf-hub:' name or checkpoint_path, not both")
        network = _network_from_folder(_hub_folder(name, options), source=name)
    elif Path(name).is_dir() and (Path(name) / CONFIG_FILE).is_file():
        network = _network_from_folder(Path(name), source=name)
    else:
        record = get_model_record(name)
        network = build_network(record.architecture, dict(record.config))
        if pretrained or checkpoint_path is not None:
            state, source = _record_weights(record, checkpoint_path, network.config, options)
            load_network_state(network, state, source=source)
            logger.info("loaded %s weights from %s", name, source)
    return network.requires_grad_(False).eval()


def frozen_network(
    model: str | torch.nn.Module, *, pretrained: bool = True, checkpoint_path: str | os.PathLike | None = None
) -> torch.nn.Module:
    """A zoo name built by :func:`create_network`, or a given module, frozen (no parameter requires grad) and
    in eval mode."""
    if isinstance(model, str):
        return create_network(model, pretrained=pretrained, checkpoint_path=checkpoint_path)
    if isinstance(model, torch.nn.Module):
        return model.requires_grad_(False).eval()
    raise TypeError(f"model must be a zoo name or an nn.Module; got {type(model).__name__}")
