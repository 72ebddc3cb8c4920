"""2. Loss step (forward + backward to SR): ours vs the naive approach, with and without recompute=True
(activation checkpointing; reported under the key ``ours_checkpoint``), and with the channel attention's
probabilities kept for the backward instead of recomputed (``ours_stored_probabilities``).

    python bench/loss_step.py [--device cpu|cuda] [--batches 1 4 8] [--amp bf16] [--repeats 2] [--json out.json]

Naive: what a user would write around the authors' MANIQA_RQI (as pyiqa's ``as_loss`` does): weights left
trainable, so autograd keeps both branches' graphs and computes weight gradients too. Ours: ``RQILoss`` with
the same weights (centre crop: the (B, 3, 224, 224) inputs are one crop). Reports seconds per step, peak
memory of a step (tensor memory above what was allocated before it), and the ratios ours / naive; and the
FLOP floor of that ratio: our step's model FLOPs (torch.utils.flop_counter) at the fastest rate this machine
reaches on the step's own largest matmul shapes (:data:`STEP_MATMULS`, measured in the same run), over naive's
measured time: no choice of kernels or layouts beats it without fewer FLOPs.
"""

from __future__ import annotations

import copy

import torch

from rqi_loss import RQILoss
from rqi_loss._amp import judge_autocast

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

# The loss step's largest matmuls at batch B, as (bmm batch, (m, k, n)): the ViT's MLP in and out (its biggest
# linears, B x 785 tokens, fwd and bwd) and the channel attention's C x C products (C = 3072, L = 784 tokens).
STEP_MATMULS = {
    "vit_mlp_in": lambda b: (0, (b * 785, 768, 3072)),
    "vit_mlp_out": lambda b: (0, (b * 785, 3072, 768)),
    "channel_attention_logits": lambda b: (b, (3072, 784, 3072)),
    "channel_attention_product": lambda b: (b, (3072, 3072, 784)),
}


def fastest_step_matmul(device: torch.device, dtype: torch.dtype, batch: int) -> dict[str, float]:
    """FLOP/s of each of :data:`STEP_MATMULS` at ``batch``."""
    rates = {}
    for name, shape in STEP_MATMULS.items():
        bmm_batch, size = shape(batch)
        rates[name] = matmul_flops_per_second(device, dtype, size, batch=bmm_batch)
    return rates


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
    storing = copy.deepcopy(ours)
    storing.store_attention_probabilities = True  # the channel attention's C x C probabilities kept for backward
    losses = {
        "ours": RQILoss(ours, crop="center", amp=args.amp),
        "ours_checkpoint": RQILoss(ours, crop="center", amp=args.amp, recompute=True),
        "ours_stored_probabilities": RQILoss(storing, crop="center", amp=args.amp),
    }
    dtype = compute_dtype(args.amp)
    square_matmul = matmul_flops_per_second(device, dtype, default_matmul_size(device))
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
        matmul_rates = fastest_step_matmul(device, dtype, batch)
        rows.append(
            {
                "batch": batch,
                "seconds": seconds,
                "peak_memory_mib": {k: v / 2**20 for k, v in memory.items()},
                "time_ratio": {k: seconds[k] / seconds["naive"] for k in losses},
                "memory_ratio": {k: memory[k] / memory["naive"] for k in losses},
                "ours_gflop": flops / 1e9,
                "step_matmul_tflops": {k: v / 1e12 for k, v in matmul_rates.items()},
                "ours_at_fastest_matmul_rate_over_naive": flops / max(matmul_rates.values()) / seconds["naive"],
            }
        )
        print(rows[-1], flush=True)
    report(
        {
            "benchmark": "loss step (forward + backward to SR) vs naive autograd through the authors' network",
            "hardware": hardware(device),
            "amp": args.amp,
            "square_matmul_tflops": square_matmul / 1e12,
            "results": rows,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
