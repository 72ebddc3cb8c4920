"""RQIEnsemble: the mean score of independently trained members of one architecture.

f(a, b) = mean_k f_k(a, b) over ``members`` networks of one ``architecture`` (``rqi-train`` trains them on one
split, with different seeds or configs). Member k's config is ``config`` updated with ``member_configs[k]`` (none:
all share ``config``); all members take the same input size. Inputs and outputs follow the network contract of
the members: (N, 3, S, S) in [0, 1] -> (N,) float32. Antisymmetric members give an antisymmetric ensemble.
Weights are stored under ``members.<k>.``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .base import RQINetwork
from .registry import build_network, register_architecture


def member_config(
    config: dict[str, Any], member_configs: Sequence[dict[str, Any]] | None, index: int
) -> dict[str, Any]:
    """Config of member ``index``: ``config`` updated with ``member_configs[index]`` (``None``: ``config``)."""
    return {**config, **(member_configs[index] if member_configs else {})}


@register_architecture
class RQIEnsemble(RQINetwork):
    """See the module docstring."""

    architecture = "rqi_ensemble"

    def __init__(
        self,
        *,
        architecture: str,
        config: dict[str, Any],
        members: int,
        member_configs: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        if not isinstance(members, int) or members < 2:
            raise ValueError(f"members must be an integer of at least 2 (networks averaged); got {members!r}")
        if architecture == self.architecture:
            raise ValueError("an rqi_ensemble cannot have rqi_ensemble members; give the members' architecture")
        if member_configs is not None and len(member_configs) != members:
            raise ValueError(
                f"member_configs must give one dict of config changes per member ({members}); got "
                f"{len(member_configs)}: {list(member_configs)!r}"
            )
        changes = [dict(c) for c in member_configs] if member_configs is not None else None
        nets = [build_network(architecture, member_config(config, changes, k)) for k in range(members)]
        first = nets[0]
        sizes = [net.input_size for net in nets]
        if len(set(sizes)) > 1:
            raise ValueError(f"ensemble members must take one input size; their configs give {sizes}")
        super().__init__(first.input_size, *first.normalisation)
        self.higher_is_better = first.higher_is_better
        self.member_architecture = architecture
        self.member_config = copy.deepcopy(dict(config))
        self.member_changes = copy.deepcopy(changes)
        self.members = nn.ModuleList(nets)

    @property
    def config(self) -> dict[str, Any]:
        config = {
            "architecture": self.member_architecture,
            "config": copy.deepcopy(self.member_config),
            "members": len(self.members),
        }
        if self.member_changes is not None:
            config["member_configs"] = copy.deepcopy(self.member_changes)
        return config

    @classmethod
    def from_members(cls, networks: Sequence[RQINetwork]) -> "RQIEnsemble":
        """An ensemble holding copies of ``networks`` (one architecture, at least 2); members whose config
        differs from the first member's are recorded by their changes."""
        if len(networks) < 2:
            raise ValueError(f"an ensemble needs at least 2 networks; got {len(networks)}")
        first = networks[0]
        for k, network in enumerate(networks):
            if network.architecture != first.architecture:
                raise ValueError(
                    f"ensemble members must share one architecture; member {k} is {network.architecture!r}, "
                    f"member 0 is {first.architecture!r}"
                )
        changes = [{k: v for k, v in net.config.items() if first.config.get(k) != v} for net in networks]
        ensemble = cls(
            architecture=first.architecture,
            config=first.config,
            members=len(networks),
            member_configs=changes if any(changes) else None,
        )
        for target, network in zip(ensemble.members, networks):
            target.load_state_dict(network.state_dict())
        return ensemble.to(next(networks[0].parameters()).device)

    def extract(self, x: torch.Tensor) -> list:
        """(N, 3, S, S) in [0, 1] -> one feature structure per member (each normalises on its own)."""
        return [member.extract(x) for member in self.members]

    def compare(self, features_a: list, features_b: list) -> torch.Tensor:
        scores = [member.compare(a, b) for member, a, b in zip(self.members, features_a, features_b)]
        return torch.stack(scores).mean(dim=0)

    def is_unused_checkpoint_key(self, key: str) -> bool:
        head, _, rest = key.partition(".")
        index, _, member_key = rest.partition(".")
        if head != "members" or not index.isdigit() or int(index) >= len(self.members):
            return False
        return self.members[int(index)].is_unused_checkpoint_key(member_key)
