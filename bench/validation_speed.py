"""Time rqi-train's per-epoch validation: features once per image (``predict_pairs``) vs net(a, b) per pair.

    python bench/validation_speed.py [--repeats 3] [--json out.json]

Both score the held-out pairs of examples/train/tiny_kadid_synth.yaml (its ``optim.val_pairs`` dense pairs and
every (image, reference) pair, centre crops of 128) with the first member of the embedded tiny-kadid-synth pair (a
CompactRQI: the single network shipped before the pair), in interleaved
rounds; reports the median seconds of each, their ratio and the largest score difference. A third candidate,
``features_once_stats_per_pair``, is ``predict_pairs`` with CompactRQI's per-image statistics recomputed for every
pair inside ``compare`` (how CompactRQI split the work before ``extract`` computed them once per image); the two
``features_once`` variants are also timed on all dense pairs of one held-out scene (15,750 pairs). KADID-synth is
generated under the config's ``data.root`` on first use (about a minute).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from rqi_loss import create_network
from rqi_loss.networks import CompactRQI
from rqi_loss.training import dense_pairs, load_config, reference_pairs
from rqi_loss.training.dataset import ImageCache, PairDataset
from rqi_loss.training.evaluation import predict_pairs
from rqi_loss.training.pairs import dense_validation_pairs
from rqi_loss.training.rows import load_rows, train_val_split

from common import ROOT, base_parser, hardware, report, time_side_by_side


@torch.no_grad()
def per_pair(network, rows, pairs, cache, batch_size: int = 64) -> np.ndarray:
    """What a user would write: a DataLoader of aligned centre crops, net(a, b) batch by batch."""
    dataset = PairDataset(
        [r.image for r in rows], pairs, torch.zeros(len(pairs)), network.input_size, train=False, cache=cache
    )
    return torch.cat([network(a, b) for a, b, _ in DataLoader(dataset, batch_size=batch_size)]).numpy()


class StatisticsPerPair(CompactRQI):
    """CompactRQI whose ``extract`` keeps the raw features and whose ``compare`` computes each image's own
    statistics for every pair (same scores, more work per pair)."""

    def extract(self, x: torch.Tensor):
        return self.features(self.normalize(x))

    def compare(self, features_a, features_b) -> torch.Tensor:
        def split(features):
            return self._pair_maps(features), self._own_statistics(features)

        return super().compare(split(features_a), split(features_b))


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    args = parser.parse_args()
    device = torch.device(args.device)
    config = load_config(ROOT / "examples" / "train" / "tiny_kadid_synth.yaml")
    _, val_rows = train_val_split(config, load_rows(config))
    dense, _ = dense_validation_pairs(config, val_rows, tuple(config.data.mos_range))
    image_pairs, extended = reference_pairs(val_rows)
    network = create_network("tiny-kadid-synth").members[0].to(device)  # a CompactRQI
    per_pair_statistics = StatisticsPerPair(**network.config).to(device)
    per_pair_statistics.load_state_dict(network.state_dict())
    cache = ImageCache()
    jobs = [(val_rows, dense), (extended, image_pairs)]
    both = {
        "per_pair": lambda: [per_pair(network, r, p, cache) for r, p in jobs],
        "features_once": lambda: [predict_pairs(network, r, p, cache=cache, device=device) for r, p in jobs],
        "features_once_stats_per_pair": lambda: [
            predict_pairs(per_pair_statistics, r, p, cache=cache, device=device) for r, p in jobs
        ],
    }
    reference = both["per_pair"]()
    difference = max(
        float(np.abs(a - b).max())
        for name in ("features_once", "features_once_stats_per_pair")
        for a, b in zip(reference, both[name]())
    )
    seconds = time_side_by_side(both, device, args.repeats, warmup=1)
    # All dense pairs of one held-out scene (every image in many pairs): where per-image statistics pay off.
    scene = val_rows[0].scene
    scene_rows = [row for row in val_rows if row.scene == scene]
    scene_pairs = dense_pairs(scene_rows)
    scene_jobs = {
        "scene_features_once": lambda: predict_pairs(network, scene_rows, scene_pairs, cache=cache, device=device),
        "scene_features_once_stats_per_pair": lambda: predict_pairs(
            per_pair_statistics, scene_rows, scene_pairs, cache=cache, device=device
        ),
    }
    seconds.update(time_side_by_side(scene_jobs, device, args.repeats, warmup=0))
    report(
        {
            "benchmark": "rqi-train validation of tiny-kadid-synth on its held-out pairs (centre crops 128)",
            "hardware": hardware(device),
            "pairs": {
                "dense": len(dense),
                "image_vs_reference": len(image_pairs),
                "one_scene_all_dense": len(scene_pairs),
            },
            **{f"{name}_s": round(s, 2) for name, s in seconds.items()},
            "speedup": round(seconds["per_pair"] / seconds["features_once"], 2),
            "speedup_of_statistics_once_per_image": round(
                seconds["features_once_stats_per_pair"] / seconds["features_once"], 2
            ),
            "one_scene_speedup_of_statistics_once_per_image": round(
                seconds["scene_features_once_stats_per_pair"] / seconds["scene_features_once"], 2
            ),
            "max_abs_score_difference": difference,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
