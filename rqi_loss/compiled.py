"""``compile=``: the judge's ``extract`` and ``compare`` run through ``torch.compile``, with eager as the fallback.

The batch dimension is compiled static first and dynamic after the first change of batch size (torch.compile's
automatic dynamic shapes), so changing batch sizes cost one recompilation, not one per size. A compilation
that fails (no C++ compiler for inductor on the CPU, an unsupported platform) warns once and runs eager from
then on; the scores are the eager ones.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

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
        self.eager = False  # set once a compilation failed

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
            return self._compiled[name](*args)
        except Exception as error:  # compilation failed: eager decides whether the call itself is wrong
            result = getattr(self.network, name)(*args)
            self.eager = True
            warnings.warn(
                f"compile={self.options or True}: torch.compile failed ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}); the judge runs eager from now on",
                RuntimeWarning,
                stacklevel=4,
            )
            return result
