"""What a relative-quality map and the HTML report cost, beside the score they come with.

    python bench/map_report_cost.py --json bench/results/cpu/map_report_cost.json

Side by side in interleaved rounds on one 512 x 512 pair (the embedded network): the official multi-scale
score (RQIMetric), and rqi_map at strides 64 and 32; then rqi-score on a folder of ``--images`` photographs'
crops x ``--methods`` degraded copies, with and without ``--report``: the extra seconds per (image, method) the
page costs (its maps included) and the size of what it writes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rqi_loss import RQIMetric, create_network, rqi_map
from rqi_loss.metric.cli import main as rqi_score

from common import hardware, report, time_side_by_side


def _photo_pair(size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    from skimage import data

    gt = torch.from_numpy(data.astronaut()[:size, :size]).permute(2, 0, 1).float()[None] / 255
    sr = torch.nn.functional.avg_pool2d(gt, 3, stride=1, padding=1, count_include_pad=False)
    return sr, gt


def _folders(root: Path, images: int, methods: int) -> list[str]:
    """root/gt and root/m<k>: ``images`` 256 px crops of a photograph and ``methods`` noised copies of each."""
    from skimage import data

    photo = data.chelsea()
    rng = np.random.default_rng(0)
    paths = [root / f"m{k}" for k in range(methods)] + [root / "gt"]
    for path in paths:
        path.mkdir(parents=True)
    for i in range(images):
        y, x = rng.integers(0, photo.shape[0] - 256), rng.integers(0, photo.shape[1] - 256)
        crop = photo[y : y + 256, x : x + 256]
        Image.fromarray(crop).save(root / "gt" / f"{i:03d}.png")
        for k in range(methods):
            noisy = np.clip(crop / 255 + rng.normal(0, 0.01 * (k + 1), crop.shape), 0, 1)
            Image.fromarray((noisy * 255).round().astype(np.uint8)).save(root / f"m{k}" / f"{i:03d}.png")
    return [str(p) for p in paths]


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--methods", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    network = create_network("tiny-kadid-synth")
    metric = RQIMetric(network, protocol="official")
    sr, gt = _photo_pair()
    candidates = {
        "official_score": lambda: metric(sr, gt),
        "map_stride_64": lambda: rqi_map(sr, gt, network, stride=64),
        "map_stride_32": lambda: rqi_map(sr, gt, network, stride=32),
    }
    seconds = time_side_by_side(candidates, repeats=args.repeats, device=torch.device("cpu"))
    with tempfile.TemporaryDirectory() as folder:
        paths = _folders(Path(folder), args.images, args.methods)
        base = [*paths, "--model", "tiny-kadid-synth", "--quiet", "--device", "cpu"]
        started = time.perf_counter()
        rqi_score(base)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        rqi_score([*base, "--report", f"{folder}/report.html"])
        with_report = time.perf_counter() - started
        pairs = args.images * args.methods
        page = {
            "pairs": pairs,
            "seconds_without_report": round(plain, 2),
            "seconds_with_report": round(with_report, 2),
            "extra_seconds_per_pair": round((with_report - plain) / pairs, 3),
            "page_kib": round(Path(f"{folder}/report.html").stat().st_size / 1024, 1),
            "files_mib": round(_folder_size(Path(f"{folder}/report_files")) / 2**20, 2),
        }
    ratios = {name: round(value / seconds["official_score"], 2) for name, value in seconds.items()}
    results = {
        "hardware": hardware(torch.device("cpu")),
        "pair": "512 x 512, tiny-kadid-synth (input 128)",
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "ratio_to_official_score": ratios,
        "report": page,
    }
    report(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
