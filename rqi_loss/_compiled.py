"""``compile=``: the judge's ``extract`` and ``compare`` run through ``torch.compile``, with eager as the fallback.

The batch dimension is compiled static first and dynamic after the first change of batch size (torch.compile's
automatic dynamic shapes), so changing batch sizes cost one recompilation, not one per size. A compilation
that fails (no C++ compiler for inductor on the CPU, an unsupported platform) warns once and runs eager from
then on; the scores are the eager ones. The backward is compiled lazily, at the first ``backward()``, where no
fallback could catch a failure: so the first call that needs a gradient first runs a trial forward and backward
on copies of its inputs (once per function), and a failure there also means eager from then on.

Copies (``copy.deepcopy``, pickling) compile their own network afresh; with ``mode="reduce-overhead"`` (CUDA
graphs) every output is cloned out of the graph's static buffers, which the next replay overwrites.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves, tree_map

from ._warnings_at_caller import warn_at_caller

logger = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_options(value: bool | str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``compile=`` -> torch.compile keyword arguments, or None for eager. False/None: eager; True: inductor's
    default mode; a mode name (:data:`COMPILE_MODES`); or a mapping of torch.compile arguments, e.g.
    ``{"backend": "aot_eager"}``."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, str):
        if value not in COMPILE_MODES:
            raise ValueError(
                f"compile must be True, False, one of {COMPILE_MODES} or a dict of torch.compile options; got {value!r}"
            )
        return {"mode": value}
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"compile must be True, False, a mode name or a dict of torch.compile options; got {value!r}")


class CompiledJudge:
    """A view of ``network`` whose ``extract`` and ``compare`` run compiled; every other attribute is the
    network's. Not a module: the network stays the one place that holds the weights."""

    def __init__(self, network: nn.Module, options: dict[str, Any]) -> None:
        self.network = network
        self.options = options
        self._compiled = {name: torch.compile(getattr(network, name), **options) for name in ("extract", "compare")}
        self._backward_tried: set[str] = set()  # functions whose compiled backward ran once
        self.eager = False  # set once a compilation failed

    def __getstate__(self) -> dict[str, Any]:
        """What a copy keeps: the network (copied with its holder), the options and the eager flag; the compiled
        functions are bound to this network and are made afresh for the copy's."""
        return {"network": self.network, "options": self.options, "eager": self.eager}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["network"], state["options"])
        self.eager = state["eager"]

    def __getattr__(self, name: str) -> Any:
        network = self.__dict__.get("network")
        if network is None:  # not built yet (copy and pickle probe attributes first)
            raise AttributeError(name)
        return getattr(network, name)

    def extract(self, x: torch.Tensor) -> Any:
        return self._run("extract", x)

    def compare(self, features_a: Any, features_b: Any) -> torch.Tensor:
        return self._run("compare", features_a, features_b)

    def _run(self, name: str, *args: Any) -> Any:
        if self.eager:
            return getattr(self.network, name)(*args)
        try:
            if name not in self._backward_tried and _needs_gradient(args):
                self._try_backward(name, args)
            result = self._compiled[name](*args)
        except Exception as error:  # compilation failed: eager decides whether the call itself is wrong
            result = getattr(self.network, name)(*args)
            self.eager = True
            warn_at_caller(
                f"compile={self.options or True}: torch.compile failed ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); the judge runs eager from now on",
                RuntimeWarning,
            )
            return result
        if self.options.get("mode") == "reduce-overhead":
            result = tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, result)
        return result

    def _try_backward(self, name: str, args: tuple) -> None:
        """Run ``name`` compiled, forward and backward, on detached copies of ``args`` (their ``requires_grad``
        kept), so that a backward that fails to compile fails here, where eager can take over."""
        copies = tree_map(lambda x: x.detach().clone().requires_grad_(x.requires_grad) if _is_tensor(x) else x, args)
        leaves = [x for x in tree_leaves(copies) if _is_tensor(x) and x.requires_grad]
        outputs = [x for x in tree_leaves(self._compiled[name](*copies)) if _is_tensor(x) and x.requires_grad]
        torch.autograd.grad(outputs, leaves, [torch.ones_like(x) for x in outputs], allow_unused=True)
        self._backward_tried.add(name)


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _needs_gradient(args: tuple) -> bool:
    """True when the call will build an autograd graph (grad mode on and an input that requires grad)."""
    return torch.is_grad_enabled() and any(_is_tensor(x) and x.requires_grad for x in tree_leaves(args))
