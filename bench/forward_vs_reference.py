"""1. Network forward: ours vs the authors' MANIQA_RQI (rqi-iqa 0.1.1), same weights and inputs.

    python bench/forward_vs_reference.py [--device cpu|cuda] [--batch 1] [--repeats 3] [--json out.json]

Both run under no_grad in fp32 on a (B, 3, 224, 224) pair; the authors' network gets the inputs mapped to
[-1, 1] as their code does. Reports seconds per forward, the speed ratio (theirs / ours), the max |difference|
of the scores and the FLOPs of each.
"""

from __future__ import annotations

import torch

from common import (
    base_parser,
    count_flops,
    hardware,
    quiet_timm,
    random_pair,
    report,
    seeded_network,
    time_side_by_side,
)


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)
    ours, theirs = seeded_network(device)
    sr, gt = random_pair(args.batch, 224, device)
    sr_n, gt_n = (sr - 0.5) / 0.5, (gt - 0.5) / 0.5

    @torch.no_grad()
    def run_ours():
        return ours(sr, gt)

    @torch.no_grad()
    def run_theirs():
        return theirs(sr_n, gt_n)

    with quiet_timm():
        difference = (run_ours() - run_theirs()).abs().max().item()
        seconds = time_side_by_side({"ours": run_ours, "authors": run_theirs}, device, args.repeats)
        flops = {"ours": count_flops(run_ours), "authors": count_flops(run_theirs)}
    report(
        {
            "benchmark": "network forward vs the authors' MANIQA_RQI (fp32, no_grad)",
            "hardware": hardware(device),
            "batch": args.batch,
            "seconds": seconds,
            "speedup_vs_authors": seconds["authors"] / seconds["ours"],
            "max_abs_difference": difference,
            "gflop_per_pair": {k: v / 1e9 / args.batch for k, v in flops.items()},
        },
        args.json,
    )


if __name__ == "__main__":
    main()
