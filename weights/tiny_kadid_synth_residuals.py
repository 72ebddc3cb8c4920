"""Maintainer tool: where the embedded tiny-kadid-synth network errs, per distortion type, on its held-out
KADID-synth scenes (the source photographs named in its config.json provenance).

    python weights/tiny_kadid_synth_residuals.py [--per-source] [--network FOLDER]

Uses the KADID-synth set that examples/train/tiny_kadid_synth.yaml names (its data.root, generated there
first when missing, about a minute). Scores f(image, reference) on the 128 centre crops, fits
MOS ~ a * f + b over all held-out images, and prints per type the RMSE and mean of the residual (MOS minus
the fit; positive: the network judges the type too harshly) and the SRCC within the type. ``--per-source``
adds, for every source photograph (trained on or held out), the mean over its scenes of the per-scene image
SRCC and of the sign accuracy of score differences f(I, ref) - f(J, ref) on all pairs of the scene: whether
the network fits its training photographs better than the held-out ones (overfitting) or not (underfitting).
``--network`` scores a candidate from rqi-train's output folder instead of the shipped network.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from rqi_loss import create_network
from rqi_loss.metric import read_image
from rqi_loss.training import load_config
from rqi_loss.training.correlation import sign_accuracy, srcc
from rqi_loss.training.rows import synth_table

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-source", action="store_true", help="also score every source photograph's scenes")
    parser.add_argument("--network", help="an rqi-train output folder to score instead of the shipped network")
    args = parser.parse_args()
    training = load_config(ROOT / "examples" / "train" / "tiny_kadid_synth.yaml").data
    table_path = synth_table(dataclasses.replace(training, root=str(ROOT / training.root)))
    root = table_path.parent
    folder = Path(args.network) if args.network else resources.files("rqi_loss") / "pretrained" / "tiny-kadid-synth"
    config = json.loads((folder / "config.json").read_text())
    held_out = set(config["provenance"]["held_out_groups"])
    network = create_network(Path(folder)) if args.network else create_network("tiny-kadid-synth")
    size = network.input_size

    def centre(path: str) -> torch.Tensor:
        image = read_image(root / path)
        top, left = (image.shape[1] - size) // 2, (image.shape[2] - size) // 2
        return image[None, :, top : top + size, left : left + size]

    table = list(csv.DictReader(table_path.open()))
    rows = [r for r in table if r["distortion"] != "reference" and (args.per_source or r["source"] in held_out)]
    with torch.no_grad():
        scores = np.array([network(centre(r["image"]), centre(r["reference"])).item() for r in rows])
    if args.per_source:
        per_source(rows, scores, held_out)
        keep = np.array([r["source"] in held_out for r in rows])
        rows, scores = [r for r in rows if r["source"] in held_out], scores[keep]
    mos = np.array([float(r["mos"]) for r in rows])
    slope, intercept = np.polyfit(scores, mos, 1)
    residual = mos - (slope * scores + intercept)
    by_type = defaultdict(list)
    for index, row in enumerate(rows):
        by_type[row["distortion"]].append(index)
    print(f"held-out sources {sorted(held_out)}: {len(rows)} images, SRCC {srcc(scores, mos):.3f}")
    print(f"{'distortion':<24} {'rmse':>6} {'bias':>7} {'srcc':>6}")
    for name, indices in sorted(by_type.items(), key=lambda item: -np.abs(residual[item[1]].mean())):
        idx = np.array(indices)
        rmse = float(np.sqrt((residual[idx] ** 2).mean()))
        print(f"{name:<24} {rmse:6.3f} {residual[idx].mean():+7.3f} {srcc(scores[idx], mos[idx]):+6.2f}")


def per_source(rows: list[dict], scores: np.ndarray, held_out: set[str]) -> None:
    """Print per source photograph the mean per-scene image SRCC and score-difference sign accuracy."""
    by_scene = defaultdict(list)
    for index, row in enumerate(rows):
        by_scene[(row["source"], row["scene"])].append(index)
    by_source = defaultdict(list)
    for (source, _), indices in by_scene.items():
        s, mos = scores[indices], np.array([float(rows[i]["mos"]) for i in indices])
        i, j = np.triu_indices(len(indices), k=1)
        by_source[source].append((srcc(s, mos), sign_accuracy(s[i] - s[j], mos[i] - mos[j])))
    print(f"{'source':<12} {'split':<9} {'scenes':>6} {'srcc':>6} {'sign':>6}")
    for source, values in sorted(by_source.items()):
        split = "held-out" if source in held_out else "trained"
        mean_srcc, mean_sign = np.mean(values, axis=0)
        print(f"{source:<12} {split:<9} {len(values):6d} {mean_srcc:6.3f} {mean_sign:6.3f}")


if __name__ == "__main__":
    main()
