"""``FrozenJudge``: the base of modules that hold a frozen RQI network (the loss and the metric): it builds the
judge (a zoo name or a given module), freezes it, and keeps the mixed-precision setting for its forward.

The network is held outside the module tree: it is moved and cast with its holder (``.to``, ``.cuda``,
``.half``), but it is not one of the holder's submodules, so it is never part of a state dict (it is rebuilt
from its name and options), never listed by ``parameters()`` or ``buffers()`` (so DDP neither broadcasts nor
all-reduces it, FSDP does not shard it, optimisers never see it), and an outer ``model.apply(init)`` or
``requires_grad_(True)`` cannot reach it. It stays in eval mode whatever ``train()`` is called with.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from ._amp import check_amp, judge_autocast
from ._compiled import CompiledJudge, compile_options
from .factory import frozen_network

logger = logging.getLogger(__name__)

JUDGE_PREFIX = "network."  # where rqi_loss 0.1.0 saved the judge inside its holder's state dict


class FrozenJudge(nn.Module):
    """Holds the judge (frozen, eval mode) outside the module tree; see the module docstring.

    Args:
        model: a zoo name or ``"hf-hub:org/repo"`` (built by :func:`rqi_loss.create_network` with ``pretrained``
            and ``checkpoint_path``), or an ``nn.Module`` following the network contract.
        amp: None (fp32) | "bf16" | "fp16" | "auto": autocast for the judge (:meth:`judge_autocast`).
        compile: run the judge's extract and compare through torch.compile (``rqi_loss._compiled``): False,
            True, a mode ("max-autotune", "reduce-overhead", ...) or a dict of torch.compile options.
    """

    def __init__(
        self,
        model: str | nn.Module,
        *,
        pretrained: bool = True,
        checkpoint_path: str | os.PathLike | None = None,
        amp: str | None = None,
        compile: bool | str | dict | None = False,
    ) -> None:
        check_amp(amp)  # options are checked before any weights are loaded
        compile_options(compile)
        super().__init__()
        self.amp = amp
        self.compile_setting = compile  # not ``compile``: that is nn.Module.compile(), which still works
        # how to build the judge again (to_empty() of a holder made on the meta device); None for a given module
        self._judge_source = (model, pretrained, checkpoint_path) if isinstance(model, str) else None
        self._hold(frozen_network(model, pretrained=pretrained, checkpoint_path=checkpoint_path))
        self._register_load_state_dict_pre_hook(_drop_saved_judge, with_module=True)

    def _hold(self, network: nn.Module) -> None:
        """Keep ``network`` as the judge (outside the module tree) and its scorer (compiled when asked)."""
        options = compile_options(self.compile_setting)
        object.__setattr__(self, "_judge", network)
        object.__setattr__(self, "_scorer", CompiledJudge(network, options) if options is not None else network)

    @property
    def network(self) -> nn.Module:
        """The frozen judge network."""
        return self._judge

    @property
    def scorer(self):
        """What scores pairs: the network, or its compiled view with ``compile=``."""
        return self._scorer

    def judge_autocast(self, device: torch.device):
        """The autocast context of the judge's forward and backward on ``device`` for this module's ``amp``."""
        return judge_autocast(self.amp, device)

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        self._judge._apply(fn)
        return self

    def to_empty(self, *, device: torch.device | str | None, recurse: bool = True):
        """``nn.Module.to_empty`` for this module's own tensors; the judge, which no state dict holds, moves to
        ``device`` with its weights, or is built again from its name when it was made on the meta device."""
        nn.Module._apply(self, lambda t: torch.empty_like(t, device=device), recurse)
        if not any(t.is_meta for t in self._judge.state_dict().values()):
            self._judge.to(device)
            return self
        if self._judge_source is None:
            raise ValueError(
                "to_empty(): this module's judge was given as a module made on the meta device, so its weights exist "
                "nowhere; pass the judge built on a real device, or a zoo name (the judge is then built again)"
            )
        model, pretrained, checkpoint_path = self._judge_source
        with torch.device("cpu"):
            rebuilt = frozen_network(model, pretrained=pretrained, checkpoint_path=checkpoint_path)
        self._hold(rebuilt.to(device))
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
