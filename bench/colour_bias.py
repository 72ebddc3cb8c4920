"""The judge's colour bias: chroma the RQI arm adds to a grey photograph, and the judge's verdict on saturation.

    python bench/colour_bias.py /tmp/main_job --json bench/results/cpu/colour_bias.json

Two measurements on a finished main-job work folder (``heldout_hr/`` and the saved ``results/sr/<seed><arm>/``):

- ``grey_images``: for every held-out GT that is grey (R = G = B everywhere; the camera photograph), per seed,
  the chroma each arm's SR output has (the RMS of the RGB image minus its BT.601 luma, grey levels 0-255) and
  the RQI arm minus the control arm on HaarPSI and VSI twice: as saved, and with both outputs projected to grey
  (their luma in all three channels). The difference between the two is what the added chroma costs.
- ``saturation``: the judge's verdict f(GT with its chroma scaled by k, GT), grid crops, for every held-out GT
  with colour and each factor k (k = 1 is the GT itself, f = 0). A judge without a colour bias rates every
  k != 1 below 0; a positive verdict at k > 1 is a reward for more saturation than the reference has.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from rqi_loss import create_network
from rqi_loss.functional import rqi_score
from rqi_loss.metric import read_image

from common import example, report

logger = logging.getLogger("colour_bias")
FACTORS = (0.8, 0.9, 1.1, 1.2, 1.4)
LUMA = (0.299, 0.587, 0.114)  # BT.601


def load(path: Path) -> torch.Tensor:
    """(1, 3, H, W) float32 RGB in [0, 1]."""
    return read_image(path)[None]


def luma_in_rgb(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W): the BT.601 luma of ``image`` in all three channels."""
    weights = torch.tensor(LUMA, dtype=image.dtype).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True).expand_as(image).clone()


def scaled_chroma(image: torch.Tensor, factor: float) -> torch.Tensor:
    """``image``'s chroma (its difference from its luma) times ``factor``, clipped to [0, 1]."""
    luma = luma_in_rgb(image)
    return (luma + factor * (image - luma)).clamp(0, 1)


def is_grey(image: torch.Tensor) -> bool:
    """True when R = G = B at every pixel."""
    return torch.equal(image[:, 0], image[:, 1]) and torch.equal(image[:, 1], image[:, 2])


def chroma_rms(image: torch.Tensor) -> float:
    """RMS of the image minus its luma, in grey levels (0-255)."""
    return 255 * (image - luma_in_rgb(image)).square().mean().sqrt().item()


def referees(sr: torch.Tensor, gt: torch.Tensor) -> dict[str, float]:
    """HaarPSI and VSI as the main job's summary computes them (float64)."""
    scores = example("finetune_outputs").referee_scores(sr, gt)
    return {metric: scores[metric] for metric in ("haarpsi", "vsi")}


def grey_images(workdir: Path) -> dict[str, list[dict]]:
    """Per grey held-out GT, per seed: each arm's chroma RMS and the RQI arm minus the control arm on HaarPSI
    and VSI, as saved and projected to grey."""
    results = {}
    outputs = workdir / "results" / "sr"
    seeds = sorted({p.name.split("_")[0] for p in outputs.glob("seed*_rqi")}, key=lambda s: int(s[len("seed") :]))
    for gt_path in sorted((workdir / "heldout_hr").glob("*.png")):
        gt = load(gt_path)
        if not is_grey(gt):
            continue
        rows = []
        for seed in seeds:
            arms = {arm: load(outputs / f"{seed}_{arm}" / gt_path.name) for arm in ("control", "rqi")}
            as_saved = {arm: referees(sr, gt) for arm, sr in arms.items()}
            projected = {arm: referees(luma_in_rgb(sr), gt) for arm, sr in arms.items()}
            rows.append(
                {
                    "seed": int(seed.removeprefix("seed")),
                    "chroma_rms": {arm: chroma_rms(sr) for arm, sr in arms.items()},
                    "as_saved": {m: as_saved["rqi"][m] - as_saved["control"][m] for m in as_saved["rqi"]},
                    "projected_to_grey": {m: projected["rqi"][m] - projected["control"][m] for m in projected["rqi"]},
                }
            )
        results[gt_path.stem] = rows
    return results


def saturation(workdir: Path, network: torch.nn.Module) -> dict[str, dict[str, float]]:
    """Per held-out GT with colour: f(GT with its chroma times k, GT) for each k in FACTORS."""
    verdicts = {}
    for gt_path in sorted((workdir / "heldout_hr").glob("*.png")):
        gt = load(gt_path)
        if is_grey(gt):
            continue
        with torch.no_grad():
            verdicts[gt_path.stem] = {
                f"{k:g}": rqi_score(scaled_chroma(gt, k), gt, network, crop="grid").item() for k in FACTORS
            }
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path, help="a main-job work folder (its --workdir), finished")
    parser.add_argument("--model", default="tiny-kadid-synth", help="the judge: zoo name or network folder")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    grey_rows = grey_images(args.workdir)
    for image, rows in grey_rows.items():
        for row in rows:
            logger.info(
                "%s seed %d: chroma RMS control %.3f, rqi %.3f; HaarPSI rqi - control %+.4f as saved, %+.4f in grey",
                image,
                row["seed"],
                row["chroma_rms"]["control"],
                row["chroma_rms"]["rqi"],
                row["as_saved"]["haarpsi"],
                row["projected_to_grey"]["haarpsi"],
            )
    verdicts = saturation(args.workdir, create_network(args.model))
    for image, per_factor in verdicts.items():
        logger.info("%s: f(chroma x k, GT) %s", image, ", ".join(f"k={k}: {f:+.3f}" for k, f in per_factor.items()))
    report(
        {"model": args.model, "workdir": args.workdir.name, "grey_images": grey_rows, "saturation": verdicts},
        args.json,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
