"""The README's main-job figures are the recorded run's (bench/results/cpu/main_job_grey.csv), cell for cell."""

from __future__ import annotations

from pathlib import Path

import finetune_outputs  # examples/ is on the tests' import path
from finetune_outputs import mean_cell, range_cell

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "bench" / "results" / "cpu" / "main_job_grey.csv"
# README column -> (summary.csv column, decimals)
COLUMNS = {
    "RQI": ("rqi", 3),
    "PSNR": ("psnr", 2),
    "HaarPSI": ("haarpsi", 4),
    "MS-SSIM": ("ms_ssim", 4),
    "VSI": ("vsi", 4),
}


def test_the_readme_table_is_the_recorded_main_job():
    means = finetune_outputs.seed_means(finetune_outputs.read_rows(RECORDED))
    readme = (ROOT / "README.md").read_text().splitlines()
    for arm, label in (
        ("before", "before"),
        ("control", "control (L1 + GAN)"),
        ("rqi", "RQI (+ 0.004 x RQI, in grey)"),
    ):
        per_seed = [scores for (_, name), scores in means.items() if name == arm]
        cells = [mean_cell([scores[column] for scores in per_seed], d) for column, d in COLUMNS.values()]
        assert f"| {label} | " + " | ".join(cells) + " |" in readme


def test_the_readme_states_the_per_seed_differences_and_the_fine_tunings_own_scale():
    rows = finetune_outputs.read_rows(RECORDED)
    readme = " ".join((ROOT / "README.md").read_text().split())
    deltas = [verdict["delta"] for verdict in finetune_outputs.verdicts(rows).values()]
    assert (
        f"HaarPSI {range_cell([d['haarpsi'] for d in deltas], 4)}, VSI {range_cell([d['vsi'] for d in deltas], 4)}"
        in readme
    )
    means = finetune_outputs.seed_means(rows)
    before = means[(-1, "before")]
    moved = {
        m: [scores[m] - before[m] for (_, arm), scores in means.items() if arm == "control"] for m in ("vsi", "haarpsi")
    }
    assert (
        f'VSI from "before" by {range_cell(moved["vsi"], 4)} (HaarPSI by {range_cell(moved["haarpsi"], 4)})' in readme
    )
    assert max(moved["vsi"]) < 0.002  # the VSI target asks more of the RQI term than the whole fine-tuning gives
