"""The judge frontier: clean accuracy, attack gain and what each judge does as the main job's loss, side by side.

    python bench/frontier.py [--plot bench/results/cpu/frontier.png]
    python bench/frontier.py --recipe plain

Reads the measured files of every judge tried as the main job's loss (no measuring here): held-out accuracy
(``bench/judge_accuracy.py``), attack gain (``bench/gaming.py``, plain loss) and the main job's
``summary.csv`` over seeds (``examples/finetune_realesrgan.py --rqi FOLDER --rqi-weight L``). Prints the
markdown table of ``docs/judge-hacking.md`` (a test checks that the page shows these cells) and, with
``--plot``, draws accuracy against attack gain and attack gain against the HaarPSI change of the RQI arm.
``--recipe sharpened`` (default) is Real-ESRGAN's recipe, both arms' L1 against the unsharp-masked GT, where
most judges were measured; ``--recipe plain`` the main job's default recipe (L1 against the GT itself).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from common import example

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records" / "tiny-kadid-synth"
RESULTS = ROOT / "bench" / "results" / "cpu"

COLUMNS = (
    "judge (the loss's network)",
    "lambda",
    "KADID-synth: sign accuracy / image SRCC",
    "TID2013-synth: sign accuracy / image SRCC",
    "attack gain, photographs",
    "attack gain, KADID-synth pairs",
    "HaarPSI",
    "VSI",
    "MS-SSIM",
    "PSNR (dB)",
    "images above GT (any seed)",
)
# referee column -> (summary.csv column, decimals)
REFEREES = {"HaarPSI": ("haarpsi", 4), "VSI": ("vsi", 4), "MS-SSIM": ("ms_ssim", 4), "PSNR (dB)": ("psnr", 2)}


@dataclass(frozen=True)
class Judge:
    """One judge tried as the main job's loss, at one lambda, and its measured files."""

    label: str
    short: str  # plot label
    rqi_weight: float
    accuracy: Path
    gaming: Path
    main_job: Path


def _record(run: str) -> dict[str, Path]:
    return {
        "accuracy": RECORDS / f"{run}_accuracy.json",
        "gaming": RECORDS / f"{run}_gaming.json",
        "main_job": RECORDS / f"{run}_mainjob.csv",
    }


