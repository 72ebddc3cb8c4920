"""Fine-tune a community SR model with RQI, in plain PyTorch: any architecture spandrel loads (ESRGAN/RRDB,
Real-ESRGAN compact, SPAN, SwinIR, HAT, DAT, OmniSR, ...), its scale read from the checkpoint.

    python examples/finetune_any.py --model 4x_MyModel.pth --data /path/to/HR [--held-out /path/to/HR_val]
    python examples/finetune_any.py --demo      # offline: a compact x4 model warmed up on scikit-image photographs

For every seed (``--seeds``) it fine-tunes the model twice, same seed, data and iterations: the control arm with
L1 alone, the RQI arm with L1 + ``--lambda`` x RQI (-f(SR, HR) with the judge ``--rqi``, its crops kept
``--crop-border`` px inside each patch, random flips and rotations). The training pairs are random HR patches
and their bicubic downscales made on the fly (or the same names in ``--lr-folder``); model and judge run under
autocast bf16 on a GPU.
Held-out images (``--held-out``, default: every fifth image of ``--data``) are judged by the judge and by
referees it never trained on (PSNR, HaarPSI, MS-SSIM, VSI, GMSD), as in the main job. Writes to ``--workdir``:
``results/summary.{md,csv}``, ``results/comparison.png`` (1:1, zoomed where the arms differ most), the SR
images, and the fine-tuned weights (``models/<arm>_seed<k>.pth``) in the input's key layout: spandrel loads them
again, to the same outputs.
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from rqi_loss import RQILoss, create_network
from rqi_loss.functional import rqi_score
from rqi_loss.weights import atomic_write

import finetune_outputs  # this script's folder is on sys.path
from finetune_outputs import referee_scores

logger = logging.getLogger("finetune_any")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class UsageError(ValueError):
    """A bad argument or input file: reported in one line, exit code 2."""


# ------------------------------------------------------------------------------------------------ the model
def load_sr_model(path: Path):
    """spandrel's descriptor of the SR model in ``path``; UsageError for a file it does not know or a model that
    does not upscale."""
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    if not path.is_file():
        raise UsageError(f"--model {path}: no such file")
    try:
        descriptor = ModelLoader().load_from_file(path)
    except UnsupportedModelError:
        raise UsageError(
            f"--model {path}: spandrel does not recognise this checkpoint's architecture; pass a model file of an "
            "architecture it supports (ESRGAN, Real-ESRGAN compact, SPAN, SwinIR, HAT, DAT, ...)"
        ) from None
    except Exception as error:  # a truncated or foreign file: what spandrel's reader said, in one line
        raise UsageError(f"--model {path}: cannot read it as a model ({type(error).__name__}: {error})") from None
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose != "SR" or descriptor.scale < 2:
        kind = getattr(descriptor, "purpose", type(descriptor).__name__)
        raise UsageError(
            f"--model {path}: a {kind} model ({descriptor.architecture.name}, scale {descriptor.scale}), not a "
            "super-resolution one; RQI fine-tuning needs a model that upscales"
        )
    return descriptor


def save_model(model: torch.nn.Module, path: Path) -> Path:
    """The model's state dict, in its architecture's own key layout, written atomically (spandrel loads it)."""
    with atomic_write(path) as handle:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, handle)
    return path


# --------------------------------------------------------------------------------------------------- images
def read_folder(folder: Path) -> dict[str, torch.Tensor]:
    """{stem: (3, H, W) float in [0, 1]} of the images in ``folder`` (sorted)."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    images = {
        p.stem: torch.from_numpy(np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    }
    if not images:
        raise UsageError(f"{folder}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """(N, 3, H, W) -> bicubic (antialiased) (N, 3, H / scale, W / scale), clamped to [0, 1]."""
    size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    return F.interpolate(hr, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def patch_size(requested: int, scale: int, multiple_of: int) -> int:
    """The HR patch side: ``requested`` rounded up so the LR side is a whole multiple of the model's step."""
    step = scale * multiple_of
    return -(-requested // step) * step


def check_images(images: dict[str, torch.Tensor], patch: int, scale: int, where: str) -> None:
    """UsageError naming an image too small for a ``patch`` crop, or whose sides the scale does not divide."""
    for name, image in images.items():
        height, width = image.shape[-2:]
        if min(height, width) < patch:
            raise UsageError(f"{where}/{name}: {height}x{width} is smaller than the {patch} px training patch")
        if height % scale or width % scale:
            raise UsageError(
                f"{where}/{name}: {height}x{width} is not divisible by the model's scale {scale}; crop the HR "
                f"images to multiples of {scale} (or pass --lr-folder with matching LR images)"
            )


def check_judge_fits(judge_input: int, patch: int, args: argparse.Namespace) -> None:
    """UsageError unless a training patch without its ``--crop-border`` still holds one judge crop."""
    if patch - 2 * args.crop_border < judge_input:
        raise UsageError(
            f"--patch {patch} without --crop-border {args.crop_border} on each side leaves "
            f"{patch - 2 * args.crop_border} px, less than the judge {args.rqi}'s input of {judge_input} px; "
            f"use --patch {judge_input + 2 * args.crop_border} or a smaller --crop-border"
        )


def random_pairs(
    hr_images: list[torch.Tensor],
    lr_images: list[torch.Tensor] | None,
    patch: int,
    scale: int,
    batch: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(LR (batch, 3, patch / scale, ...), HR (batch, 3, patch, patch)): random aligned crops of random images,
    randomly flipped; the LR crop cut from ``lr_images`` where given, else the HR crop's bicubic downscale."""
    lows, highs = [], []
    for _ in range(batch):
        k = int(torch.randint(len(hr_images), (), generator=generator))
        rows, cols = (hr_images[k].shape[-2] - patch) // scale, (hr_images[k].shape[-1] - patch) // scale
        top, left = (int(torch.randint(n + 1, (), generator=generator)) * scale for n in (rows, cols))
        high = hr_images[k][:, top : top + patch, left : left + patch]
        if lr_images is None:
            low = downscale(high[None], scale)[0]
        else:
            low = lr_images[k][:, top // scale : (top + patch) // scale, left // scale : (left + patch) // scale]
        if bool(torch.randint(2, (), generator=generator)):
            high, low = high.flip(-1), low.flip(-1)
        lows.append(low)
        highs.append(high)
    return torch.stack(lows), torch.stack(highs)


# ------------------------------------------------------------------------------------------------- training
def fine_tune(
    descriptor, data: dict, args: argparse.Namespace, seed: int, judge: torch.nn.Module | None
) -> torch.nn.Module:
    """A copy of the model trained for ``args.iters`` steps with L1 (+ ``args.rqi_weight`` x RQI through the
    frozen ``judge``; None: L1 alone) on ``data``'s random pairs; the draws come from private generators seeded
    with ``seed``."""
    from tqdm.auto import tqdm

    device = torch.device(args.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # dropout and the like inside the model: the same in both arms
        model = copy.deepcopy(descriptor.model).to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
        amp = "bf16" if device.type == "cuda" else None  # the judge's forward and backward, as the generator's
        rqi = None
        if judge is not None:
            rqi = RQILoss(
                judge,
                loss_weight=args.rqi_weight,
                seed=seed,
                crop_border=args.crop_border,
                max_score=args.max_score,
                grey=args.grey,
                transforms=True,
                amp=amp,
            ).to(device)
        generator = torch.Generator().manual_seed(seed)
        arm = "control" if rqi is None else "rqi"
        started = time.perf_counter()
        for _ in tqdm(range(args.iters), desc=f"{arm}, seed {seed}", unit="it", leave=False):
            lr, hr = (
                t.to(device)
                for t in random_pairs(*data["train"], data["patch"], descriptor.scale, args.batch, generator)
            )
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                sr = model(lr).float()
            loss = F.l1_loss(sr, hr) + (0.0 if rqi is None else rqi(sr, hr))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - started
        logger.info(
            "%s, seed %d: %d steps in %.1f s (%.3f s per step)", arm, seed, args.iters, seconds, seconds / args.iters
        )
    return model.eval()


@torch.no_grad()
def evaluate(models: dict, held_out: dict[str, torch.Tensor], scale: int, judge: torch.nn.Module, results: Path):
    """Rows (image, seed, arm, judge and referees) of every model on the held-out images, the SR images saved
    under ``results/sr``; and the first seed's images for the comparison picture."""
    device = next(iter(models.values())).parameters().__next__().device
    first = min(seed for seed, _ in models if seed >= 0)
    rows, pictures = [], {}
    for name, hr in held_out.items():
        hr = hr[None]
        lr = downscale(hr, scale)
        panels = {"LQ (nearest)": F.interpolate(lr, scale_factor=scale, mode="nearest")}
        for (seed, arm), model in models.items():
            sr = model(lr.to(device)).float().clamp(0, 1).cpu()
            folder = results / "sr" / (arm if seed < 0 else f"seed{seed}_{arm}")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(finetune_outputs._to_uint8(sr)).save(folder / f"{name}.png")
            if seed in (-1, first):
                panels[arm] = sr
            value = rqi_score(sr, hr, judge, crop="grid").item()
            rows.append({"image": name, "seed": seed, "arm": arm, "rqi": value, **referee_scores(sr, hr)})
        pictures[name] = {**panels, "GT": hr}
    return rows, pictures


# ------------------------------------------------------------------------------------------------------ demo
def make_demo(workdir: Path, warmup: int) -> tuple[Path, Path, Path]:
    """Offline stand-ins for a user's files: HR tiles of scikit-image photographs (train and held out, as the
    main job's) and a compact x4 model (spandrel's SRVGGNetCompact) warmed up with ``warmup`` L1 steps, saved
    in the community's key layout. Returns (model file, HR folder, held-out folder)."""
    from spandrel.architectures.Compact import Compact

    from finetune_realesrgan import HELDOUT_PHOTOS, prepare_data

    folders = prepare_data(workdir, None)
    model_path = workdir / "4x_compact_warm.pth"
    if not model_path.is_file():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = Compact(num_in_ch=3, num_out_ch=3, num_feat=32, num_conv=8, upscale=4)
        images = list(read_folder(folders["train_hr"]).values())
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
        generator = torch.Generator().manual_seed(0)
        for _ in range(warmup):
            lr, hr = random_pairs(images, None, 128, 4, 4, generator)
            loss = F.l1_loss(model(lr), hr)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        save_model(model, model_path)
        logger.info(
            "demo: a compact x4 model warmed up with %d L1 steps -> %s (held out: %s)",
            warmup,
            model_path,
            ", ".join(HELDOUT_PHOTOS),
        )
    return model_path, folders["train_hr"], folders["heldout_hr"]


# ------------------------------------------------------------------------------------------------------ main
def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="the SR model's checkpoint (.pth, .safetensors, .ckpt)")
    parser.add_argument("--data", type=Path, help="folder of HR training images")
    parser.add_argument("--lr-folder", type=Path, help="LR images of the same names (default: bicubic downscales)")
    parser.add_argument("--held-out", type=Path, help="HR images to judge (default: every fifth image of --data)")
    parser.add_argument("--demo", action="store_true", help="offline: scikit-image photographs and a warmed-up model")
    parser.add_argument("--workdir", type=Path, default=Path(".cache/finetune_any"))
    parser.add_argument("--rqi", default="tiny-kadid-synth", help="the judge: zoo name or network folder")
    parser.add_argument("--lambda", dest="rqi_weight", type=float, default=0.002, help="weight of the RQI term")
    parser.add_argument("--iters", type=int, default=100, help="fine-tuning steps of each arm")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; each fine-tunes every arm")
    parser.add_argument("--control", action="store_true", help="also the same run without RQI (on with --demo)")
    parser.add_argument("--patch", type=int, default=160, help="HR training patch side (rounded up to fit the model)")
    parser.add_argument("--crop-border", type=int, default=16, help="pixels of each patch the judge never sees")
    parser.add_argument(
        "--max-score", type=float, help="cap on the reward: no push on a patch judged above it (0: as good as its HR)"
    )
    parser.add_argument("--grey", action="store_true", help="the judge sees grey images: the loss moves no colour")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam's learning rate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    args.seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    if args.demo:
        args.control = True
    elif args.model is None or args.data is None:
        parser.error("give --model and --data (or --demo)")
    return args


def training_data(args: argparse.Namespace, descriptor) -> tuple[dict, dict[str, torch.Tensor]]:
    """({"train": (HR list, LR list or None), "patch": side}, held-out HR images), checked for the model."""
    hr = read_folder(args.data)
    held_out = read_folder(args.held_out) if args.held_out else {k: hr.pop(k) for k in list(hr)[::5]}
    if not hr:
        raise UsageError(f"--data {args.data}: no image left to train on after holding out every fifth")
    patch = patch_size(args.patch, descriptor.scale, descriptor.size_requirements.multiple_of)
    check_images(hr, patch, descriptor.scale, str(args.data))
    lr = None
    if args.lr_folder is not None:
        low = read_folder(args.lr_folder)
        missing = sorted(set(hr) - set(low))
        if missing:
            raise UsageError(f"--lr-folder {args.lr_folder}: no LR image for {missing[:5]}")
        lr = [low[name] for name in hr]
    return {"train": (list(hr.values()), lr), "patch": patch}, held_out


def run(args: argparse.Namespace) -> str:
    workdir = args.workdir.resolve()
    if args.demo:
        args.model, args.data, args.held_out = make_demo(workdir, warmup=300)
    descriptor = load_sr_model(args.model)
    logger.info(
        "%s: %s x%d (%s)", args.model, descriptor.architecture.name, descriptor.scale, ", ".join(descriptor.tags)
    )
    data, held_out = training_data(args, descriptor)
    judge = create_network(args.rqi).to(args.device)  # loaded once: every RQI arm and the evaluation use it
    check_judge_fits(judge.input_size, data["patch"], args)
    models = {(-1, "before"): descriptor.model.to(args.device).eval()}
    arms = ("control", "rqi") if args.control else ("rqi",)
    for seed in args.seeds:
        for arm in arms:
            model = fine_tune(descriptor, data, args, seed, judge if arm == "rqi" else None)
            save_model(model, workdir / "models" / f"{arm}_seed{seed}.pth")
            models[(seed, arm)] = model
    results = workdir / "results"
    rows, pictures = evaluate(models, held_out, descriptor.scale, judge, results)
    title = (
        f"{descriptor.architecture.name} x{descriptor.scale}, L1 + {args.rqi_weight:g} x RQI ({args.rqi}), "
        f"{args.iters} steps, seeds {args.seeds}"
    )
    return finetune_outputs.write_summary(rows, pictures, results, title)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        print(run(args))
    except UsageError as error:
        print(f"finetune_any: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.workdir.resolve() / 'results'} (summary.md, summary.csv, comparison.png, sr/) and models/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
