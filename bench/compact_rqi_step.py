"""CompactRQI (tiny-kadid-synth's first member): its two feature orders side by side, and an ensemble's cost.

    python bench/compact_rqi_step.py [--device cpu|cuda] [--repeats 10] [--json out.json]

Direct order: the 1x1 colour map, then the Laplacian pyramid, then the band convs. Folded: the pyramid of the
raw normalised images, the colour map folded into the band convs. Both give the same scores; CompactRQI takes
the folded order only for training steps. The bench times, with each order forced, a training step (forward
+ backward to the weights, (32, 3, 96, 96) pairs, as rqi-train runs it) and a loss step (forward + backward
to sr, (2, 3, 128, 128) pairs), and a 3-member ensemble's loss step against one network's. Prints medians,
the ratios and the largest score gap between the orders.
"""

from __future__ import annotations

import torch

from rqi_loss import create_network
from rqi_loss.networks import CompactRQI, RQIEnsemble
from rqi_loss.networks.cnn import laplacian_pyramid

from common import base_parser, hardware, report, time_side_by_side


class DirectOrder(CompactRQI):
    """CompactRQI always computing its features in the direct order (colour map, pyramid, convs)."""

    def features(self, x: torch.Tensor):
        return self.features_colour_first(x)


class FoldedOrder(CompactRQI):
    """CompactRQI always computing its features in the folded order."""

    def features(self, x: torch.Tensor):
        return self.features_of_pyramid(laplacian_pyramid(x, self.cfg.levels))


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.set_defaults(repeats=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    shipped = create_network("tiny-kadid-synth").members[0]  # a CompactRQI
    folded = FoldedOrder(**shipped.config).to(device)
    folded.load_state_dict(shipped.state_dict())
    direct = DirectOrder(**shipped.config).to(device)
    direct.load_state_dict(shipped.state_dict())
    g = torch.Generator().manual_seed(0)
    a, b = (torch.rand(32, 3, 96, 96, generator=g).to(device) for _ in range(2))
    sr, gt = (torch.rand(2, 3, 128, 128, generator=g).to(device) for _ in range(2))
    with torch.no_grad():
        gap = (folded.eval()(sr, gt) - direct.eval()(sr, gt)).abs().max().item()
    folded.train(), direct.train()

    def training_step(network):
        return lambda: network(a, b).square().mean().backward()

    frozen = [net.requires_grad_(False) for net in (FoldedOrder(**shipped.config), DirectOrder(**shipped.config))]
    ensemble = RQIEnsemble.from_members([shipped] * 3).requires_grad_(False).eval().to(device)

    def loss_step(network):
        network = network.to(device).eval()
        return lambda: network(sr.clone().requires_grad_(True), gt).sum().backward()

    seconds = time_side_by_side(
        {
            "train_folded": training_step(folded),
            "train_direct": training_step(direct),
            "loss_folded": loss_step(frozen[0]),
            "loss_direct": loss_step(frozen[1]),
            "loss_ensemble3": loss_step(ensemble),
        },
        device,
        args.repeats,
        warmup=2,
    )
    report(
        {
            "benchmark": "CompactRQI feature paths (tiny-kadid-synth config)",
            "hardware": hardware(device),
            **{f"{name}_ms": round(1000 * s, 1) for name, s in seconds.items()},
            "folded_speedup_training_step": round(seconds["train_direct"] / seconds["train_folded"], 2),
            "folded_speedup_loss_step": round(seconds["loss_direct"] / seconds["loss_folded"], 2),
            "ensemble3_over_one_network": round(seconds["loss_ensemble3"] / seconds["loss_direct"], 2),
            "max_score_gap": gap,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
