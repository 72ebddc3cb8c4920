"""Mixed precision for the judge network: which autocast dtype to use for an ``amp`` setting on a device."""

from __future__ import annotations

import contextlib

import torch

AMP_MODES = (None, "bf16", "fp16", "auto")


def check_amp(amp: str | None) -> None:
    if amp not in AMP_MODES:
        raise ValueError(f"unknown amp {amp!r}; choose one of None, 'bf16', 'fp16', 'auto'")


def autocast_dtype(amp: str | None, device: torch.device) -> torch.dtype | None:
    """None (fp32) or the autocast dtype: "auto" = bf16 on CUDA GPUs that support it, else fp16; fp32 on CPU.
    Explicit "bf16" also works on CPU; "fp16" needs CUDA."""
    if amp is None:
        return None
    if device.type == "cuda":
        if amp == "auto":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if amp == "bf16" else torch.float16
    if amp == "auto":
        return None
    if amp == "fp16":
        raise ValueError("amp='fp16' needs a CUDA device; use amp='bf16' (or 'auto') on the CPU")
    return torch.bfloat16


def judge_autocast(amp: str | None, device: torch.device):
    """Autocast context for the network's forward (and so its backward); a no-op for fp32."""
    dtype = autocast_dtype(amp, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
