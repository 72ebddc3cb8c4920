"""Shared helpers for the bench/ scripts: hardware record, side-by-side timing, peak memory, FLOPs, JSON.

Every figure a script reports is a ratio of measurements taken side by side in one run: the candidates are
timed in interleaved rounds (A, B, A, B, ...) so that the machine's drift hits them alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]


def example(name: str) -> ModuleType:
    """``examples/<name>.py``, loaded by path once and kept in ``sys.modules`` (where the main job's own
    ``import finetune_outputs`` finds it; the examples folder is not on a script's import path)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def main_job() -> ModuleType:
    """``examples/finetune_realesrgan.py``, the main job, as a module (``finetune_outputs``, which it imports by
    name, loaded first)."""
    example("finetune_outputs")
    return example("finetune_realesrgan")


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else what the platform module says."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def hardware(device: torch.device) -> dict:
    """What the numbers were measured on."""
    info = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = cpu_name()
        info["torch_threads"] = torch.get_num_threads()
    return info


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_side_by_side(
    candidates: dict[str, Callable[[], object]], device: torch.device, repeats: int, warmup: int = 1
) -> dict[str, float]:
    """Median seconds per call of each candidate, measured in interleaved rounds after ``warmup`` rounds. Each
    round starts one candidate further along (A B C, B C A, ...), so no candidate always runs first."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for round_index in range(warmup + repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            fn = candidates[name]
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            if round_index >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes of tensor memory allocated while ``fn`` runs, above what was allocated before. CUDA: the
    caching allocator's peak; CPU: the allocation/free timeline recorded by the profiler."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    current = peak = 0
    for event in events:
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call (torch.utils.flop_counter; attention through the math SDPA backend, which it counts).

    The counter has no formula for ``bmm(..., out_dtype=)``: while counting, the channel attention takes its
    upcast path (same matmul shapes, same FLOPs); the timed calls keep the fast path."""
    from rqi_loss.networks import channel_attention as kernels

    fast_path_check = kernels._cuda_bmm_has_out_dtype
    kernels._cuda_bmm_has_out_dtype = lambda: False
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            fn()
    finally:
        kernels._cuda_bmm_has_out_dtype = fast_path_check
    return counter.get_total_flops()


def compute_dtype(amp: str | None) -> torch.dtype:
    """The dtype a loss step computes in: the autocast dtype of ``--amp`` (bf16 / fp16), else float32."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp, torch.float32)


def default_matmul_size(device: torch.device) -> int:
    """Side of the square matmul that measures a device's dense throughput (large enough to saturate it)."""
    return 8192 if device.type == "cuda" else 2048


def matmul_flops_per_second(
    device: torch.device, dtype: torch.dtype, size: int | tuple[int, int, int], batch: int = 0, repeats: int = 5
) -> float:
    """Measured throughput of an (m, k) @ (k, n) matmul on this machine (``size`` m, k, n; one int: square),
    batched (bmm) when ``batch`` > 0: the practical limit the loss step is compared to."""
    m, k, n = (size, size, size) if isinstance(size, int) else size
    leading = (batch,) if batch else ()
    g = torch.Generator().manual_seed(0)
    a = torch.randn(*leading, m, k, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(*leading, k, n, generator=g).to(device=device, dtype=dtype)
    seconds = time_side_by_side({"mm": lambda: a @ b}, device, repeats=repeats, warmup=2)["mm"]
    return 2 * max(batch, 1) * m * k * n / seconds


@contextmanager
def quiet_timm():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per candidate (median reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser


def report(results: dict, path: Path | None) -> None:
    """Print the results as JSON and write them to ``path`` when given."""
    text = json.dumps(results, indent=2)
    print(text)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def random_pair(batch: int, size: int, device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch, 3, size, size, generator=g)
    sr = (gt + 0.05 * torch.randn(gt.shape, generator=g)).clamp(0, 1)
    return sr.to(device), gt.to(device)


def seeded_network(device: torch.device):
    """Our full-size MANIQA-RQI and the authors' MANIQA_RQI with the same seeded random weights."""
    from rqi_loss.networks import MANIQARQI, load_network_state

    from authors_reference import build_reference_maniqa

    with quiet_timm():
        reference = build_reference_maniqa(seed=0)
    ours = MANIQARQI()
    load_network_state(ours, reference.state_dict(), source="reference MANIQA_RQI")
    return ours.to(device).eval().requires_grad_(False), reference.to(device).eval()
