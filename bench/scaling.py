"""5. Scaling of the loss step with batch size and image size (grid crops covering every pixel).

    python bench/scaling.py [--device cpu|cuda] [--batches 1 2] [--sizes 256 384 512] [--amp bf16] [--json out.json]

For each (batch, size): crops per step (a 256 or 384 image needs 2 x 2 crops of 224, a 512 image 3 x 3),
seconds per step, seconds per crop, and peak memory; the per-crop time relative to the smallest setting.
"""

from __future__ import annotations

import torch

from rqi_loss import RQILoss
from rqi_loss._crops import grid_starts

from common import (
    base_parser,
    hardware,
    peak_memory,
    quiet_timm,
    random_pair,
    report,
    seeded_network,
    time_side_by_side,
)


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 384, 512])
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    parser.add_argument("--checkpoint", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    ours, _ = seeded_network(device)
    loss = RQILoss(ours, crop="grid", amp=args.amp, recompute=args.checkpoint)
    rows = []
    for size in args.sizes:
        for batch in args.batches:
            sr, gt = random_pair(batch, size, device)

            def step():
                x = sr.clone().requires_grad_(True)
                loss(x, gt).backward()

            with quiet_timm():
                memory = peak_memory(step, device)
                seconds = time_side_by_side({"step": step}, device, args.repeats)["step"]
            crops = batch * len(grid_starts(size, 224)) ** 2
            rows.append(
                {
                    "batch": batch,
                    "size": size,
                    "crops": crops,
                    "seconds": seconds,
                    "seconds_per_crop": seconds / crops,
                    "peak_memory_mib": memory / 2**20,
                }
            )
            print(rows[-1], flush=True)
    base = rows[0]["seconds_per_crop"]
    for row in rows:
        row["per_crop_vs_first"] = row["seconds_per_crop"] / base
    report(
        {
            "benchmark": "loss step scaling (grid crops)",
            "hardware": hardware(device),
            "amp": args.amp,
            "checkpoint": args.checkpoint,
            "results": rows,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
