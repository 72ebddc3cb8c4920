"""Time one RQILoss step (forward + backward to sr) of the embedded tiny-kadid-synth network.

    python bench/tiny_kadid_synth_step.py [--device cpu|cuda] [--repeats 20] [--json out.json]

Input: a (2, 3, 256, 256) sr/gt pair. Reports the median over repeats for random (1 crop of 128 per image)
and grid (4 crops per image covering every pixel) cropping, timed in interleaved rounds, with the hardware.
"""

from __future__ import annotations

import torch

from common import base_parser, hardware, random_pair, report, time_side_by_side
from rqi_loss import RQILoss


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.set_defaults(repeats=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    sr, gt = random_pair(2, 256, device)
    losses = {crop: RQILoss("tiny-kadid-synth", crop=crop, seed=0).to(device) for crop in ("random", "grid")}

    def step(loss: RQILoss):
        return lambda: loss(sr.clone().requires_grad_(True), gt).backward()

    seconds = time_side_by_side({crop: step(loss) for crop, loss in losses.items()}, device, args.repeats, warmup=2)
    report(
        {
            "benchmark": "tiny-kadid-synth loss step (forward + backward to sr), (2, 3, 256, 256)",
            "hardware": hardware(device),
            **{f"{crop}_ms": round(1000 * s, 1) for crop, s in seconds.items()},
        },
        args.json,
    )


if __name__ == "__main__":
    main()
