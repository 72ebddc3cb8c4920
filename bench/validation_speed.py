"""Time rqi-train's per-epoch validation: features once per image (``predict_pairs``) vs net(a, b) per pair.

    python bench/validation_speed.py [--repeats 3] [--json out.json]

Both score the held-out pairs of examples/train/tiny_kadid_synth.yaml (its ``optim.val_pairs`` dense pairs and
every (image, reference) pair, centre crops of 128) with the embedded tiny-kadid-synth network, in interleaved
rounds; reports the median seconds of each, their ratio and the largest score difference. KADID-synth is generated
under the config's ``data.root`` on first use (about a minute).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from common import ROOT, base_parser, hardware, report, time_side_by_side
from rqi_loss import create_network
from rqi_loss.training import load_config, reference_pairs
from rqi_loss.training.dataset import ImageCache, PairDataset
from rqi_loss.training.evaluation import predict_pairs
from rqi_loss.training.trainer import dense_validation_pairs, load_rows, train_val_split


@torch.no_grad()
def per_pair(network, rows, pairs, cache, batch_size: int = 64) -> np.ndarray:
    """What a user would write: a DataLoader of aligned centre crops, net(a, b) batch by batch."""
    dataset = PairDataset([r.image for r in rows], pairs, torch.zeros(len(pairs)), network.input_size, train=False, cache=cache)
    return torch.cat([network(a, b) for a, b, _ in DataLoader(dataset, batch_size=batch_size)]).numpy()


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    args = parser.parse_args()
    device = torch.device(args.device)
    config = load_config(ROOT / "examples" / "train" / "tiny_kadid_synth.yaml")
    _, val_rows = train_val_split(config, load_rows(config))
    dense, _ = dense_validation_pairs(config, val_rows, tuple(config.data.mos_range))
    image_pairs, extended = reference_pairs(val_rows)
    network = create_network("tiny-kadid-synth").to(device)
    cache = ImageCache()
    jobs = [(val_rows, dense), (extended, image_pairs)]
    both = {
        "per_pair": lambda: [per_pair(network, r, p, cache) for r, p in jobs],
        "features_once": lambda: [predict_pairs(network, r, p, cache=cache, device=device) for r, p in jobs],
    }
    difference = max(float(np.abs(a - b).max()) for a, b in zip(both["per_pair"](), both["features_once"]()))
    seconds = time_side_by_side(both, device, args.repeats, warmup=1)
    report(
        {
            "benchmark": "rqi-train validation of tiny-kadid-synth on its held-out pairs (centre crops 128)",
            "hardware": hardware(device),
            "pairs": {"dense": len(dense), "image_vs_reference": len(image_pairs)},
            **{f"{name}_s": round(s, 2) for name, s in seconds.items()},
            "speedup": round(seconds["per_pair"] / seconds["features_once"], 2),
            "max_abs_score_difference": difference,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
