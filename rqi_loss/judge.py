"""``FrozenJudge``: the base of modules that hold a frozen RQI network (the loss and the metric).

The network is held outside the module tree: it is moved and cast with its holder (``.to``, ``.cuda``,
``.half``), but it is not one of the holder's submodules, so it is never part of a state dict (it is rebuilt
from its name and options), never listed by ``parameters()`` or ``buffers()`` (so DDP neither broadcasts nor
all-reduces it, FSDP does not shard it, optimisers never see it), and an outer ``model.apply(init)`` or
``requires_grad_(True)`` cannot reach it. It stays in eval mode whatever ``train()`` is called with.
"""

from __future__ import annotations

import logging

from torch import nn

logger = logging.getLogger(__name__)

JUDGE_PREFIX = "network."  # where rqi_loss 0.1.0 saved the judge inside its holder's state dict


class FrozenJudge(nn.Module):
    """Holds ``network`` (frozen, eval mode) outside the module tree; see the module docstring."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "_judge", network.requires_grad_(False).eval())
        self._register_load_state_dict_pre_hook(_drop_saved_judge, with_module=True)

    @property
    def network(self) -> nn.Module:
        """The frozen judge network."""
        return self._judge

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        self._judge._apply(fn)
        return self

    def extra_repr(self) -> str:
        return f"network={type(self._judge).__name__}(input_size={getattr(self._judge, 'input_size', None)})"

    def train(self, mode: bool = True):
        """Switch this module's mode; the judge stays in eval mode whatever ``mode`` is."""
        super().train(mode)
        self._judge.eval()
        return self


def _drop_saved_judge(module: FrozenJudge, state_dict: dict, prefix: str, *_) -> None:
    """Load-time hook: a state dict saved with the judge inside (rqi_loss 0.1.0) still loads strictly. Keys
    under ``network.`` that are the judge's own keys are dropped; any other key stays and fails a strict load."""
    judge_keys = {prefix + JUDGE_PREFIX + key for key in module.network.state_dict()}
    dropped = [key for key in state_dict if key in judge_keys]
    for key in dropped:
        del state_dict[key]
    if dropped:
        logger.debug("ignored %d saved judge entries under %r; the judge is rebuilt, not loaded", len(dropped), prefix)
