"""rqi-train's training throughput, pairs per second, for each device count, measured by rqi-train itself.

    python bench/train_throughput.py --ranks 1 2 --json bench/results/cpu/train_throughput.json
    python bench/train_throughput.py --config examples/train/maniqa_rqi_pipal.yaml --ranks 1 8 \
        --set data.root=/data/PIPAL --set optim.device=cuda     # a lent multi-GPU machine

Each count runs the same config (``torchrun --nproc_per_node=N`` for N > 1) for ``--epochs`` epochs of
``--pairs`` pairs with a tiny validation sample; pairs/s is taken between the first and the last epoch's log
lines, so start-up, data checks and the first epoch (warm-up) are left out. Without ``--config`` the runs use
a generated folder of 20 scenes of 256 px images (the tiny rqi_cnn network, so the number says more about the
data pipeline than about a judge's compute).
"""

from __future__ import annotations

import csv
import datetime
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from common import base_parser, hardware, report

LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .* epoch (\d+): ")


def generated_config(folder: Path, pairs: int, epochs: int) -> dict:
    """20 scenes x (reference + 4 distortions) of 256 px noise textures, and a tiny rqi_cnn config over them."""
    rng = np.random.default_rng(0)
    rows = []
    for scene in range(20):
        base = rng.random((256, 256, 3))
        for level in range(5):
            image = np.clip(base + rng.normal(0, 0.05 * level, base.shape), 0, 1)
            name = f"s{scene}_{level}.png"
            Image.fromarray((image * 255).astype(np.uint8)).save(folder / name)
            rows.append([f"s{scene}", name, 5.0 - level, f"s{scene}_0.png"])
    with open(folder / "table.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["scene", "image", "mos", "reference"], *rows])
    return {
        "name": "throughput",
        "architecture": "rqi_cnn",
        "network": {"input_size": 128, "levels": 4, "width": 16, "hidden": 64, "dropout": 0.0},
        "data": {"table": str(folder / "table.csv"), "reference_column": "reference"},
        "optim": {"epochs": epochs, "pairs_per_epoch": pairs, "batch_size": 16, "val_pairs": 16},
    }


def epoch_times(stderr: str) -> dict[int, datetime.datetime]:
    """Wall-clock time of each epoch's validation log line."""
    times = {}
    for line in stderr.splitlines():
        match = LOG_LINE.match(line)
        if match:
            times[int(match.group(2))] = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
    return times


def run(config: Path, output: Path, ranks: int, overrides: list[str]) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launcher = ["-m", "torch.distributed.run", f"--nproc_per_node={ranks}", f"--master_port={port}"]
    cli = ["-m", "rqi_loss.training.cli", str(config), *overrides, "--output", str(output), "--quiet"]
    result = subprocess.run([sys.executable, *(launcher if ranks > 1 else []), *cli], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"rqi-train with {ranks} rank(s) failed:\n{result.stderr[-3000:]}")
    return result.stderr


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="a training config (default: generated data, tiny network)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="device (process) counts to run")
    parser.add_argument("--pairs", type=int, default=1024, help="pairs per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (the first is warm-up)")
    parser.add_argument("--set", action="append", default=[], help="a config override KEY=VALUE (repeatable)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = args.config
        if config is None:
            config = folder / "config.yaml"
            config.write_text(yaml.safe_dump(generated_config(folder, args.pairs, args.epochs)))
        overrides = [f"optim.epochs={args.epochs}", f"optim.pairs_per_epoch={args.pairs}", *args.set]
        for ranks in args.ranks:
            times = epoch_times(run(config, folder / f"out{ranks}", ranks, overrides))
            seconds = (times[args.epochs] - times[1]).total_seconds()
            rows.append({"ranks": ranks, "pairs_per_second": args.pairs * (args.epochs - 1) / seconds})
            print(f"{ranks} rank(s): {rows[-1]['pairs_per_second']:.1f} pairs/s", file=sys.stderr)
    device = torch.device("cuda" if any("device=cuda" in o for o in args.set) else "cpu")
    results = {"hardware": hardware(device), "config": str(args.config or "generated"), "results": rows}
    results["speedup_over_1_rank"] = {
        row["ranks"]: row["pairs_per_second"] / rows[0]["pairs_per_second"] for row in rows
    }
    report(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
