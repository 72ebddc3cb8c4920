"""The network contract every RQI network follows.

``net(sr, gt)`` takes float tensors (N, 3, S, S) in [0, 1], RGB, S = ``net.input_size``, and returns (N,)
float32 scores f(sr, gt) (float64 for a float64 network): the predicted quality of ``sr`` relative to ``gt``
(``higher_is_better``: positive means ``sr`` looks better). The work is split so each image's features can be
computed once: ``extract(x)`` -> features, ``compare(features_a, features_b)`` -> scores.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn


def config_from_dict(cls: type, values: dict[str, Any], label: str):
    """Build the frozen config dataclass ``cls`` from JSON-like ``values`` (lists become tuples); unknown keys
    raise a TypeError that lists the valid ones."""
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise TypeError(f"unknown {label} config keys {unknown}; valid keys: {sorted(known)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A frozen config dataclass as JSON-like values (tuples become lists): the inverse of config_from_dict."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors to float32; float32 and float64 unchanged (keeps float64 gradchecks exact)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def map_features(fn: Callable[..., torch.Tensor], *features: Any) -> Any:
    """Apply ``fn`` leaf by leaf to one or more feature structures of the same shape (a tensor, or nested
    lists/tuples of tensors and None, as CompactRQI returns); None stays None."""
    first = features[0]
    if isinstance(first, torch.Tensor):
        return fn(*features)
    if first is None:
        return None
    return type(first)(map_features(fn, *items) for items in zip(*features))


def split_features(features: Any, n: int) -> tuple[Any, Any]:
    """Split features of a concatenated (2N, ...) batch into the first N and the rest."""
    return map_features(lambda t: t[:n], features), map_features(lambda t: t[n:], features)


class RQINetwork(nn.Module):
    """Base class: input normalisation, the extract/compare split and the checkpoint key allow-list."""

    higher_is_better: ClassVar[bool] = True
    lower_better: ClassVar[bool] = False  # the same fact, in the name other toolboxes read
    # The range of the training labels, MOS differences scaled to [-1, 1]; with no final activation, scores
    # may stray a little outside it.
    score_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    architecture: ClassVar[str] = ""
    # Each pretrained backbone (timm's key names) by name -> where its keys go in this network's state dict.
    backbone_parts: ClassVar[dict[str, str]] = {}

    def __init__(self, input_size: int, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 values each, std > 0; got mean={list(mean)}, std={list(std)}")
        self.input_size = int(input_size)
        self.normalisation = (tuple(map(float, mean)), tuple(map(float, std)))  # as given: readable on any device
        # Not persistent: normalisation is configuration, not a weight, and keeps checkpoint keys unchanged.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        # The authors' habit, net.load_state_dict(torch.load(...)), works: declared-unused keys are dropped.
        self._register_load_state_dict_pre_hook(_drop_unused_checkpoint_keys, with_module=True)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable; ``type(self)(**config)`` rebuilds the architecture."""
        raise NotImplementedError

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) in [0, 1] -> the network's input space."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features of normalised images; subclasses implement this."""
        raise NotImplementedError

    def compare(self, features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
        """(N,) float32 relative quality of a against b from their features; subclasses implement this."""
        raise NotImplementedError

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) images in [0, 1] -> features for :meth:`compare`."""
        return self.features(self.normalize(x))

    def forward(self, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """(N,) float32 f(sr, gt); both (N, 3, S, S) in [0, 1]. Both images go through the backbone in one
        call (to keep the gt side free of an autograd graph in a loss, use :func:`rqi_loss.functional`)."""
        features_sr, features_gt = split_features(self.extract(torch.cat((sr, gt))), sr.shape[0])
        return self.compare(features_sr, features_gt)

    def save_pretrained(self, folder: str | os.PathLike, **metadata: Any) -> Path:
        """Write this network in our Hub layout (config.json + model.safetensors + README.md), atomically.

        ``metadata``: ``name``, ``description``, ``provenance`` (dict), ``card`` (model card markdown),
        ``card_metadata`` (:class:`rqi_loss.weights.CardMetadata`: licence, datasets, base model, held-out
        results for the card's YAML header), ``dtype`` ("float32" | "float16" | "bfloat16" storage). Load it
        back with ``rqi_loss.create_network(f"local-dir:{folder}")``, or publish it with :meth:`push_to_hub`.

        Example:
            >>> import tempfile
            >>> import torch
            >>> import rqi_loss
            >>> network = rqi_loss.create_network("tiny-kadid-synth")
            >>> folder = network.save_pretrained(tempfile.mkdtemp() + "/my-judge", name="my-judge")
            >>> sorted(path.name for path in folder.iterdir())
            ['README.md', 'config.json', 'model.safetensors']
            >>> x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
            >>> torch.equal(rqi_loss.create_network(f"local-dir:{folder}")(x, x.flip(-1)), network(x, x.flip(-1)))
            True
        """
        from ..weights._checkpoints import write_folder

        return write_folder(
            folder, architecture=self.architecture, config=self.config, state=self.state_dict(), **metadata
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        commit_message: str = "Upload RQI network",
        private: bool | None = None,
        token: str | bool | None = None,
        **metadata: Any,
    ) -> str:
        """Publish this network to the Hub repo ``repo_id`` (created if missing) as one commit of our layout;
        returns the commit id, to pin with ``create_network(f"hf-hub:{repo_id}@{commit}")``. ``revision``: the
        branch (created from main if missing; default main). ``metadata``: as for :meth:`save_pretrained`.

        Example (needs the Hub and a token with write access, so it is not run here; ``tests/hub/test_publish.py``
        runs the same calls against a local stand-in of the Hub):
            >>> commit = network.push_to_hub("my-lab/my-judge", private=True)  # doctest: +SKIP
            >>> rqi_loss.RQILoss(f"hf-hub:my-lab/my-judge@{commit}")  # doctest: +SKIP
        """
        from ..weights._publish import push_folder_to_hub

        return push_folder_to_hub(
            lambda folder: self.save_pretrained(folder, **metadata),
            repo_id,
            revision=revision,
            commit_message=commit_message,
            private=private,
            token=token,
        )

    def is_unused_checkpoint_key(self, key: str) -> bool:
        """True for keys that published checkpoints carry but this network never uses (accepted, dropped)."""
        return False


def _drop_unused_checkpoint_keys(network: RQINetwork, state_dict: dict, prefix: str, *_) -> None:
    """Load-time hook: remove the keys ``network`` declares unused (published checkpoints carry them); every
    other key is still checked by ``load_state_dict``'s strict mode."""
    for key in [k for k in state_dict if k.startswith(prefix) and network.is_unused_checkpoint_key(k[len(prefix) :])]:
        del state_dict[key]
