"""Time one RQILoss step (forward + backward to sr) of the embedded tiny-kadid-synth network on the CPU.

    python bench/tiny_kadid_synth_step.py [--repeats 20] [--json out.json]

Input: a (2, 3, 256, 256) sr/gt pair. Reports the median over repeats for random (1 crop of 128 per image)
and grid (4 crops per image covering every pixel) cropping, with the hardware.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from rqi_loss import RQILoss


def time_step(loss: RQILoss, sr: torch.Tensor, gt: torch.Tensor, repeats: int) -> float:
    times = []
    for _ in range(repeats + 2):
        x = sr.clone().requires_grad_(True)
        start = time.perf_counter()
        loss(x, gt).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])  # the first two are warm-up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json")
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    sr, gt = torch.rand(2, 3, 256, 256, generator=g), torch.rand(2, 3, 256, 256, generator=g)
    result = {
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "input": "(2, 3, 256, 256)",
    }
    for crop in ("random", "grid"):
        ms = 1000 * time_step(RQILoss("tiny-kadid-synth", crop=crop, seed=0), sr, gt, args.repeats)
        result[f"{crop}_ms"] = round(ms, 1)
        print(f"tiny-kadid-synth forward+backward, crop={crop}: {ms:.1f} ms (median of {args.repeats})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
