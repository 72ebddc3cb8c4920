"""Clean accuracy of a judge on held-out synthetic pairs, per set: KADID-synth and TID2013-synth.

    python bench/judge_accuracy.py --model tiny-kadid-synth --json judge_accuracy.json
    python bench/judge_accuracy.py --model results/my-judge --sets kadid,tid2013

For each set the held-out scenes are those of the photographs the shipped judge never trained on (hubble and
ihc, the split of seed 0), all 5 scenes of each; the pairs are a seeded sample of ``--pairs`` of their dense
pairs (every ordered pair of images of one scene), the labels the set's MOS differences on its own scale mapped
to [-1, 1]. Reported: pair sign accuracy and SRCC, and the per-image SRCC of f(I, reference) against MOS.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from rqi_loss import create_network
from rqi_loss.training.dataset import ImageCache
from rqi_loss.training.evaluation import validation_metrics
from rqi_loss.training.pairs import dense_pairs, relative_labels, subsample_pairs
from rqi_loss.training.synth import DISTORTION_SETS, SynthSpec, make_synthetic_set
from rqi_loss.training.tables import read_csv_table

from common import report

HELD_OUT = ("hubble", "ihc")  # the held-out source photographs of the shipped judge (split seed 0)
ROOT = Path(".cache/judge-accuracy")


def held_out_rows(name: str, root: Path):
    """The rows of the synthetic set ``name`` cut from the held-out photographs (5 scenes each)."""
    table = make_synthetic_set(root / name, SynthSpec(scenes_per_source=5, sources=HELD_OUT, distortion_set=name))
    return read_csv_table(table, group_column="source", reference_column="reference")


def measure(network: torch.nn.Module, name: str, root: Path, pairs: int, seed: int) -> dict[str, float]:
    rows = held_out_rows(name, root)
    all_pairs = dense_pairs(rows)
    sample, labels = subsample_pairs(
        all_pairs, relative_labels(rows, all_pairs, DISTORTION_SETS[name].mos_range), pairs, seed
    )
    metrics, _ = validation_metrics(network, rows, sample, labels, cache=ImageCache(), device=torch.device("cpu"))
    keep = ("pair_sign_accuracy", "pair_srcc", "image_srcc")
    return {"pairs": len(sample), **{k: round(metrics[k], 4) for k in keep if k in metrics}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-kadid-synth", help="zoo name or network folder")
    parser.add_argument("--sets", default="kadid,tid2013", help="synthetic sets, comma separated")
    parser.add_argument("--pairs", type=int, default=4000, help="dense pairs sampled per set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair sample")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the held-out sets are generated")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    network = create_network(args.model)
    results = {name: measure(network, name, args.root, args.pairs, args.seed) for name in args.sets.split(",")}
    report({"model": args.model, "held_out_sources": list(HELD_OUT), "results": results}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
