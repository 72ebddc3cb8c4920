"""Cost of the loss-side defence: the loss step (forward + backward to sr) with ``transforms`` against the
plain step at the same crop count, timed side by side in interleaved rounds.

    python bench/transforms_step.py --repeats 30 --json bench/results/cpu/transforms_step.json
    python bench/transforms_step.py --model maniqa-pipal --random-weights --device cuda --batch 8
"""

from __future__ import annotations

import json

import torch

from rqi_loss import RQILoss, create_network
from rqi_loss.transforms import as_transforms

from common import base_parser, hardware, random_pair, report, time_side_by_side


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-kadid-synth")
    parser.add_argument(
        "--random-weights", action="store_true", help="no download: the architecture with random weights"
    )
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--num-crops", type=int, default=1)
    parser.add_argument(
        "--transforms", default="{}", help="JSON fields of PairTransforms (default: the default ensemble)"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    network = create_network(args.model, pretrained=not args.random_weights).to(device)
    spec = as_transforms(json.loads(args.transforms) or True)
    losses = {
        "plain": RQILoss(network, seed=0, num_crops=args.num_crops),
        "transforms": RQILoss(network, seed=0, num_crops=args.num_crops, transforms=spec),
    }
    sr, gt = random_pair(args.batch, args.size, device)

    def step(loss):
        x = sr.clone().requires_grad_(True)
        loss(x, gt).backward()

    times = time_side_by_side(
        {name: (lambda bound=loss: step(bound)) for name, loss in losses.items()}, device, args.repeats, warmup=3
    )
    result = {
        "hardware": hardware(device),
        "model": args.model,
        "batch": args.batch,
        "size": args.size,
        "num_crops": args.num_crops,
        "transforms": repr(spec),
        "seconds": times,
        "ratio_transforms_to_plain": times["transforms"] / times["plain"],
    }
    report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
