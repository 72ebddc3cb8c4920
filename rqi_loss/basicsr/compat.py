"""Make BasicSR 1.4.2 run with current torchvision and on machines without CUDA, without editing its files.

- ``install_functional_tensor_alias``: BasicSR imports ``torchvision.transforms.functional_tensor``, removed in
  torchvision 0.17; the alias points it at ``torchvision.transforms.functional`` when (only when) it is missing.
- ``cpu_distributed``: BasicSR's ``init_dist`` hard-codes NCCL and CUDA device ids; without CUDA, the same
  launch runs on gloo. Resuming maps checkpoints to the CPU instead of ``torch.cuda.current_device()``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator

import torch

_ALIAS = "torchvision.transforms.functional_tensor"


def install_functional_tensor_alias() -> None:
    """Alias the removed torchvision module before the first ``basicsr`` import (no-op where it exists)."""
    if _ALIAS in sys.modules:
        return
    try:
        if importlib.util.find_spec(_ALIAS) is not None:
            return
    except ModuleNotFoundError:
        pass
    sys.modules[_ALIAS] = importlib.import_module("torchvision.transforms.functional")


def _init_dist_gloo(launcher: str, backend: str = "nccl", **kwargs) -> None:
    if launcher != "pytorch":
        raise RuntimeError(f"launcher {launcher!r} needs CUDA; on CPU use --launcher pytorch (torchrun)")
    torch.distributed.init_process_group(backend="gloo", **kwargs)


def _load_resume_state_cpu(opt):
    path = opt["path"].get("resume_state")
    if path is None:
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)  # BasicSR's training state: tensors and numbers
    from basicsr.utils import check_resume

    check_resume(opt, state["iter"])
    return state


@contextlib.contextmanager
def cpu_distributed() -> Iterator[None]:
    """Inside the block, BasicSR's distributed init and resume work without CUDA (no-op when CUDA exists)."""
    if torch.cuda.is_available():
        yield
        return
    import basicsr.train
    import basicsr.utils.options

    saved = basicsr.utils.options.init_dist, basicsr.train.load_resume_state
    basicsr.utils.options.init_dist = _init_dist_gloo
    basicsr.train.load_resume_state = _load_resume_state_cpu
    try:
        yield
    finally:
        basicsr.utils.options.init_dist, basicsr.train.load_resume_state = saved
