"""Judge hacking, measured: an adaptive budgeted attack on the RQI loss, judged by referees it never saw.

    python bench/gaming.py --json bench/results/cpu/gaming.json --plot bench/results/cpu/gaming.png
    python bench/gaming.py --model maniqa-pipal --checkpoint rqi_weights.pt --device cuda   # the full-size judge

For each loss configuration ("plain": RQILoss as it is; "defended": RQILoss(transforms=...)), projected
gradient ascent on f(SR + delta, GT) through the loss itself: ``--steps`` signed-gradient steps of 2.5 eps /
steps, each pixel moved by at most eps, every step a fresh draw of the loss's randomness (crops and
transforms), so the attack adapts to the defence (expectation over transformation). Targets:

- held-out photographs: x4 bicubic SR of 256 px crops of photographs the embedded network never trained on
  (hubble, ihc: its held-out sources; camera, moon, coins: grey photographs it never saw);
- held-out KADID-synth pairs: the same crops distorted (gaussian blur, JPEG, white noise at level 2)
  against the clean crop.

Reported per eps: the gain in f that the attack buys, measured as the attacked loss scores (the mean over
``--draws`` fresh draws of its randomness, the same draws for clean and attacked), and, for the same images,
independent referees no judge here was trained on, against the GT: PSNR and piq's HaarPSI, MS-SSIM
(kernel 7), GMSD and VSI. Also the clean ordering: whether stronger blur, noise and JPEG score lower.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from rqi_loss import PairTransforms, RQILoss, create_network
from rqi_loss.functional import rqi_score
from rqi_loss.transforms import as_transforms

from common import report

logger = logging.getLogger("gaming")
PHOTOS = ("hubble_deep_field.jpg", "ihc.png", "camera.png", "moon.png", "coins.png")
KADID_PAIRS = (("gaussian_blur", 2), ("jpeg", 2), ("white_noise", 2))
ORDERING = (("gaussian_blur", (1, 2, 3, 4)), ("white_noise", (1, 2, 3, 4)), ("jpeg", (2, 3, 4, 5)))
REFEREES = ("psnr", "haarpsi", "ms_ssim", "gmsd", "vsi")  # gmsd: lower is better; the others higher
TILE = 256


# ------------------------------------------------------------------------------------------------------ data
def _photo_tile(name: str) -> np.ndarray:
    """The most textured 256 px tile of a scikit-image photograph, float64 RGB in [0, 1]."""
    from skimage import data

    image = np.asarray(Image.open(Path(data.__file__).with_name(name)).convert("RGB"))
    h, w = image.shape[:2]
    tiles = [
        image[y : y + TILE, x : x + TILE]
        for y in range(0, h - TILE + 1, TILE // 2)
        for x in range(0, w - TILE + 1, TILE // 2)
    ]
    return max(tiles, key=lambda t: t.std()).astype(np.float64) / 255


def _bicubic_x4(hr: np.ndarray) -> np.ndarray:
    image = Image.fromarray((hr * 255).round().astype(np.uint8))
    low = image.resize((TILE // 4, TILE // 4), Image.Resampling.BICUBIC)
    return np.asarray(low.resize((TILE, TILE), Image.Resampling.BICUBIC)).astype(np.float64) / 255


def _tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().contiguous()


def targets() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"photos": (sr, gt), "kadid_pairs": (distorted, reference)}: (N, 3, 256, 256) in [0, 1]."""
    from rqi_loss.training.distortions import distort

    hr = [_photo_tile(name) for name in PHOTOS]
    rng = np.random.default_rng(0)
    distorted, references = [], []
    for image in hr:
        for name, level in KADID_PAIRS:
            distorted.append(distort(image, name, level, rng))
            references.append(image)
    return {
        "photos": (_tensor([_bicubic_x4(h) for h in hr]), _tensor(hr)),
        "kadid_pairs": (_tensor(distorted), _tensor(references)),
    }


