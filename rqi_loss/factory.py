"""``create_network``: a zoo name, an 'hf-hub:' name or a 'local-dir:' folder -> a frozen, eval-mode RQI network.

One spelling per kind of source, as timm's: ``"maniqa-pipal"`` (the zoo), ``"hf-hub:org/repo@revision"`` (a
folder in our layout on the Hub), ``"local-dir:path/to/folder"`` (the same layout on disk; a ``pathlib.Path``
means the same). A bare folder path as a string and :func:`load_network` still work until rqi_loss 0.3.0, with
a DeprecationWarning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from ._deprecation import REMOVED_IN
from ._warnings_at_caller import warn_at_caller
from .errors import ChecksumError, WeightsError
from .networks import RQINetwork, build_network, load_network_state
from .weights._checkpoints import CONFIG_FILE, WEIGHTS_FILE, read_folder_config, read_state_file
from .weights._hub import HubOptions, file_sha256, hub_file, hub_snapshot, parse_hub_name, rank_zero_first
from .zoo import PretrainedModel, get_model_record

__all__ = ["create_network", "load_network", "prefetch"]

logger = logging.getLogger(__name__)

HUB_PREFIX = "hf-hub:"
LOCAL_PREFIX = "local-dir:"


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
            f"rqi_loss.create_network('{LOCAL_PREFIX}{folder}')"
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
    """Deprecated (removed in 0.3.0): ``create_network(f"local-dir:{folder}")`` does the same."""
    warn_at_caller(
        f"load_network() is deprecated and will be removed in rqi_loss {REMOVED_IN}; use "
        f"create_network('{LOCAL_PREFIX}{folder}') (same network)",
        DeprecationWarning,
    )
    folder = Path(folder)
    return _network_from_folder(folder, source=str(folder)).requires_grad_(False).eval()


def _local_folder(name: str | os.PathLike) -> Path | None:
    """The folder a 'local-dir:' name or a Path means (FileNotFoundError when there is none); None for other
    names."""
    if isinstance(name, os.PathLike):
        folder = Path(name)
    elif name.startswith(LOCAL_PREFIX):
        folder = Path(name[len(LOCAL_PREFIX) :])
    elif Path(name).is_dir() and (Path(name) / CONFIG_FILE).is_file():
        warn_at_caller(
            f"a folder given as a bare path ({name!r}) is deprecated and will be removed in rqi_loss {REMOVED_IN}; "
            f"name it '{LOCAL_PREFIX}{name}' (a zoo name or a Hub repo could be spelt the same)",
            DeprecationWarning,
        )
        return Path(name)
    else:
        return None
    if not folder.is_dir():
        raise FileNotFoundError(f"{LOCAL_PREFIX}{folder}: no folder there (a folder with config.json and weights)")
    return folder  # reading it names what is missing


def create_network(
    name: str | os.PathLike,
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
            Hub layout (config.json + model.safetensors) on the Hub, or ``"local-dir:path"`` (or a
            ``pathlib.Path``) for one on disk; both loaded strictly.
        pretrained: ``False`` gives random weights (tests, training from scratch).
        checkpoint_path: a local ``.pt``/``.pth``/``.safetensors`` file or Hub-layout folder to load instead of
            downloading (for machines without internet).
        cache_dir: where Hub files are cached (default: HF_HUB_CACHE), for whatever comes from the Hub
            ('hf-hub:' names and zoo names whose weights are on the Hub).
        local_files_only: the Hub cache only, no request.
        token: for private repos (default: the logged-in one); see :class:`rqi_loss.weights.HubOptions`.

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
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(
            f"name must be a zoo name, 'hf-hub:org/repo' or 'local-dir:path' string; got {type(name).__name__}"
        )
    options = HubOptions(cache_dir=cache_dir, local_files_only=local_files_only, token=token)
    folder, name = _local_folder(name), str(name)
    if (folder is not None or name.startswith(HUB_PREFIX)) and checkpoint_path is not None:
        kind = "an 'hf-hub:'" if folder is None else f"a '{LOCAL_PREFIX}'"
        raise ValueError(f"model {name!r}: pass either {kind} name or checkpoint_path, not both")
    if folder is not None:
        network = _network_from_folder(folder, source=str(folder))
    elif name.startswith(HUB_PREFIX):
        network = _network_from_folder(_hub_folder(name, options), source=name)
    else:
        record = get_model_record(name)
        network = build_network(record.architecture, dict(record.config))
        if pretrained or checkpoint_path is not None:
            state, source = _record_weights(record, checkpoint_path, network.config, options)
            load_network_state(network, state, source=source)
            logger.info("loaded %s weights from %s", name, source)
    return network.requires_grad_(False).eval()


def frozen_network(
    model: str | os.PathLike | torch.nn.Module,
    *,
    pretrained: bool = True,
    checkpoint_path: str | os.PathLike | None = None,
) -> torch.nn.Module:
    """A name built by :func:`create_network`, or a given module, frozen (no parameter requires grad) and
    in eval mode."""
    if isinstance(model, (str, os.PathLike)):
        return create_network(model, pretrained=pretrained, checkpoint_path=checkpoint_path)
    if isinstance(model, torch.nn.Module):
        return model.requires_grad_(False).eval()
    raise TypeError(
        f"model must be a zoo name, an 'hf-hub:' or 'local-dir:' name, or an nn.Module; got {type(model).__name__}"
    )