SHIPPED = {"accuracy": RESULTS / "judge_accuracy.json", "gaming": RESULTS / "gaming.json"}
JUDGES = (
    Judge(
        "`tiny-kadid-synth` (shipped)",
        "shipped",
        0.005,
        main_job=RESULTS / "main_job_l1_sharpened_lambda0.005.csv",
        **SHIPPED,
    ),
    Judge(
        "`tiny-kadid-synth` (shipped), **the default lambda**",
        "shipped",
        0.002,
        main_job=RESULTS / "main_job_l1_sharpened.csv",
        **SHIPPED,
    ),
    Judge(
        "gradient-norm fine-tune (`gradient_norm_relative`)",
        "gradient norm",
        0.005,
        **_record("gradient_norm_relative"),
    ),
    Judge("KADID-synth + TID2013-synth fine-tune (`kadid_tid2013`)", "+ TID2013", 0.005, **_record("kadid_tid2013")),
    Judge(
        "gain and residual, both sets, from scratch (`relations_kadid_tid2013`)",
        "gain/residual",
        0.002,
        **_record("relations_kadid_tid2013"),
    ),
    Judge("wider and deeper pair, from scratch (`wide_pair`)", "wide", 0.002, **_record("wide_pair")),
    Judge(
        "wide pair + TID2013-synth + gradient norm (`wide_pair_tid2013_gradient_norm`)",
        "wide + TID2013 + gradient norm",
        0.002,
        **_record("wide_pair_tid2013_gradient_norm"),
    ),
    Judge(
        "the same, lambda scaled to its compressed verdicts",
        "wide + TID2013 + gradient norm",
        0.0075,
        **_record("wide_pair_tid2013_gradient_norm")
        | {"main_job": RECORDS / "wide_pair_tid2013_gradient_norm_mainjob_lambda0.0075.csv"},
    ),
    Judge(
        "the shipped pair's first member with gain and residual, from scratch (`single_gain_residual`)",
        "first member + gain/residual",
        0.002,
        **_record("single_gain_residual"),
    ),
    Judge(
        "the shipped pair with gain and residual in both members, from scratch (`pair_gain_residual`)",
        "pair + gain/residual",
        0.002,
        **_record("pair_gain_residual"),
    ),
)
# The same measurements in the main job's default recipe (both arms' L1 against the GT itself).
PLAIN_JUDGES = (
    Judge(
        "`tiny-kadid-synth` (shipped), in colour, the main job's default before judging in grey",
        "shipped",
        0.002,
        main_job=RESULTS / "main_job.csv",
        **SHIPPED,
    ),
    Judge(
        "`tiny-kadid-synth` (shipped), in colour, twice the weight",
        "shipped",
        0.004,
        main_job=RESULTS / "main_job_lambda0.004.csv",
        **SHIPPED,
    ),
    Judge(
        "`tiny-kadid-synth` (shipped), judging in grey, the main job's default",
        "shipped, grey",
        0.004,
        main_job=RESULTS / "main_job_grey.csv",
        **SHIPPED,
    ),
    Judge(
        "the shipped pair's first member with gain and residual (`single_gain_residual`)",
        "first member + gain/residual",
        0.002,
        **_record("single_gain_residual") | {"main_job": RECORDS / "single_gain_residual_mainjob_l1_plain.csv"},
    ),
    Judge(
        "the shipped pair with gain and residual in both members (`pair_gain_residual`)",
        "pair + gain/residual",
        0.002,
        **_record("pair_gain_residual") | {"main_job": RECORDS / "pair_gain_residual_mainjob_l1_plain.csv"},
    ),
    Judge(
        "the same, twice the weight",
        "pair + gain/residual",
        0.004,
        **_record("pair_gain_residual") | {"main_job": RECORDS / "pair_gain_residual_mainjob_l1_plain_lambda0.004.csv"},
    ),
    Judge(
        "`tiny-kadid-synth` (shipped), judging in grey, twice the default weight",
        "shipped, grey",
        0.008,
        main_job=RESULTS / "main_job_grey_lambda0.008.csv",
        **SHIPPED,
    ),
    Judge(
        "`pair_gain_residual`, judging in grey",
        "pair + gain/residual, grey",
        0.004,
        **_record("pair_gain_residual") | {"main_job": RECORDS / "pair_gain_residual_mainjob_grey.csv"},
    ),
    Judge(
        "`pair_gain_residual`, judging in grey, twice the weight",
        "pair + gain/residual, grey",
        0.008,
        **_record("pair_gain_residual") | {"main_job": RECORDS / "pair_gain_residual_mainjob_grey_lambda0.008.csv"},
    ),
)
RECIPES = {"sharpened": JUDGES, "plain": PLAIN_JUDGES}
# For scale in the plot: the referees themselves as the RQI arm's loss in each recipe (bench/referee_loss.py).
REFEREE_LOSSES = {
    "sharpened": {
        "1 - HaarPSI, 1": RESULTS / "referee_loss_haarpsi_w1.csv",
        "1 - VSI, 1": RESULTS / "referee_loss_vsi_w1.csv",
        "(1 - HaarPSI) + (1 - VSI), 0.3": RESULTS / "referee_loss_haarpsi_vsi_w0.3.csv",
    },
    "plain": {
        "1 - VSI, 1": RESULTS / "referee_loss_plain_vsi_w1.csv",
        "(1 - HaarPSI) + (1 - VSI), 0.3": RESULTS / "referee_loss_plain_haarpsi_vsi_w0.3.csv",
    },
}


