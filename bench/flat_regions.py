"""Grids and noise where the GT is flat: the fine-band energy a main-job arm adds to the GT's flattest regions.

    python bench/flat_regions.py /tmp/main_job /tmp/fsim_w1 --json bench/results/cpu/flat_regions.json
    python bench/flat_regions.py --table   # docs/judge-hacking.md's cells, from that JSON

A fine grid in a clear sky is easy to see and hard for a full-reference referee to punish: it is a small share
of the image's error. For every held-out image of a main-job work folder (``heldout_hr/`` and the saved
``results/sr/<seed><arm>/``) this measures, on the luma in grey levels (0-255), the RMS of the fine band
(the image minus its 5 x 5 box mean) over the GT's flattest quarter (the pixels whose 9 x 9 local standard
deviation in the GT is lowest), for the SR output and for the GT (``excess``: the SR's minus the GT's). What
it prints and ``--table`` shows: per seed, the RQI arm's RMS minus the control arm's, the mean over the images
(positive: the arm adds fine texture where the GT is flat that the control arm does not). The SR images are the
PNGs the main job saved (8 bits).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rqi_loss.weights import atomic_write

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "cpu"
FLAT_SHARE = 0.25  # the GT's flattest quarter
BAND_WINDOW = 5  # the fine band: the image minus its 5 x 5 box mean
FLATNESS_WINDOW = 9  # local standard deviation window that decides where the GT is flat


def luma(path: Path) -> torch.Tensor:
    """(1, 1, H, W) BT.601 luma of an image file, in grey levels 0-255."""
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return torch.from_numpy(rgb @ np.array([0.299, 0.587, 0.114]))[None, None]


def _box_mean(image: torch.Tensor, window: int) -> torch.Tensor:
    return F.avg_pool2d(image, window, stride=1, padding=window // 2, count_include_pad=False)


def fine_band(image: torch.Tensor) -> torch.Tensor:
    """The image minus its local 5 x 5 mean, (1, 1, H, W)."""
    return image - _box_mean(image, BAND_WINDOW)


def flat_mask(gt: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) bool: the GT's flattest FLAT_SHARE of pixels by local standard deviation, 8 px from the edge."""
    local_std = (_box_mean(gt**2, FLATNESS_WINDOW) - _box_mean(gt, FLATNESS_WINDOW) ** 2).clamp_min(0).sqrt()
    inside = torch.zeros_like(gt, dtype=torch.bool)
    inside[..., 8:-8, 8:-8] = True
    threshold = torch.quantile(local_std[inside], FLAT_SHARE)
    return inside & (local_std <= threshold)


def flat_rms(image: torch.Tensor, mask: torch.Tensor) -> float:
    """RMS of the fine band of ``image`` over ``mask``, grey levels."""
    return fine_band(image)[mask].pow(2).mean().sqrt().item()


def measure_workdir(workdir: Path) -> list[dict]:
    """One row per held-out image and SR folder (``before``, ``seed0_control``, ...): its flat-region RMS, the
    GT's, and the excess."""
    if not (workdir / "results" / "sr").is_dir() or not (workdir / "heldout_hr").is_dir():
        raise FileNotFoundError(
            f"workdirs: {workdir} has no heldout_hr/ and results/sr/; give a folder the main job (or "
            "bench/referee_loss.py) finished writing, its --workdir"
        )
    rows = []
    for gt_path in sorted((workdir / "heldout_hr").glob("*.png")):
        gt = luma(gt_path)
        mask = flat_mask(gt)
        gt_rms = flat_rms(gt, mask)
        for folder in sorted(p for p in (workdir / "results" / "sr").iterdir() if p.is_dir()):
            sr_rms = flat_rms(luma(folder / gt_path.name), mask)
            rows.append(
                {"image": gt_path.stem, "run": folder.name, "sr": sr_rms, "gt": gt_rms, "excess": sr_rms - gt_rms}
            )
    return rows


