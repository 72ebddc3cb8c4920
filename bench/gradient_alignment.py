"""Does the judge push where the referees agree? The first-order alignment of the loss's gradient with theirs.

    python bench/gradient_alignment.py --json bench/results/cpu/gradient_alignment.json   # ~20 s on a CPU
    python bench/gradient_alignment.py --model path/to/network_folder                       # a candidate judge
    python bench/gradient_alignment.py --grey --json bench/results/cpu/gradient_alignment_grey.json  # in grey
    python bench/gradient_alignment.py --table   # docs/judge-hacking.md's table, from the measured files below

Used as a loss, a judge moves the SR output along g = d f(sr, gt) / d sr. Whether that move makes the image
better by measures the judge never trained on is, to first order, whether g points where their gradients
point. For bench/gaming.py's held-out targets (x4 bicubic SRs of five photographs, and KADID-synth blur, JPEG
and noise pairs) this prints, per referee (PSNR, whose gradient is the direction gt - sr, and piq's HaarPSI,
MS-SSIM, VSI and GMSD, negated so that higher is better):

- ``cosine``: cos(g, d referee / d sr), the mean over the images (0: the judge's push is invisible to the
  referee; 1: it is the referee's own steepest ascent);
- ``per_0.1_f``: the referee's first-order change when sr moves along g far enough to raise f by 0.1;
- ``cosine_pixel_loss``: the yardstick, cos(gt - sr, d referee / d sr): how well a pixel loss's push (L2's
  steepest descent) agrees with the referee.

And ``reference_blindness``: cos(g, g') where g' is the judge's push with the GT mirrored left to right (the
same content and statistics, its detail in other places); 1 means the push ignores where the GT's detail is,
so it cannot move the SR towards it. The pixel loss's is cos(gt - sr, mirrored gt - sr).

f is scored with grid crops (every pixel of the image judged once), as the main job's evaluation does. A judge
whose cosines are all near 0 can be gamed without the referees noticing and cannot make them rise as a loss;
seconds instead of the main job's minutes, so candidates can be screened before training a generator on them.
VSI's gradient is undefined at pixels whose chroma is 0 (a square root at 0: every grey pixel of a colour image,
a part of each grey one); those pixels count as 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from rqi_loss import create_network
from rqi_loss.functional import grey_in_rgb, rqi_score

from common import hardware, report
from gaming import KADID_PAIRS, PHOTOS, referee_values, targets

logger = logging.getLogger("gradient_alignment")
REFEREES = ("psnr", "haarpsi", "ms_ssim", "vsi", "neg_gmsd")
ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "records" / "tiny-kadid-synth"
# judge label -> (this script's JSON for it, its training history: the validation sign accuracy)
MEASURED = {
    "`tiny-kadid-synth` (shipped)": (
        ROOT / "bench" / "results" / "cpu" / "gradient_alignment.json",
        RECORDS / "pair_history.json",
    ),
    "`tiny-kadid-synth` (shipped), judging in grey (`--grey`, `RQILoss(grey=True)`)": (
        ROOT / "bench" / "results" / "cpu" / "gradient_alignment_grey.json",
        RECORDS / "pair_history.json",
    ),
    "+ gradient alignment 0.02, fine-tune (`gradient_alignment`)": (
        RECORDS / "gradient_alignment_gradients.json",
        RECORDS / "gradient_alignment_history.json",
    ),
    "+ gradient alignment 0.1, fine-tune (`gradient_alignment_w0_1`)": (
        RECORDS / "gradient_alignment_w0_1_gradients.json",
        RECORDS / "gradient_alignment_w0_1_history.json",
    ),
    "gain and residual, 4 epochs from scratch (`relations_e4`)": (
        RECORDS / "relations_e4_gradients.json",
        RECORDS / "relations_e4_history.json",
    ),
    "the same + gradient alignment 0.2 (`relations_gradient_alignment_w0_2`)": (
        RECORDS / "relations_gradient_alignment_w0_2_gradients.json",
        RECORDS / "relations_gradient_alignment_w0_2_history.json",
    ),
    "the shipped pair's first member with gain and residual, 16 epochs (`single_gain_residual`)": (
        RECORDS / "single_gain_residual_gradients.json",
        RECORDS / "single_gain_residual_history.json",
    ),
    "the shipped pair with gain and residual in both members, 16 epochs (`pair_gain_residual`)": (
        RECORDS / "pair_gain_residual_gradients.json",
        RECORDS / "pair_gain_residual_history.json",
    ),
}
TABLE_REFEREES = {"psnr": "PSNR", "haarpsi": "HaarPSI", "ms_ssim": "MS-SSIM", "vsi": "VSI", "neg_gmsd": "-GMSD"}


class GreyJudge(torch.nn.Module):
    """The judge shown both images in grey, as ``RQILoss(grey=True)`` shows them: f(grey(sr), grey(gt))."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network, self.input_size = network, network.input_size

    def forward(self, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        return self.network(grey_in_rgb(sr), grey_in_rgb(gt))


def input_gradient(score, x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) d score(x)_i / d x_i for a per-image (N,) score."""
    x = x.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(score(x).sum(), x)
    return gradient.double()


def judge_gradient(network: torch.nn.Module, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(N, 3 * H * W) float64 d f(sr, gt) / d sr with grid crops."""
    return input_gradient(lambda x: rqi_score(x, gt, network, crop="grid", check_inputs=False), sr).flatten(1)


def reference_blindness(network: torch.nn.Module, sr: torch.Tensor, gt: torch.Tensor) -> dict:
    """How much the judge's push on sr changes when the GT's detail moves: cos(g(gt), g(mirrored gt)), the mean
    and per image, and the pixel loss's cos(gt - sr, mirrored gt - sr) beside it."""
    mirrored = gt.flip(-1)
    cosine = F.cosine_similarity(judge_gradient(network, sr, gt), judge_gradient(network, sr, mirrored), dim=1)
    pixel = F.cosine_similarity((gt - sr).flatten(1).double(), (mirrored - sr).flatten(1).double(), dim=1)
    return {"cosine": _mean(cosine), "pixel_loss": _mean(pixel), "cosines": _values(cosine)}


def alignment(network: torch.nn.Module, sr: torch.Tensor, gt: torch.Tensor) -> dict:
    """Per referee: the cosine between the judge's and the referee's gradients, and the referee's first-order
    change per +0.1 of f along the judge's gradient; each as a mean (over the images where it is finite) and
    per image."""
    judge = judge_gradient(network, sr, gt)
    judge_norm_sq = judge.square().sum(dim=1)
    towards_gt = (gt - sr).double().flatten(1)
    x = sr.detach().clone().requires_grad_(True)
    values = referee_values(x, gt)  # one forward; each referee's gradient from it
    values["neg_gmsd"] = -values.pop("gmsd")
    results = {}
    for name in REFEREES:
        (gradient,) = torch.autograd.grad(values[name].sum(), x, retain_graph=True)
        referee = gradient.double().flatten(1).nan_to_num(0.0)
        inner = (judge * referee).sum(dim=1)
        cosine = inner / (judge_norm_sq.sqrt() * referee.norm(dim=1)).clamp_min(1e-30)
        per_step = 0.1 * inner / judge_norm_sq.clamp_min(1e-30)
        yardstick = F.cosine_similarity(towards_gt, referee, dim=1)
        results[name] = {
            "cosine": _mean(cosine),
            "per_0.1_f": _mean(per_step),
            "cosine_pixel_loss": _mean(yardstick),
            "cosines": _values(cosine),
        }
    return results


def _values(values: torch.Tensor) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def _mean(values: torch.Tensor) -> float | None:
    finite = values[torch.isfinite(values)]
    return finite.mean().item() if len(finite) else None


def markdown_table(measured: dict[str, tuple[Path, Path]] = MEASURED) -> str:
    """docs/judge-hacking.md's table: per judge the validation sign accuracy of its run, the cosine of its push
    with each referee's gradient and its reference blindness on the photographs (KADID-synth pairs after the
    slash for the blindness); the pixel loss's yardstick row last, from the first judge's file."""
    columns = ["judge", "sign accuracy (its validation sample)", *(f"cos, {name}" for name in TABLE_REFEREES.values())]
    lines = ["| " + " | ".join([*columns, "reference blindness"]) + " |", "|" + " --- |" * (len(columns) + 1)]
    first = None
    for label, (path, history) in measured.items():
        measured_file = json.loads(path.read_text())
        first = first or measured_file
        accuracy = json.loads(history.read_text())["best"]["pair_sign_accuracy"]
        photos, blind = measured_file["results"]["photos"], measured_file["reference_blindness"]
        cells = [label, f"{accuracy:.3f}", *(f"{photos[r]['cosine']:+.3f}" for r in TABLE_REFEREES)]
        cells.append(f"{blind['photos']['cosine']:.2f} / {blind['kadid_pairs']['cosine']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    photos, blind = first["results"]["photos"], first["reference_blindness"]
    yardstick = [
        "a pixel loss (L2), the yardstick",
        "",
        *(f"{photos[r]['cosine_pixel_loss']:+.3f}" for r in TABLE_REFEREES),
    ]
    yardstick.append(f"{blind['photos']['pixel_loss']:.2f} / {blind['kadid_pairs']['pixel_loss']:.2f}")
    lines.append("| " + " | ".join(yardstick) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-kadid-synth", help="zoo name or network folder")
    parser.add_argument("--grey", action="store_true", help="the judge sees both images in grey (RQILoss grey)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--table", action="store_true", help="print the docs table from the measured files")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    network = create_network(args.model).eval()
    if args.grey:
        network = GreyJudge(network)
    sets = targets()
    results = {name: alignment(network, *sets[name]) for name in sets}
    blindness = {name: reference_blindness(network, *sets[name]) for name in sets}
    for set_name, per_referee in results.items():
        line = ", ".join(
            f"{r} {v['cosine']:+.3f} ({v['per_0.1_f']:+.2g}; pixel loss {v['cosine_pixel_loss']:+.3f})"
            for r, v in per_referee.items()
        )
        logger.info("%s: cosine (first-order change per +0.1 f; pixel loss's cosine): %s", set_name, line)
        blind = blindness[set_name]
        logger.info("%s: reference blindness %.3f (pixel loss %.3f)", set_name, blind["cosine"], blind["pixel_loss"])
    report(
        {
            "model": args.model,
            "grey": args.grey,
            "hardware": hardware(torch.device("cpu")),
            "images": {
                "photos": list(PHOTOS),
                "kadid_pairs": [f"each photograph, {n} level {lv}" for n, lv in KADID_PAIRS],
            },
            "results": results,
            "reference_blindness": blindness,
        },
        args.json,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
