"""Maintainer tool: rqi-train's held-out validation of RQI networks on a larger KADID-synth set.

    python weights/tiny_kadid_synth_heldout.py [--scenes-per-source 10] [--val-pairs 4000] [FOLDER ...]

Takes examples/train/tiny_kadid_synth.yaml, cuts ``--scenes-per-source`` scenes from every source photograph
(generated under .cache/kadid-synth-s<N> on first use, about 2 minutes for 10) and splits them as the config
does (the held-out photographs stay hubble and ihc). It then prints the trainer's validation metrics for the
embedded tiny-kadid-synth network and for each network folder given, all on the same ``--val-pairs`` dense
held-out pairs and every (image, reference) pair. With 10 scenes per photograph, 19 held-out scenes are scored
instead of the 10 that training validates on, so the numbers are less noisy.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from rqi_loss import create_network
from rqi_loss.training import dense_pairs, load_config
from rqi_loss.training.dataset import ImageCache
from rqi_loss.training.evaluation import validation_metrics
from rqi_loss.training.pairs import dense_validation_pairs
from rqi_loss.training.rows import load_rows, train_val_split

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="more networks in our Hub layout")
    parser.add_argument("--scenes-per-source", type=int, default=10)
    parser.add_argument("--val-pairs", type=int, default=4000)
    args = parser.parse_args()
    config = load_config(ROOT / "examples" / "train" / "tiny_kadid_synth.yaml")
    root = str(ROOT / ".cache" / f"kadid-synth-s{args.scenes_per_source}")
    config = dataclasses.replace(
        config, data=dataclasses.replace(config.data, root=root, scenes_per_source=args.scenes_per_source)
    )
    _, val_rows = train_val_split(config, load_rows(config))
    pairs, pair_labels = dense_validation_pairs(config, val_rows, tuple(config.data.mos_range), args.val_pairs)
    groups, scenes = sorted({row.group for row in val_rows}), len({row.scene for row in val_rows})
    print(f"held out {groups}: {scenes} scenes, {len(pairs)} of {len(dense_pairs(val_rows))} dense pairs")
    cache = ImageCache()
    networks = [("tiny-kadid-synth", create_network("tiny-kadid-synth"))]
    networks += [(str(folder), create_network(Path(folder))) for folder in args.folders]
    for name, network in networks:
        metrics, _ = validation_metrics(network, val_rows, pairs, pair_labels, cache=cache, device=torch.device("cpu"))
        print(name + ": " + ", ".join(f"{key} {value:.4f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
