"""How far can any extra loss move the referees in the main job's budget? The main job with a classical
full-reference metric in the RQI arm's place.

    python bench/referee_loss.py --metric fsim --weight 1 --workdir /tmp/fsim_w1   # ~4 min on a 2-core CPU
    python bench/referee_loss.py --metric haarpsi --weight 1 --seeds 0              # any main-job argument
    python bench/referee_loss.py --gan-weight 0.02 --workdir /tmp/gan_0.02          # the GAN term doubled instead
    python bench/referee_loss.py --l1-plain-gt --workdir /tmp/plain_gt               # L1 against the unsharpened GT
    python bench/referee_loss.py --rqi-instead-of-usm --rqi-weight 0.002             # the same, with the RQI term
    python bench/referee_loss.py --metric vsi --weight 1 --l1-target plain   # in the main job's default recipe
    python bench/referee_loss.py --table   # docs/judge-hacking.md's tables, from bench/results/cpu/referee_loss_*.csv

The main job's targets ask the RQI arm to beat the control arm (L1 + GAN) by >= 0.002 on HaarPSI and on VSI
in every seed, within its 60 iterations. Whether that is reachable by *any* loss that sees the GT is a question
about the budget, not about the judge: this runs ``examples/finetune_realesrgan.py`` unchanged (same data,
warm-up, seeds, iterations and evaluation) with the RQI arm's extra term replaced by
``weight * (1 - metric(sr, gt))`` for a piq metric (sr clamped to [0, 1]; the judge still scores every arm).
Both arms keep Real-ESRGAN's recipe, whose L1 term compares with the unsharp-masked GT (``--l1-target
sharpened`` is passed unless the command line names another target): the recipe these runs were measured in.

- ``fsim``, ``srsim``, ``mdsi``: metrics no referee is (phase congruency, spectral residual saliency, gradient
  and chroma deviation): whether a loss that compares local structure with the GT moves HaarPSI and VSI;
- ``haarpsi``, ``vsi``: the referees themselves: what optimising a referee does to it in this budget;
- ``l1``: a second L1 term, ``weight * |sr - gt|`` against the GT itself (the control arm's L1 compares with the
  sharpened GT);
- a sum such as ``haarpsi+vsi``: each term at ``weight``: both referees of the targets at once;
- ``--gan-weight W``: no extra term, the GAN term's weight W instead of the control arm's 0.01;
- ``--l1-plain-gt``: no extra term, the L1 term against the GT itself instead of the sharpened GT that
  Real-ESRGAN's recipe (and the control arm) uses (``l1_gt_usm: false``);
- ``--rqi-instead-of-usm``: the same with the RQI term kept (``--rqi-weight``, ``--rqi``): RQI in the place of
  the sharpened target, the recipe's own way of making the output look better than its GT.

Its ``summary.md`` / ``summary.csv`` read "rqi" for that arm; the measured ones are kept as
``bench/results/cpu/referee_loss_<metric>_w<weight>.{csv,md}`` (``+`` written ``_``),
``referee_loss_gan_<weight>.{csv,md}``, ``referee_loss_l1_plain_gt.{csv,md}`` and
``referee_loss_rqi_plain_gt_<lambda>.{csv,md}``; in the main job's default recipe (``--l1-target plain``),
``referee_loss_plain_<metric>_w<weight>.{csv,md}``. The BasicSR runs are child
processes of this script (``--basicsr``), which registers ``RefereeLoss`` in BasicSR's loss registry first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

import torch

from common import example, main_job

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "cpu"

METRICS = ("fsim", "srsim", "mdsi", "haarpsi", "vsi", "l1")
# What the docs table shows, in this order: (the RQI arm's extra loss, its weight, the run's name). A run's
# summary.csv is RESULTS / referee_loss_<name>.csv (the main job's own with the sharpened target:
# main_job_l1_sharpened.csv) and its work folder was
# called <name> when bench/flat_regions.py measured it (RESULTS / flat_regions.json).
MEASURED = (
    ("0.002 x RQI (`tiny-kadid-synth`, in colour, the main job's lambda then)", None, "main_job_l1_sharpened"),
    ("a second L1 term", 1.0, "l1_w1"),
    ("1 - FSIM (no referee)", 1.0, "fsim_w1"),
    ("1 - HaarPSI (a referee itself)", 1.0, "haarpsi_w1"),
    ("1 - VSI (a referee itself)", 1.0, "vsi_w1"),
    ("(1 - HaarPSI) + (1 - VSI)", 1.0, "haarpsi_vsi_w1"),
    ("(1 - HaarPSI) + (1 - VSI)", 0.3, "haarpsi_vsi_w0.3"),
    ("no extra term, the GAN term's weight 0.02 instead of 0.01", None, "gan_0.02"),
    ("no extra term, L1 against the GT instead of the sharpened GT", None, "l1_plain_gt"),
)
# The same yardsticks in the main job's default recipe (both arms' L1 against the GT itself, `--l1-target plain`).
MEASURED_PLAIN_GT = (
    ("0.002 x RQI (`tiny-kadid-synth`, in colour, the main job's default then)", None, "main_job"),
    ("1 - VSI (a referee itself)", 1.0, "plain_vsi_w1"),
    ("(1 - HaarPSI) + (1 - VSI)", 0.3, "plain_haarpsi_vsi_w0.3"),
)
COLUMNS = (
    "the RQI arm's extra loss",
    "weight",
    "HaarPSI",
    "VSI",
    "MS-SSIM",
    "PSNR (dB)",
    "GMSD (lower is better)",
    "the judge's f",
    "fine texture where the GT is flat (grey levels)",
    "targets met in every seed",
)
# column -> (summary.csv column, decimals)
DIFFERENCES = {
    "HaarPSI": ("haarpsi", 4),
    "VSI": ("vsi", 4),
    "MS-SSIM": ("ms_ssim", 4),
    "PSNR (dB)": ("psnr", 2),
    "GMSD (lower is better)": ("gmsd", 4),
    "the judge's f": ("rqi", 3),
}


def metric_loss(metric: str) -> torch.nn.Module:
    """A module (sr, gt) -> 0-dim loss, lower is better, for one name of METRICS; inputs (N, 3, H, W) in [0, 1]."""
    import piq

    losses = {
        "fsim": lambda: piq.FSIMLoss(data_range=1.0),
        "srsim": lambda: piq.SRSIMLoss(data_range=1.0),
        "mdsi": lambda: piq.MDSILoss(data_range=1.0),
        "haarpsi": lambda: piq.HaarPSILoss(data_range=1.0),
        "vsi": lambda: piq.VSILoss(data_range=1.0),
        "l1": torch.nn.L1Loss,
    }
    if metric not in losses:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    return losses[metric]()


class RefereeLoss(torch.nn.Module):
    """BasicSR loss ``{type: RefereeLoss, metric: fsim, loss_weight: 1.0}``: ``loss_weight * (1 - metric)`` of the
    generator's output clamped to [0, 1] against the GT (for ``l1``: ``loss_weight * |sr - gt|``). Gradients that
    a metric leaves undefined (VSI's square root at grey pixels) count as 0."""

    def __init__(self, metric: str, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.metric, self.loss_weight = metric, float(loss_weight)
        self.losses = torch.nn.ModuleList(metric_loss(name) for name in metric.split("+"))

    def forward(self, sr: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        clamped = sr.clamp(0, 1)
        if clamped.requires_grad:
            clamped.register_hook(torch.nan_to_num)
        return self.loss_weight * sum(loss(clamped.float(), gt.float()) for loss in self.losses)


def summary_csv(name: str) -> Path:
    return RESULTS / (f"{name}.csv" if name.startswith("main_job") else f"referee_loss_{name}.csv")


def row_cells(label: str, weight: float | None, name: str, flat: dict[str, str]) -> list[str]:
    """One row of the table: the RQI arm minus the control arm per seed (the range over the seeds), the fine
    texture it adds where the GT is flat (``flat``: bench/flat_regions.py's cells) and the targets every seed
    met."""
    from frontier import range_cell

    finetune_outputs = example("finetune_outputs")
    verdicts = finetune_outputs.verdicts(finetune_outputs.read_rows(summary_csv(name)))
    differences = [
        range_cell([verdict["delta"][column] for verdict in verdicts.values()], decimals)
        for column, decimals in DIFFERENCES.values()
    ]
    met = [target for target in finetune_outputs.TARGETS if all(v["met"][target] for v in verdicts.values())]
    if not any(verdict["above_gt"] for verdict in verdicts.values()):
        met.append("none above GT")
    return [label, "" if weight is None else f"{weight:g}", *differences, flat[name], ", ".join(met) or "none"]


def markdown_table(measured: tuple = MEASURED) -> str:
    """docs/judge-hacking.md's table of what each extra loss did in the main job (RQI arm minus control arm)."""
    from flat_regions import markdown_cells

    flat = markdown_cells()
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    lines += ["| " + " | ".join(row_cells(*row, flat)) + " |" for row in measured]
    return "\n".join(lines)


# The RQI term in the recipe without the sharpened target: (lambda and options, the run with it, the run without
# it, that run's arm). The main job's own runs (the default since the switch, other lambdas, the reward cap
# --rqi-max-score) compare with their control arm; lambda 0.005 was measured with bench/referee_loss.py, whose RQI
# arms with and without the term are the pair.
RQI_ON_PLAIN_GT = (
    ("0.002", "main_job", "main_job", "control"),
    ("0.003", "main_job_lambda0.003", "main_job_lambda0.003", "control"),
    ("0.004", "main_job_lambda0.004", "main_job_lambda0.004", "control"),
    ("0.005", "rqi_plain_gt_0.005", "l1_plain_gt", "rqi"),
    ("0.002, the reward capped at f = 0", "main_job_cap0", "main_job_cap0", "control"),
    ("0.004, the reward capped at f = 0", "main_job_lambda0.004_cap0", "main_job_lambda0.004_cap0", "control"),
    ("0.005, the reward capped at f = 0", "main_job_lambda0.005_cap0", "main_job_lambda0.005_cap0", "control"),
    ("0.002, the judge seeing grey images", "main_job_grey_lambda0.002", "main_job_grey_lambda0.002", "control"),
    ("0.004, in grey (the main job's default)", "main_job_grey", "main_job_grey", "control"),
    ("0.008, in grey", "main_job_grey_lambda0.008", "main_job_grey_lambda0.008", "control"),
    ("0.016, in grey", "main_job_grey_lambda0.016", "main_job_grey_lambda0.016", "control"),
)


def rqi_term_cells(label: str, name: str, baseline: str, baseline_arm: str) -> list[str]:
    """One row of the second table: per seed, the RQI arm of run ``name`` minus ``baseline_arm`` of ``baseline``
    (the same recipe without the RQI term), the range over seeds; the targets every seed met on those
    differences."""
    from flat_regions import rqi_arm_difference
    from frontier import range_cell

    finetune_outputs = example("finetune_outputs")
    rows, baseline_rows = (finetune_outputs.read_rows(summary_csv(n)) for n in (name, baseline))
    with_rqi, without = finetune_outputs.seed_means(rows), finetune_outputs.seed_means(baseline_rows)
    seeds = sorted(seed for seed, arm in with_rqi if arm == "rqi")
    metrics = finetune_outputs.METRICS
    deltas = [{m: with_rqi[(s, "rqi")][m] - without[(s, baseline_arm)][m] for m in metrics} for s in seeds]
    cells = [range_cell([delta[column] for delta in deltas], decimals) for column, decimals in DIFFERENCES.values()]
    met = [m for m, bound in finetune_outputs.TARGETS.items() if all(delta[m] >= bound for delta in deltas)]
    above = sorted({row["image"] for row in rows if row["arm"] == "rqi" and row["rqi"] > 0})
    met += [] if above else ["none above GT"]
    flat = range_cell(rqi_arm_difference(name, baseline, baseline_arm), 2)
    return [label, *cells, flat, ", ".join(met) or "none"]


def markdown_rqi_term_table() -> str:
    """docs/judge-hacking.md's table of the RQI term added to the recipe whose L1 compares with the plain GT."""
    columns = ("lambda", *COLUMNS[2:])
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(rqi_term_cells(*row)) + " |" for row in RQI_ON_PLAIN_GT]
    return "\n".join(lines)


def main_job_options(finetune_realesrgan: ModuleType, argv: list[str]) -> argparse.Namespace:
    """The main job's ``--rqi`` and ``--rqi-weight`` among ``argv`` (its defaults where absent)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rqi", default="tiny-kadid-synth")
    parser.add_argument("--rqi-weight", type=float, default=finetune_realesrgan.DEFAULT_WEIGHT)
    return parser.parse_known_args(argv)[0]


def run_basicsr_child(argv: list[str]) -> None:
    """The child process: BasicSR's pipeline (``rqi_loss.basicsr.train``) with RefereeLoss registered."""
    import rqi_loss.basicsr  # noqa: F401  (the torchvision alias and rqi_loss's classes first)

    # isort: split
    from basicsr.utils.registry import LOSS_REGISTRY

    from rqi_loss.basicsr.registry import register
    from rqi_loss.basicsr.train import main

    register(LOSS_REGISTRY, RefereeLoss)
    sys.argv = [sys.argv[0], *argv]  # BasicSR parses -opt and its flags from sys.argv
    main()


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--basicsr"]:
        run_basicsr_child(argv[1:])
        return 0
    if argv == ["--table"]:
        print(markdown_table(), markdown_rqi_term_table(), markdown_table(MEASURED_PLAIN_GT), sep="\n\n")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    arm = parser.add_mutually_exclusive_group(required=True)
    choices = f"{', '.join(METRICS)}, or a sum such as haarpsi+vsi"
    arm.add_argument("--metric", help=f"the RQI arm's extra loss, 1 - metric: {choices}")
    arm.add_argument("--gan-weight", type=float, help="no extra loss: the RQI arm's GAN weight (control: 0.01)")
    arm.add_argument("--l1-plain-gt", action="store_true", help="no extra loss: the RQI arm's L1 against the plain GT")
    arm.add_argument(
        "--rqi-instead-of-usm", action="store_true", help="the RQI arm's L1 against the plain GT, its RQI term kept"
    )
    parser.add_argument("--weight", type=float, help="the metric's weight (the main job's L1 weight is 1)")
    if {"-h", "--help"} & set(argv):
        parser.print_help()
        print("\nEvery other argument goes to examples/finetune_realesrgan.py (--workdir, --seeds, --iters, ...).")
        return 0
    args, main_job_argv = parser.parse_known_args(argv)
    finetune_realesrgan = main_job()

    if args.gan_weight is not None:
        changes = {"train": {"rqi_opt": None, "gan_opt": {"loss_weight": args.gan_weight}}}
        label = f"GAN weight {args.gan_weight:g} instead of RQI"
    elif args.l1_plain_gt:
        changes = {"train": {"rqi_opt": None}, "l1_gt_usm": False}
        label = "L1 against the plain GT instead of RQI"
    elif args.rqi_instead_of_usm:
        changes = {"l1_gt_usm": False}
        rqi = main_job_options(finetune_realesrgan, main_job_argv)
        label = f"L1 against the plain GT, with lambda {rqi.rqi_weight:g} x RQI ({rqi.rqi})"
    else:
        if args.weight is None:
            parser.error("--metric needs --weight (e.g. --weight 1)")
        try:
            RefereeLoss(args.metric)  # an unknown metric fails here, not in the first child process
        except ValueError as error:
            parser.error(f"--metric: {error}")
        changes = {"train": {"rqi_opt": {"type": "RefereeLoss", "metric": args.metric, "loss_weight": args.weight}}}
        terms = " + ".join("|sr - gt|" if name == "l1" else f"(1 - {name})" for name in args.metric.split("+"))
        label = f"{args.weight:g} x [{terms}] instead of RQI"
    if not any(arg.startswith("--l1-target") for arg in main_job_argv):
        main_job_argv = ["--l1-target", "sharpened", *main_job_argv]  # the recipe every yardstick was measured in
    return finetune_realesrgan.main(
        main_job_argv,
        rqi_arm_options=changes,
        train_command=(sys.executable, str(Path(__file__).resolve()), "--basicsr"),
        rqi_arm_label=label,
    )


if __name__ == "__main__":
    raise SystemExit(main())