# ---------------------------------------------------------------------------------------------------- attack
def expected_score(network, x, gt, config: dict, draws: int, seed: int = 1234) -> torch.Tensor:
    """(N,) f(x, gt) as the loss configuration scores it, averaged over ``draws`` fixed draws of its
    randomness (the same draws for every x: clean and attacked images are compared on common draws)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        scores = [
            rqi_score(
                x,
                gt,
                network,
                crop=config["crop"],
                num_crops=config["num_crops"],
                generator=generator,
                transforms=config["transforms"],
                check_inputs=False,
            )
            for _ in range(draws)
        ]
    return torch.stack(scores).mean(dim=0)


def attack(loss: RQILoss, sr: torch.Tensor, gt: torch.Tensor, eps: float, steps: int) -> torch.Tensor:
    """PGD ascent of f through ``loss`` (a fresh draw of its randomness per step): sr + delta, |delta| <= eps,
    kept in [0, 1]."""
    step_size = 2.5 * eps / steps
    delta = torch.zeros_like(sr)
    for _ in range(steps):
        x = (sr + delta).requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(x, gt), x)  # loss = -f: descending it raises f
        delta = (delta - step_size * grad.sign()).clamp(-eps, eps)
        delta = (sr + delta).clamp(0, 1) - sr
    return (sr + delta).detach()


def referees(x: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """(N,) float64 referee scores of x against gt."""
    return referee_values(x.double(), gt.double())


def referee_values(x: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """(N,) referee scores of x (clamped to [0, 1]) against gt in the inputs' dtype, differentiable with
    respect to x; gmsd is lower-better, the others higher-better."""
    import piq

    x = x.clamp(0, 1)
    mse = ((x - gt) ** 2).flatten(1).mean(dim=1)
    return {
        "psnr": 10 * torch.log10(1 / mse.clamp_min(1e-12)),
        "haarpsi": piq.haarpsi(x, gt, data_range=1.0, reduction="none"),
        "ms_ssim": piq.multi_scale_ssim(x, gt, data_range=1.0, kernel_size=7, reduction="none"),
        "gmsd": piq.gmsd(x, gt, data_range=1.0, reduction="none"),
        "vsi": piq.vsi(x, gt, data_range=1.0, reduction="none"),
    }


def clean_ordering(network, config: dict, draws: int) -> dict:
    """Per distortion, the fraction of (image, adjacent levels) where the stronger level scores lower."""
    from rqi_loss.training.distortions import distort

    hr = [_photo_tile(name) for name in PHOTOS]
    device = next(network.parameters()).device
    gt = _tensor(hr).to(device)
    result = {}
    for name, levels in ORDERING:
        rng = np.random.default_rng(1)
        scores = [
            expected_score(network, _tensor([distort(h, name, lv, rng) for h in hr]).to(device), gt, config, draws)
            for lv in levels
        ]
        ordered = [(scores[k + 1] < scores[k]).float().mean().item() for k in range(len(levels) - 1)]
        result[name] = {
            "levels": list(levels),
            "mean_scores": [s.mean().item() for s in scores],
            "ordered_fraction": float(np.mean(ordered)),
        }
    return result


# ------------------------------------------------------------------------------------------------------- run
def loss_configs(network, defended: PairTransforms, seed: int) -> dict[str, tuple[RQILoss, dict]]:
    plain = {"crop": "random", "num_crops": 1, "transforms": None}
    guarded = {"crop": "random", "num_crops": 1, "transforms": defended}
    return {
        "plain": (RQILoss(network, seed=seed, check_inputs=False), plain),
        "defended": (RQILoss(network, seed=seed, check_inputs=False, transforms=defended), guarded),
    }


def run(
    network,
    *,
    defended: PairTransforms,
    eps_list: list[float],
    steps: int,
    draws: int,
    seed: int = 0,
    configs: tuple[str, ...] = ("plain", "defended"),
    ordering: bool = True,
) -> dict:
    device = next(network.parameters()).device
    data = {name: (sr.to(device), gt.to(device)) for name, (sr, gt) in targets().items()}
    results: dict = {
        "configs": {},
        "eps": eps_list,
        "steps": steps,
        "draws": draws,
        "defended_transforms": repr(defended),
    }
    examples = {}
    progress = tqdm(total=len(configs) * len(data) * len(eps_list), desc="attacks", unit="attack", file=sys.stderr)
    for config_name, (loss, config) in loss_configs(network, defended, seed).items():
        if config_name not in configs:
            continue
        per_target = {}
        for target, (sr, gt) in data.items():
            clean = expected_score(network, sr, gt, config, draws)
            clean_referees = referees(sr, gt)
            rows = []
            for eps in eps_list:
                attacked = attack(loss, sr, gt, eps, steps)
                score = expected_score(network, attacked, gt, config, draws)
                after = referees(attacked, gt)
                rows.append(
                    {
                        "eps_255": round(eps * 255, 3),
                        "clean_f": clean.mean().item(),
                        "attacked_f": score.mean().item(),
                        "gain": (score - clean).mean().item(),
                        # the gain per unit of the clean verdict's size: a defence that only shrinks every score
                        # (a noise floor, say) lowers "gain" but not this
                        "gain_over_clean_gap": ((score - clean).mean() / clean.abs().mean().clamp_min(1e-6)).item(),
                        "gain_max": (score - clean).max().item(),
                        "referees_clean": {k: v.mean().item() for k, v in clean_referees.items()},
                        "referees_attacked": {k: v.mean().item() for k, v in after.items()},
                    }
                )
                if target == "photos" and abs(eps * 255 - 4) < 1e-6:
                    examples[config_name] = (sr[2].cpu(), attacked[2].cpu(), gt[2].cpu())
                logger.info("%s / %s / eps %.0f/255: gain %+.3f", config_name, target, eps * 255, rows[-1]["gain"])
                progress.update(1)
            per_target[target] = rows
        if ordering:
            per_target["clean_ordering"] = clean_ordering(network, config, draws)
        results["configs"][config_name] = per_target
    progress.close()
    results["_examples"] = examples
    return results


def plot(results: dict, path: Path) -> None:
    """Gain vs eps (plain vs defended, both targets), referee change vs eps, and the attacked images at 4/255."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(grid[0, :2])
    for name, per_target in results["configs"].items():
        for target, style in (("photos", "-o"), ("kadid_pairs", "--s")):
            rows = per_target[target]
            ax.plot([r["eps_255"] for r in rows], [r["gain"] for r in rows], style, label=f"{name}, {target}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("eps (/255)")
    ax.set_ylabel("gain in f bought by the attack")
    ax.set_title("what 20-step PGD buys on the judge")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[0, 2:])
    for name, per_target in results["configs"].items():
        rows = per_target["photos"]
        ax.plot(
            [r["eps_255"] for r in rows],
            [r["referees_attacked"]["haarpsi"] - r["referees_clean"]["haarpsi"] for r in rows],
            "-o",
            label=f"{name}: HaarPSI change",
        )
        ax.plot(
            [r["eps_255"] for r in rows],
            [r["referees_attacked"]["ms_ssim"] - r["referees_clean"]["ms_ssim"] for r in rows],
            "--s",
            label=f"{name}: MS-SSIM change",
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("eps (/255)")
    ax.set_ylabel("referee change (higher: better)")
    ax.set_title("the referees on the same attacked photographs")
    ax.legend(fontsize=8)
    examples = results.get("_examples", {})
    panels = []
    if "plain" in examples:
        sr, plain, gt = examples["plain"]
        panels += [("x4 bicubic SR", sr), ("attacked, plain loss, 4/255", plain)]
        if "defended" in examples:
            panels.append(("attacked, defended loss, 4/255", examples["defended"][1]))
        panels.append(("perturbation x16 (plain)", (0.5 + 16 * (plain - sr)).clamp(0, 1)))
    for k, (title, image) in enumerate(panels[:4]):
        ax = fig.add_subplot(grid[1, k])
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-kadid-synth", help="zoo name, hf-hub:org/repo or a network folder")
    parser.add_argument("--checkpoint", help="local weights for --model (offline)")
    parser.add_argument(
        "--transforms",
        default="{}",
        help="defended loss: JSON fields of PairTransforms (default: the default ensemble)",
    )
    parser.add_argument("--eps", default="1,2,4,8", help="budgets in /255, comma separated")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--draws", type=int, default=8, help="fresh draws of the loss's randomness averaged per score")
    parser.add_argument("--configs", default="plain,defended", help="loss configurations to attack")
    parser.add_argument("--no-ordering", action="store_true", help="skip the clean-ordering check")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if Path(args.model).is_dir():
        network = create_network(Path(args.model))
    else:
        network = create_network(args.model, checkpoint_path=args.checkpoint)
    network = network.to(args.device)
    defended = as_transforms(json.loads(args.transforms) or True)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        results = run(
            network,
            defended=defended,
            eps_list=[float(e) / 255 for e in args.eps.split(",")],
            steps=args.steps,
            draws=args.draws,
            configs=tuple(args.configs.split(",")),
            ordering=not args.no_ordering,
        )
    results.update(
        model=args.model,
        checkpoint=args.checkpoint,
        seconds=round(time.perf_counter() - started, 1),
        torch_threads=torch.get_num_threads(),
    )
    examples = results.pop("_examples")
    report(results, args.json)
    if args.plot:
        plot({**results, "_examples": examples}, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