def read_verdicts(summary_csv: Path) -> dict[int, dict]:
    """The main job's per-seed verdicts (``finetune_outputs.verdicts``) of a recorded ``summary.csv``."""
    outputs = example("finetune_outputs")
    return outputs.verdicts(outputs.read_rows(summary_csv))


def seed_differences(verdicts: dict[int, dict], column: str) -> list[float]:
    """Per seed, the RQI arm's mean of ``column`` over the held-out images minus the control arm's."""
    return [verdict["delta"][column] for verdict in verdicts.values()]


@dataclass(frozen=True)
class Measured:
    """What one judge's files say: held-out accuracy per set, the plain loss's attack gain at 2/255 and 4/255
    per target ('photos', 'kadid_pairs'), and the main job's verdicts per seed (RQI arm minus control arm)."""

    accuracy: dict[str, dict[str, float]]
    gains: dict[str, tuple[float, float]]
    verdicts: dict[int, dict]

    @classmethod
    def read(cls, judge: Judge) -> "Measured":
        attacks = json.loads(judge.gaming.read_text())["configs"]["plain"]
        gains = {}
        for targets in ("photos", "kadid_pairs"):
            gain = {row["eps_255"]: row["gain"] for row in attacks[targets]}
            gains[targets] = (gain[2.0], gain[4.0])
        return cls(
            accuracy=json.loads(judge.accuracy.read_text())["results"],
            gains=gains,
            verdicts=read_verdicts(judge.main_job),
        )

    def differences(self, column: str) -> list[float]:
        """Per seed, the RQI arm's mean of ``column`` over the held-out images minus the control arm's."""
        return seed_differences(self.verdicts, column)

    def images_above_gt(self) -> str:
        """The held-out images the RQI arm's outputs were judged better than their GT in, in any seed."""
        names = sorted({name for verdict in self.verdicts.values() for name in verdict["above_gt"]})
        return ", ".join(names) or "none"


def accuracy_cell(measured: Measured, synthetic_set: str) -> str:
    """'sign accuracy / image SRCC' of one set, 3 decimals."""
    result = measured.accuracy[synthetic_set]
    return f"{result['pair_sign_accuracy']:.3f} / {result['image_srcc']:.3f}"


def range_cell(values: list[float], decimals: int) -> str:
    """'-0.0012 to -0.0005', or one signed number where the range rounds to one value (the main job's own
    formatting, ``finetune_outputs.range_cell``)."""
    return example("finetune_outputs").range_cell(values, decimals)


def row_cells(judge: Judge) -> list[str]:
    """The judge's row of the frontier table."""
    measured = Measured.read(judge)
    return [
        judge.label,
        f"{judge.rqi_weight:g}",
        accuracy_cell(measured, "kadid"),
        accuracy_cell(measured, "tid2013"),
        *(f"{g2:+.2f} / {g4:+.2f}" for g2, g4 in measured.gains.values()),
        *(range_cell(measured.differences(column), d) for column, d in REFEREES.values()),
        measured.images_above_gt(),
    ]


def markdown_table(judges: tuple[Judge, ...] = JUDGES) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    lines += ["| " + " | ".join(row_cells(judge)) + " |" for judge in judges]
    return "\n".join(lines)


def _mean_and_range(values: list[float]) -> tuple[float, list[list[float]]]:
    """The mean and matplotlib's asymmetric error bar reaching the smallest and the largest value."""
    mean = statistics.mean(values)
    return mean, [[mean - min(values)], [max(values) - mean]]


def _draw_referee_losses(axis, references: dict[str, Path]) -> None:
    """The referees themselves as the loss, black, labelled beside their point (HaarPSI against VSI)."""
    for k, (label, summary_csv) in enumerate(references.items()):
        verdicts = read_verdicts(summary_csv)
        vsi, vsi_bar = _mean_and_range(seed_differences(verdicts, "vsi"))
        haarpsi, haarpsi_bar = _mean_and_range(seed_differences(verdicts, "haarpsi"))
        axis.errorbar(vsi, haarpsi, xerr=vsi_bar, yerr=haarpsi_bar, fmt="x", color="black", capsize=2)
        axis.annotate(label, (vsi, haarpsi), textcoords="offset points", xytext=(5, 5 - 12 * k), fontsize=7)


