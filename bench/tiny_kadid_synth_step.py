"""Time one RQILoss step (forward + backward to sr) of the embedded tiny-kadid-synth network.

    python bench/tiny_kadid_synth_step.py [--device cpu|cuda] [--repeats 20] [--json out.json] [--candidate DIR]

Input: a (2, 3, 256, 256) sr/gt pair. Reports the median over repeats for random (1 crop of 128 per image)
and grid (4 crops per image covering every pixel) cropping, timed in interleaved rounds, with the hardware.
``--candidate`` times a trained network folder (e.g. an ``rqi-train`` output meant to replace the embedded
network) in the same rounds, and reports its ratio to the embedded network.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rqi_loss import RQILoss, create_network

from common import base_parser, hardware, random_pair, report, time_side_by_side


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.set_defaults(repeats=20)
    parser.add_argument("--candidate", help="a trained network folder to time beside the embedded network")
    args = parser.parse_args()
    device = torch.device(args.device)
    sr, gt = random_pair(2, 256, device)
    networks = {"": "tiny-kadid-synth"} | (
        {"candidate_": create_network(Path(args.candidate))} if args.candidate else {}
    )
    losses = {
        f"{prefix}{crop}": RQILoss(network, crop=crop, seed=0).to(device)
        for prefix, network in networks.items()
        for crop in ("random", "grid")
    }

    def step(loss: RQILoss):
        return lambda: loss(sr.clone().requires_grad_(True), gt).backward()

    seconds = time_side_by_side({name: step(loss) for name, loss in losses.items()}, device, args.repeats, warmup=2)
    ratios = {
        f"candidate_vs_embedded_{crop}": round(seconds[f"candidate_{crop}"] / seconds[crop], 2)
        for crop in ("random", "grid")
        if args.candidate
    }
    report(
        {
            "benchmark": "tiny-kadid-synth loss step (forward + backward to sr), (2, 3, 256, 256)",
            "hardware": hardware(device),
            **({"candidate": args.candidate} if args.candidate else {}),
            **{f"{name}_ms": round(1000 * s, 1) for name, s in seconds.items()},
            **ratios,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
