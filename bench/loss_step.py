"""2. Loss step (forward + backward to SR): ours vs the naive approach, with and without recompute=True
(activation checkpointing; reported under the key ``ours_checkpoint``).

    python bench/loss_step.py [--device cpu|cuda] [--batches 1 4 8] [--amp bf16] [--repeats 2] [--json out.json]

Naive: what a user would write around the authors' MANIQA_RQI (as pyiqa's ``as_loss`` does): weights left
trainable, so autograd keeps both branches' graphs and computes weight gradients too. Ours: ``RQILoss`` with
the same weights (centre crop: the (B, 3, 224, 224) inputs are one crop). Reports seconds per step, peak
memory of a step (tensor memory above what was allocated before it), and the ratios ours / naive; and the
FLOP floor of that ratio: our step's model FLOPs (torch.utils.flop_counter) at this machine's measured dense
matmul rate, over naive's measured time, which no choice of kernels or layouts can beat without fewer FLOPs.
"""

from __future__ import annotations

import torch

from rqi_loss import RQILoss
from rqi_loss.amp import judge_autocast

from common import (
    base_parser,
    compute_dtype,
    count_flops,
    default_matmul_size,
    hardware,
    matmul_flops_per_second,
    peak_memory,
    quiet_timm,
    random_pair,
    report,
    seeded_network,
    time_side_by_side,
)


def naive_step(network: torch.nn.Module, sr: torch.Tensor, gt: torch.Tensor, amp: str | None) -> None:
    x = sr.clone().requires_grad_(True)
    with judge_autocast(amp, sr.device):
        loss = -network((x - 0.5) / 0.5, (gt - 0.5) / 0.5).float().mean()
    loss.backward()
    network.zero_grad(set_to_none=True)


def our_step(loss: RQILoss, sr: torch.Tensor, gt: torch.Tensor) -> None:
    x = sr.clone().requires_grad_(True)
    loss(x, gt).backward()


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    ours, theirs = seeded_network(device)
    theirs.requires_grad_(True)
    losses = {
        "ours": RQILoss(ours, crop="center", amp=args.amp),
        "ours_checkpoint": RQILoss(ours, crop="center", amp=args.amp, recompute=True),
    }
    matmul = matmul_flops_per_second(device, compute_dtype(args.amp), default_matmul_size(device))
    rows = []
    for batch in args.batches:
        sr, gt = random_pair(batch, 224, device)
        candidates = {
            "naive": lambda: naive_step(theirs, sr, gt, args.amp),
            **{name: (lambda loss=loss: our_step(loss, sr, gt)) for name, loss in losses.items()},
        }
        with quiet_timm():
            memory = {name: peak_memory(fn, device) for name, fn in candidates.items()}
            seconds = time_side_by_side(candidates, device, args.repeats)
        flops = count_flops(candidates["ours"])
        rows.append(
            {
                "batch": batch,
                "seconds": seconds,
                "peak_memory_mib": {k: v / 2**20 for k, v in memory.items()},
                "time_ratio": {k: seconds[k] / seconds["naive"] for k in losses},
                "memory_ratio": {k: memory[k] / memory["naive"] for k in losses},
                "ours_gflop": flops / 1e9,
                "ours_at_matmul_rate_over_naive": flops / matmul / seconds["naive"],
            }
        )
        print(rows[-1], flush=True)
    report(
        {
            "benchmark": "loss step (forward + backward to SR) vs naive autograd through the authors' network",
            "hardware": hardware(device),
            "amp": args.amp,
            "matmul_tflops": matmul / 1e12,
            "results": rows,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
