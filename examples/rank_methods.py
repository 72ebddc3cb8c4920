"""Rank "SR methods" against a GT folder with ``rqi-score``, offline, on the embedded network.

    python examples/rank_methods.py [--out .cache/rank_example]

Makes a GT folder of 256x256 crops of scikit-image's colour photographs and three folders of degraded copies
standing in for SR outputs (JPEG quality 20, gaussian blur sigma 2, gaussian noise sigma 0.05), then runs
``rqi-score blur jpeg noise gt --model tiny-kadid-synth --also psnr,ssim,haarpsi --out scores.csv --plot
scores.png --report report.html`` and prints its table: the ranking by RQI with each method's PSNR, SSIM and
HaarPSI and their ranks. report.html (open it in a browser; its images are in report_files/) shows every image
of every method beside the GT, with each method's RQI map and zoomed crops.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from rqi_loss.metric.cli import main as rqi_score

PHOTOGRAPHS = ("coffee", "chelsea", "rocket", "astronaut", "hubble_deep_field")


def degrade(image: np.ndarray, method: str, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> a degraded uint8 copy."""
    import cv2

    if method == "jpeg":
        ok, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 20])
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    if method == "blur":
        return cv2.GaussianBlur(image, (0, 0), 2.0)
    noisy = image / 255.0 + rng.normal(0, 0.05, image.shape)
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8)


def make_folders(root: Path) -> list[Path]:
    """root/gt and one folder per degradation, PNG files named after the photographs."""
    import cv2
    from skimage import data

    rng = np.random.default_rng(0)
    methods = ("blur", "jpeg", "noise")
    for folder in ("gt", *methods):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in PHOTOGRAPHS:
        photo = getattr(data, name)()
        h, w = photo.shape[:2]
        crop = np.ascontiguousarray(photo[(h - 256) // 2 : (h + 256) // 2, (w - 256) // 2 : (w + 256) // 2])
        cv2.imwrite(str(root / "gt" / f"{name}.png"), crop[:, :, ::-1])
        for method in methods:
            cv2.imwrite(
                str(root / method / f"{name}.png"), np.ascontiguousarray(degrade(crop, method, rng)[:, :, ::-1])
            )
    return [root / m for m in methods] + [root / "gt"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/rank_example"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folders = make_folders(args.out)
    outputs = ["--out", str(args.out / "scores.csv"), "--plot", str(args.out / "scores.png")]
    outputs += ["--report", str(args.out / "report.html")]
    return rqi_score(
        [*map(str, folders), "--model", "tiny-kadid-synth", "--also", "psnr,ssim,haarpsi", *outputs, "--quiet"]
    )


if __name__ == "__main__":
    raise SystemExit(main())
