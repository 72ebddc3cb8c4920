"""Where the loss step's time goes: the step split into its parts (gt backbone, sr backbone, compare, the
two backward halves), and a torch.profiler table of one step (ops by device time, kernels grouped by kind),
with the step's model FLOP utilisation; ``--compile`` then does the same for the step with the network's
extract and compare compiled by torch.compile (inductor), measured in the same run.

    python bench/profile_step.py [--device cuda] [--batch 16] [--amp bf16] [--compile] [--json out.json]

Full-size MANIQA-RQI with seeded random weights (timing does not depend on the weights).
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from rqi_loss import RQILoss
from rqi_loss._amp import judge_autocast
from rqi_loss.networks import MANIQARQI

from common import base_parser, count_flops, hardware, quiet_timm, random_pair, report, synchronize, time_side_by_side
from flop_utilization import nominal_peak

KERNEL_KINDS = (  # first match wins
    ("attention (flash / efficient)", r"flash|fmha|attention|attn"),
    ("matmul", r"gemm|cutlass|nvjet|sm90_|sm80_|xmma|matmul|cublas"),
    ("convolution", r"conv|cudnn|implicit|winograd"),
    ("layer norm", r"layer_norm|LayerNorm"),
    ("softmax", r"softmax"),
    ("reduction", r"reduce"),
    ("copy / transpose / cat", r"copy|transpose|cat|permute|index|gather|scatter|roll"),
    ("elementwise", r"elementwise|vectorized|unrolled|triton"),
)


def kernel_kind(name: str) -> str:
    return next((kind for kind, pattern in KERNEL_KINDS if re.search(pattern, name, re.IGNORECASE)), "other")


def profile_step(step, seconds: float, flops: int, peak: float | None, device: torch.device, rows: int) -> dict:
    """Profile two calls of ``step``; print the op table and the kernels by kind; return the summary."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(2):
            step()
        synchronize(device)
    sort = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=rows, max_name_column_width=60), flush=True)
    kinds: dict[str, float] = defaultdict(float)
    kernels: dict[str, float] = defaultdict(float)
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            kinds[kernel_kind(event.name)] += event.device_time / 2e3  # us over 2 steps -> ms per step
            kernels[event.name[:120]] += event.device_time / 2e3
    summary = {
        "step_ms": round(seconds * 1e3, 2),
        "achieved_tflops": flops / seconds / 1e12,
        "mfu_vs_nominal_peak": flops / seconds / peak if peak else None,
        "kernel_kinds_ms": {k: round(v, 3) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "kernel_total_ms": round(sum(kinds.values()), 3),
        "top_kernels_ms": {k: round(v, 3) for k, v in sorted(kernels.items(), key=lambda kv: -kv[1])[:40]},
    }
    print({k: v for k, v in summary.items() if k != "top_kernels_ms"}, flush=True)
    return summary


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument(
        "--compile", action="store_true", help="also profile the step with extract and compare compiled"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = MANIQARQI().to(device).eval().requires_grad_(False)
    loss = RQILoss(network, crop="center", amp=args.amp, check_inputs=False)
    sr, gt = random_pair(args.batch, 224, device)

    def step() -> None:
        loss(sr.clone().requires_grad_(True), gt).backward()

    with torch.no_grad(), judge_autocast(args.amp, device):
        features_gt = network.extract(gt)
        feature_leaf = network.extract(sr).requires_grad_(True)
    feature_grad = torch.ones_like(feature_leaf)

    def gt_backbone() -> None:
        with torch.no_grad(), judge_autocast(args.amp, device):
            network.extract(gt)

    def sr_backbone_forward() -> None:
        with judge_autocast(args.amp, device):
            network.extract(sr.clone().requires_grad_(True))

    def compare_forward() -> None:
        with judge_autocast(args.amp, device):
            network.compare(feature_leaf, features_gt)

    def compare_backward() -> None:
        with judge_autocast(args.amp, device):
            out = network.compare(feature_leaf, features_gt).sum()
        out.backward()

    def sr_backbone_backward() -> None:
        with judge_autocast(args.amp, device):
            out = network.extract(sr.clone().requires_grad_(True))
        out.backward(feature_grad)

    parts = time_side_by_side(
        {
            "step": step,
            "gt_backbone": gt_backbone,
            "sr_backbone_forward": sr_backbone_forward,
            "sr_backbone_forward_backward": sr_backbone_backward,
            "compare_forward": compare_forward,
            "compare_forward_backward": compare_backward,
        },
        device,
        args.repeats,
        warmup=2,
    )
    parts_ms = {name: round(seconds * 1e3, 2) for name, seconds in parts.items()}
    print("parts (ms):", parts_ms, flush=True)

    with quiet_timm():
        flops = count_flops(step)
    peak = nominal_peak(device)
    results = {"eager": profile_step(step, parts["step"], flops, peak, device, args.rows)}
    results["eager"]["parts_ms"] = parts_ms
    if args.compile:
        network.extract, network.compare = torch.compile(network.extract), torch.compile(network.compare)
        seconds = time_side_by_side({"step": step}, device, args.repeats, warmup=3)["step"]
        results["compiled"] = profile_step(step, seconds, flops, peak, device, args.rows)
    report(
        {
            "benchmark": "loss step profile",
            "hardware": hardware(device),
            "amp": args.amp,
            "batch": args.batch,
            "gflop_per_step": flops / 1e9,
            "nominal_peak_tflops": peak / 1e12 if peak else None,
            **results,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
