"""Soak: many loss steps of a small SR training loop around ``RQILoss`` (the embedded network), watching the
process's resident memory. Leaks show as growth of the peak RSS after warm-up.

    python bench/soak.py --steps 2000 --json bench/results/cpu/soak.json --plot soak.png

Each step: a small conv generator upsamples a random LR batch, RQILoss (random crops) + L1, backward, Adam.
The batch size cycles through 1, 2 and 3 so shape changes are part of the soak.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from rqi_loss import RQILoss

from common import report

MB = 1024 * 1024


def _status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS: resident now; VmHWM: resident peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def soak(steps: int, warmup: int, sample_every: int, seed: int = 0) -> dict:
    """Run the loop; returns peak RSS after warm-up and at the end (MB), their growth, and RSS samples."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = nn.Sequential(
            nn.Conv2d(3, 48, 3, padding=1), nn.PReLU(), nn.Conv2d(48, 48, 3, padding=1), nn.PixelShuffle(4)
        )
    loss_fn = RQILoss("tiny-kadid-synth", loss_weight=0.1, seed=seed)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4)
    samples, baseline, started = [], None, time.perf_counter()
    for step in tqdm(range(steps), desc="soak", unit="step", file=sys.stderr):
        batch = 1 + step % 3
        lq = torch.rand(batch, 3, 40, 40, generator=g)
        gt = nn.functional.interpolate(lq, scale_factor=4, mode="bicubic").clamp(0, 1)
        sr = generator(lq)
        loss = loss_fn(sr, gt) + (sr - gt).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step + 1 == warmup:
            baseline = _status_kb("VmHWM")
        if (step + 1) % sample_every == 0:
            samples.append({"step": step + 1, "rss_mb": _status_kb("VmRSS") / 1024})
    peak_end = _status_kb("VmHWM")
    return {
        "steps": steps,
        "warmup_steps": warmup,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_after_warmup_mb": round(baseline / 1024, 1),
        "peak_rss_end_mb": round(peak_end / 1024, 1),
        "peak_rss_growth_mb": round((peak_end - baseline) / 1024, 1),
        "rss_samples": samples,
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s["step"] for s in result["rss_samples"]]
    rss = [s["rss_mb"] for s in result["rss_samples"]]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(steps, rss, label="resident memory (RSS)")
    ax.axhline(result["peak_rss_after_warmup_mb"], color="grey", linestyle="--", label="peak after warm-up")
    ax.set_xlabel("loss step")
    ax.set_ylabel("MB")
    ax.set_title(f"RQILoss soak: peak RSS growth {result['peak_rss_growth_mb']} MB over {result['steps']} steps")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100, help="steps before the baseline peak is read")
    parser.add_argument("--sample-every", type=int, default=50)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path, help="PNG of RSS over the steps")
    args = parser.parse_args(argv)
    if not 0 < args.warmup < args.steps:
        parser.error(f"--warmup must lie between 1 and --steps - 1; got {args.warmup}")
    result = soak(args.steps, args.warmup, args.sample_every)
    report(result, args.json)
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