def _decorate(left, middle, right) -> None:
    """Axis labels, titles and the targets (dashed lines, the right panel's target region shaded)."""
    left.axhline(0.85, color="grey", ls="--", lw=1)
    left.axvline(0.08, color="grey", ls="--", lw=1)
    left.set(xlabel="attack gain at 2/255, photographs (lower is more robust)", ylabel="KADID-synth sign accuracy")
    left.set_title("accuracy against robustness (targets: dashed)")
    middle.axhline(0.002, color="grey", ls="--", lw=1)
    middle.axhline(0.0, color="black", lw=0.8)
    middle.set(xlabel="attack gain at 2/255, photographs", ylabel="HaarPSI, RQI arm minus control arm")
    middle.set_title("main job, seeds 0-2 (target: dashed)")
    right.set_yscale("symlog", linthresh=0.005, linscale=3)
    right.axhline(0.0, color="black", lw=0.8)
    right.axvline(0.0, color="black", lw=0.8)
    x_high, y_high = max(right.get_xlim()[1], 0.0025), max(right.get_ylim()[1], 0.004)
    right.fill_between([0.002, x_high], 0.002, y_high, color="tab:green", alpha=0.15, lw=0)
    right.set(xlim=(None, x_high), ylim=(None, y_high))
    ticks = [t for t in (-0.02, -0.01, -0.005, -0.002, 0.0, 0.002, 0.005, 0.01) if right.get_ylim()[0] <= t <= y_high]
    right.set_yticks(ticks, [f"{t:+g}" if t else "0" for t in ticks])
    right.set(xlabel="VSI, RQI arm minus control arm", ylabel="HaarPSI, RQI arm minus control arm (symlog)")
    right.set_title("main job: both referees (target: green; black: referees as the loss)")


def plot(path: Path, judges: tuple[Judge, ...] = JUDGES, references: dict[str, Path] | None = None) -> None:
    """Three panels: KADID-synth sign accuracy against the attack gain at 2/255 (photographs), that gain against
    the RQI arm's HaarPSI change, and its HaarPSI change against its VSI change (means over seeds, bars: the
    seeds' range), with ``references`` (label -> summary.csv: the referees as the loss) for scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(18, 5.8))
    for k, judge in enumerate(judges):
        colour = f"C{k}"
        measured = Measured.read(judge)
        gain = measured.gains["photos"][0]
        haarpsi, haarpsi_bar = _mean_and_range(measured.differences("haarpsi"))
        vsi, vsi_bar = _mean_and_range(measured.differences("vsi"))
        label = f"{judge.short}, lambda {judge.rqi_weight:g}"
        marker = "os^v"[k % 4]
        left.scatter(
            gain, measured.accuracy["kadid"]["pair_sign_accuracy"], color=colour, s=40, label=label, marker=marker
        )
        middle.errorbar(gain, haarpsi, yerr=haarpsi_bar, fmt="o", color=colour, capsize=3)
        right.errorbar(vsi, haarpsi, xerr=vsi_bar, yerr=haarpsi_bar, fmt=marker, color=colour, capsize=3)
    _draw_referee_losses(right, references or {})
    _decorate(left, middle, right)
    fig.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))  # room for the legend below the panels
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plot", type=Path, help="write the two-panel PNG here")
    parser.add_argument(
        "--recipe", choices=sorted(RECIPES), default="sharpened", help="the main job's recipe whose runs to read"
    )
    args = parser.parse_args(argv)
    judges = RECIPES[args.recipe]
    print(markdown_table(judges))
    if args.plot:
        plot(args.plot, judges, REFEREE_LOSSES[args.recipe])


if __name__ == "__main__":
    main()
