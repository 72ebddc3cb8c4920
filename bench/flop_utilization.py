"""4. Achieved FLOP/s of the loss step as a fraction of this machine's measured dense matmul FLOP/s (and, on
a known GPU, of its nominal dense bf16 peak: model FLOP utilisation, MFU), eager and compiled side by side.

    python bench/flop_utilization.py [--device cpu|cuda] [--batches 1 4] [--amp bf16] [--json out.json]
        [--modes eager,default,reduce-overhead]

Model FLOPs of one step (forward + backward to SR) are counted by torch.utils.flop_counter (attention through
the math SDPA backend, which it counts); the step is then timed with the default kernels, each mode (eager, or
a ``compile=`` mode: ``default``, ``max-autotune``, ``reduce-overhead`` = CUDA graphs) in interleaved rounds
after its warm-up (compilation, graph capture). The matmul reference is a square matmul in the step's compute
dtype (fp32 or the autocast dtype).
"""

from __future__ import annotations

import functools

import torch

from rqi_loss import RQILoss
from rqi_loss._compiled import compile_options

from common import (
    base_parser,
    compute_dtype,
    count_flops,
    default_matmul_size,
    hardware,
    matmul_flops_per_second,
    quiet_timm,
    random_pair,
    report,
    seeded_network,
    time_side_by_side,
)

# Nominal dense (no sparsity) bf16/fp16 tensor-core peaks, FLOP/s, from the vendors' data sheets (SXM parts).
NOMINAL_PEAK = {"H100": 989.4e12, "H200": 989.4e12, "A100": 312e12}


def nominal_peak(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in NOMINAL_PEAK.items() if key in name), None)


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument(
        "--modes", default="eager", help="comma separated: eager and/or compile= modes (default, reduce-overhead, ...)"
    )
    parser.add_argument("--matmul-size", type=int, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    modes = args.modes.split(",")
    for mode in modes:
        if mode != "eager":
            compile_options(mode)  # a clear error for an unknown mode before anything runs
    ours, _ = seeded_network(device)
    losses = {
        mode: RQILoss(ours, crop="center", amp=args.amp, check_inputs=False, compile=False if mode == "eager" else mode)
        for mode in modes
    }
    counted = RQILoss(ours, crop="center", amp=args.amp, check_inputs=False)  # eager: the counter sees every op
    dtype = compute_dtype(args.amp)
    size = args.matmul_size or default_matmul_size(device)
    matmul = matmul_flops_per_second(device, dtype, size)
    peak = nominal_peak(device)
    rows = []
    for batch in args.batches:
        sr, gt = random_pair(batch, 224, device)

        def step(loss: RQILoss) -> None:
            loss(sr.clone().requires_grad_(True), gt).backward()

        with quiet_timm():
            flops = count_flops(lambda: step(counted))
            seconds = time_side_by_side(
                {mode: functools.partial(step, loss) for mode, loss in losses.items()}, device, args.repeats, warmup=3
            )
        for mode in modes:
            achieved = flops / seconds[mode]
            row = {
                "batch": batch,
                "mode": mode,
                "gflop_per_step": flops / 1e9,
                "seconds": seconds[mode],
                "achieved_tflops": achieved / 1e12,
                "fraction_of_measured_matmul": achieved / matmul,
            }
            if peak:
                row["mfu_vs_nominal_peak"] = achieved / peak
            rows.append(row)
            print(row, flush=True)
    report(
        {
            "benchmark": "loss step FLOP/s vs this machine's dense matmul FLOP/s",
            "hardware": hardware(device),
            "amp": args.amp,
            "modes": modes,
            "matmul": {"size": size, "dtype": str(dtype), "tflops": matmul / 1e12},
            "nominal_peak_tflops": peak / 1e12 if peak else None,
            "results": rows,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