def arm_difference(rows: list[dict], other_rows: list[dict], arm: str, other_arm: str) -> list[float]:
    """Per seed, the mean over the held-out images of the flat-region RMS of ``arm`` in ``rows`` minus that of
    ``other_arm`` in ``other_rows`` (grey levels; rows of ``measure_workdir``, the same seeds and images)."""
    rms = {(row["image"], row["run"]): row["sr"] for row in rows}
    other = {(row["image"], row["run"]): row["sr"] for row in other_rows}
    images = sorted({row["image"] for row in rows})
    seeds = sorted({row["run"].split("_")[0] for row in rows if row["run"].endswith(f"_{arm}")})
    return [
        statistics.mean(rms[(image, f"{seed}_{arm}")] - other[(image, f"{seed}_{other_arm}")] for image in images)
        for seed in seeds
    ]


def added_over_control(rows: list[dict]) -> list[float]:
    """Per seed, the RQI arm's flat-region RMS minus the control arm's, the mean over the held-out images
    (positive: the arm adds fine texture where the GT is flat that the control arm does not)."""
    return arm_difference(rows, rows, "rqi", "control")


def rqi_arm_difference(
    name: str, baseline: str, baseline_arm: str = "rqi", path: Path = RESULTS / "flat_regions.json"
) -> list[float]:
    """Per seed, the RQI arm's flat-region RMS in work folder ``name`` minus that of ``baseline_arm`` in
    ``baseline`` (two runs of the same seeds whose RQI arms differ in one term, or one run's control arm), the mean
    over the held-out images."""
    measured = json.loads(path.read_text())["workdirs"]
    return arm_difference(measured[name], measured[baseline], "rqi", baseline_arm)


def markdown_cells(path: Path = RESULTS / "flat_regions.json") -> dict[str, str]:
    """{work folder's name: the range over seeds of ``added_over_control``, 2 decimals}."""
    from frontier import range_cell

    measured = json.loads(path.read_text())["workdirs"]
    return {name: range_cell(added_over_control(rows), 2) for name, rows in measured.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdirs", nargs="*", type=Path, help="main-job work folders (--workdir of the main job)")
    parser.add_argument("--json", type=Path, help="add the rows to this file (other work folders' rows are kept)")
    parser.add_argument("--table", action="store_true", help="print the docs cells from the recorded JSON")
    args = parser.parse_args(argv)
    if args.table:
        for name, cell in markdown_cells().items():
            print(f"{name}: {cell}")
        return 0
    if not args.workdirs:
        parser.error("give at least one main-job work folder, or --table")
    measured = {workdir.name: measure_workdir(workdir) for workdir in args.workdirs}
    for name, rows in measured.items():
        added = ", ".join(f"{value:+.3f}" for value in added_over_control(rows))
        print(f"{name}: fine-band RMS where the GT is flat, the RQI arm minus the control arm, per seed: {added}")
    if args.json:
        write_rows(args.json, measured)
    return 0


def write_rows(path: Path, measured: dict[str, list[dict]]) -> None:
    """Add ``measured`` ({work folder's name: rows}) to the JSON at ``path``, replacing a folder of the same name
    and keeping the others; written whole or not at all."""
    settings = {"flat_share": FLAT_SHARE, "band_window": BAND_WINDOW, "flatness_window": FLATNESS_WINDOW}
    recorded = json.loads(path.read_text()) if path.exists() else {"settings": settings, "workdirs": {}}
    if recorded["settings"] != settings:
        raise ValueError(
            f"--json: {path} was measured with {recorded['settings']}, this script measures with {settings}; "
            "give a new file"
        )
    with atomic_write(path, "w") as file:
        file.write(
            json.dumps({"settings": settings, "workdirs": {**recorded["workdirs"], **measured}}, indent=1) + "\n"
        )


if __name__ == "__main__":
    raise SystemExit(main())
