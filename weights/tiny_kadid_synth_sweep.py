"""Maintainer tool: train variants of a training config side by side (one process each) and print their
best held-out metrics, to choose the embedded network's architecture and schedule.

    python weights/tiny_kadid_synth_sweep.py examples/train/tiny_kadid_synth.yaml \
        --variant base '{}' --variant shape '{"network": {"band_shape": true}}' \
        [--device cuda] [--threads 2] [--epochs 16] [--root .cache/kadid-synth] [--json sweep.json]

A variant is a JSON object merged into the config (nested keys merge). The data set is generated once,
before the variants start. Each variant's best epoch (by the recipe's validation loss) is reported.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from rqi_loss.training import train
from rqi_loss.training.config import parse_config
from rqi_loss.training.rows import load_rows


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def run_variant(job: tuple[str, dict[str, Any], int]) -> dict[str, Any]:
    import torch

    name, values, threads = job
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as output:
        summary = train(parse_config(values), output, progress=False)
    best = {k: round(v, 4) if isinstance(v, float) else v for k, v in summary["best"].items()}
    return {"variant": name, "seconds": summary["seconds"], "best": best, "overrides": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--root", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = yaml.safe_load(args.config.read_text())
    common: dict[str, Any] = {"optim": {}, "data": {}}
    if args.device:
        common["optim"]["device"] = args.device
    if args.epochs:
        common["optim"]["epochs"] = args.epochs
    if args.root:
        common["data"]["root"] = args.root
    jobs = [(name, merged(merged(base, common), json.loads(text)), args.threads) for name, text in args.variant]
    load_rows(parse_config(jobs[0][1]))  # generate the data once
    results = []
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        for result in pool.imap_unordered(run_variant, jobs):
            best = result["best"]
            logging.warning(
                "%-14s epoch %2d  image_srcc %.4f  pair_sign %.4f  pair_srcc %.4f  dref_sign %.4f  %.0f s",
                result["variant"],
                best["epoch"],
                best["image_srcc"],
                best["pair_sign_accuracy"],
                best["pair_srcc"],
                best.get("distorted_ref_pair_sign_accuracy", float("nan")),
                result["seconds"],
            )
            results.append(result)
            if args.json:  # after every variant, so a run cut short keeps what finished
                staging = args.json.with_name(args.json.name + ".tmp")
                staging.write_text(json.dumps(results, indent=2) + "\n")
                os.replace(staging, args.json)


if __name__ == "__main__":
    main()
