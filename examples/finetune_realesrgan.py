"""Fine-tune a Real-ESRGAN generator with the RQI loss through BasicSR's real training pipeline.

With no arguments it runs offline on a CPU in a few minutes:
  1. prepares HR training images and held-out test images from scikit-image's photographs;
  2. trains a compact generator (SRVGGNetCompact) briefly with L1 only (the "before" model), when no
     pretrained generator is given;
  3. for every seed (--seeds, default 0,1,2) fine-tunes it twice with RQIRealESRGANModel, same seed, data and
     iterations: the control arm with L1 + GAN losses only, the RQI arm adding rqi_opt = -lambda * f(SR, GT)
     with the embedded "tiny-kadid-synth" network judging both images in grey (--no-rqi-grey: in colour),
     the loss's random transformations (its defence against judge hacking) and crops kept --crop-border px
     inside each training patch, on the bicubic LR images
     (Real-ESRGAN's paired mode; pass --degradation realesrgan for its on-the-fly degradations, about 10x
     slower on a CPU); both arms' L1 term compares with the GT itself, the RQI term taking the place of
     Real-ESRGAN's sharpened L1 target (--l1-target sharpened: the unsharp-masked GT, Real-ESRGAN's recipe,
     where the RQI term does not help the referees; see the docs);
  4. writes to --workdir/results: summary.md / summary.csv (one row per image, seed and arm: the training
     judge's RQI and the referees it never trained on, PSNR, HaarPSI, MS-SSIM, VSI and GMSD, and the border
     band's mean difference from GT; each arm's mean and range over the seeds; the RQI arm against the control
     arm per seed, with the targets checked, and per image), comparison.png (the first seed's outputs at 1:1
     with 4x zooms where the arms differ most), loss_curves.png (one panel per loss term) and every SR image
     under sr/.
     BasicSR's own logs go to --workdir/logs; the console shows a progress bar and the summary.

Real recipe on a GPU: --rqi maniqa-pipal --pretrained RealESRGAN_x4plus.pth --data /path/to/HR (an RRDBNet
generator; see also examples/options/finetune_realesrgan_x4plus_rqi.yml for the full Real-ESRGAN setup).
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

import finetune_outputs  # this script's folder is on sys.path
from finetune_outputs import referee_scores

logger = logging.getLogger("finetune_realesrgan")
SCALE = 4
TRAIN_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "chelsea.png",
    "hubble_deep_field.jpg",
)
HELDOUT_PHOTOS = ("ihc.png", "retina.jpg", "camera.png")  # never used for training
ITER_LINE = re.compile(r"iter:\s*([\d,]+)")
# The shipped defaults, chosen by the measurements in the README ("The main job").
DEFAULT_WEIGHT = 0.004
DEFAULT_GREY = True  # the embedded judge rewards more saturation than the GT has: let it judge in grey
DEFAULT_ITERS = 60
DEFAULT_GT_SIZE = 160
DEFAULT_CROP_BORDER = 16
DEFAULT_BATCH = 2
# BasicSR's training pipeline with rqi_loss's classes registered, run in a child process per arm.
TRAIN_COMMAND = (sys.executable, "-m", "rqi_loss.basicsr.train")


# ----------------------------------------------------------------------------------------------------- data
def _photo(file_name: str) -> np.ndarray:
    """A photograph shipped inside scikit-image (no download), as uint8 RGB."""
    from skimage import data

    image = np.asarray(Image.open(Path(data.__file__).with_name(file_name)).convert("RGB"))
    return image


def _tiles(image: np.ndarray, size: int) -> list[np.ndarray]:
    h, w = image.shape[:2]
    return [
        image[y : y + size, x : x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)
    ]


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _downscale(array: np.ndarray) -> np.ndarray:
    h, w = array.shape[:2]
    return np.asarray(Image.fromarray(array).resize((w // SCALE, h // SCALE), Image.Resampling.BICUBIC))


def prepare_data(workdir: Path, hr_folder: Path | None, tile: int = 256) -> dict[str, Path]:
    """HR tiles for training (with x4 bicubic LR copies) and held-out HR/LR images, as PNG folders."""
    folders = {k: workdir / k for k in ("train_hr", "train_lr_x4", "heldout_hr", "heldout_lr_x4")}
    if all(f.is_dir() and any(f.iterdir()) for f in folders.values()):
        return folders
    if hr_folder is not None:
        sources = [
            np.asarray(Image.open(p).convert("RGB"))
            for p in sorted(hr_folder.iterdir())
            if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
        ]
    else:
        sources = [_photo(name) for name in TRAIN_PHOTOS]
    for index, image in enumerate(sources):
        for k, hr in enumerate(_tiles(image, tile)):
            _save(hr, folders["train_hr"] / f"{index:02d}_{k:02d}.png")
            _save(_downscale(hr), folders["train_lr_x4"] / f"{index:02d}_{k:02d}.png")
    for name in HELDOUT_PHOTOS:
        hr = max(_tiles(_photo(name), tile), key=lambda t: t.std())  # the most textured tile
        _save(hr, folders["heldout_hr"] / f"{Path(name).stem}.png")
        _save(_downscale(hr), folders["heldout_lr_x4"] / f"{Path(name).stem}.png")
    return folders


# -------------------------------------------------------------------------------------------------- options
def generator_options(pretrained: Path | None) -> dict:
    if pretrained is not None:  # the official Real-ESRGAN x4plus generator
        return {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_block": 23, "num_grow_ch": 32}
    return {
        "type": "SRVGGNetCompact",
        "num_in_ch": 3,
        "num_out_ch": 3,
        "num_feat": 32,
        "num_conv": 8,
        "upscale": SCALE,
        "act_type": "prelu",
    }


def paired_train_dataset(folders: dict[str, Path], gt_size: int, batch: int) -> dict:
    """BasicSR's PairedImageDataset over the training tiles and their x4 downscales (flips, no rotations)."""
    return {
        "name": "hr",
        "type": "PairedImageDataset",
        "dataroot_gt": str(folders["train_hr"]),
        "dataroot_lq": str(folders["train_lr_x4"]),
        "io_backend": {"type": "disk"},
        "gt_size": gt_size,
        "use_hflip": True,
        "use_rot": False,
        "num_worker_per_gpu": 0,
        "batch_size_per_gpu": batch,
        "dataset_enlarge_ratio": 50,
    }


def warmup_options(folders: dict[str, Path], iters: int, gt_size: int, batch: int) -> dict:
    """Plain L1 training of the compact generator: the "before" model when no pretrained one is given."""
    return {
        "name": "before_l1",
        "model_type": "SRModel",
        "scale": SCALE,
        "num_gpu": "auto",
        "manual_seed": 0,
        "datasets": {"train": paired_train_dataset(folders, gt_size, batch)},
        "network_g": generator_options(None),
        "path": {"pretrain_network_g": None, "resume_state": None},
        "train": {
            "optim_g": {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [iters // 2], "gamma": 0.5},
            "total_iter": iters,
            "warmup_iter": -1,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0, "reduction": "mean"},
        },
        "logger": {"print_freq": 5, "save_checkpoint_freq": iters, "use_tb_logger": False},
    }


def realesrgan_options(
    folders: dict[str, Path],
    *,
    iters: int,
    gt_size: int,
    batch: int,
    rqi: str,
    rqi_weight: float,
    pretrained: Path | None,
    amp: str | None = None,
    name: str = "finetune_rqi",
    degradation: str = "realesrgan",
    transforms: bool = True,
    seed: int = 0,
    crop_border: int = 0,
    l1_gt_usm: bool = True,
    max_score: float | None = None,
    grey: bool = False,
) -> dict:
    """RQIRealESRGANModel with L1 + GAN + rqi_opt (no VGG: offline). ``degradation="realesrgan"``: Real-ESRGAN's
    on-the-fly second-order degradations (RealESRGANDataset); ``"paired"``: the prepared bicubic LR images
    (Real-ESRGAN's paired fine-tuning mode, ``high_order_degradation: false``; much cheaper on a CPU)."""
    kernels = ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
    probs = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
    options = {
        "name": name,
        "model_type": "RQIRealESRGANModel",
        "scale": SCALE,
        "num_gpu": "auto",
        "manual_seed": seed,
        "l1_gt_usm": l1_gt_usm,  # Real-ESRGAN's recipe: L1 against the unsharp-masked GT
        "percep_gt_usm": True,
        "gan_gt_usm": False,
        "rqi_gt_usm": False,
        "resize_prob": [0.2, 0.7, 0.1],
        "resize_range": [0.15, 1.5],
        "gaussian_noise_prob": 0.5,
        "noise_range": [1, 30],
        "poisson_scale_range": [0.05, 3],
        "gray_noise_prob": 0.4,
        "jpeg_range": [30, 95],
        "second_blur_prob": 0.8,
        "resize_prob2": [0.3, 0.4, 0.3],
        "resize_range2": [0.3, 1.2],
        "gaussian_noise_prob2": 0.5,
        "noise_range2": [1, 25],
        "poisson_scale_range2": [0.05, 2.5],
        "gray_noise_prob2": 0.4,
        "jpeg_range2": [30, 95],
        "gt_size": gt_size,
        "queue_size": 4 * batch,
        "datasets": {
            "train": {
                "name": "hr",
                "type": "RealESRGANDataset",
                "dataroot_gt": str(folders["train_hr"]),
                "meta_info": str(folders["train_hr"].parent / "meta_info.txt"),
                "io_backend": {"type": "disk"},
                "blur_kernel_size": 21,
                "kernel_list": kernels,
                "kernel_prob": probs,
                "sinc_prob": 0.1,
                "blur_sigma": [0.2, 3],
                "betag_range": [0.5, 4],
                "betap_range": [1, 2],
                "blur_kernel_size2": 21,
                "kernel_list2": kernels,
                "kernel_prob2": probs,
                "sinc_prob2": 0.1,
                "blur_sigma2": [0.2, 1.5],
                "betag_range2": [0.5, 4],
                "betap_range2": [1, 2],
                "final_sinc_prob": 0.8,
                "gt_size": gt_size,
                "use_hflip": True,
                "use_rot": False,
                "use_shuffle": True,
                "num_worker_per_gpu": 0,
                "batch_size_per_gpu": batch,
                "dataset_enlarge_ratio": 50,
                "prefetch_mode": None,
            }
        },
        "network_g": generator_options(pretrained),
        "network_d": {
            "type": "UNetDiscriminatorSN",
            "num_in_ch": 3,
            "num_feat": 16 if pretrained is None else 64,
            "skip_connection": True,
        },
        "path": {
            "pretrain_network_g": str(pretrained) if pretrained else None,
            "param_key_g": "params_ema" if pretrained else "params",
            "strict_load_g": True,
            "resume_state": None,
        },
        "train": {
            "ema_decay": 0.999 if pretrained else 0,
            "optim_g": {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "optim_d": {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [10 * iters], "gamma": 0.5},
            "total_iter": iters,
            "warmup_iter": -1,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0, "reduction": "mean"},
            "gan_opt": {
                "type": "GANLoss",
                "gan_type": "vanilla",
                "real_label_val": 1.0,
                "fake_label_val": 0.0,
                "loss_weight": 0.01,
            },
            "rqi_opt": {
                "type": "RQILoss",
                "model": rqi,
                "loss_weight": rqi_weight,
                "crop": "random",
                "amp": amp,
                "transforms": transforms,
                "crop_border": crop_border,  # judged crops stay inside the patch: its border is never rewarded
                "seed": seed,  # seeded crops and transforms: the run is reproducible
            },
            "net_d_iters": 1,
            "net_d_init_iters": 0,
        },
        "logger": {"print_freq": 1, "save_checkpoint_freq": iters, "use_tb_logger": False},
    }
    if max_score is not None:  # the reward cap: no push on a patch judged above it (RQILoss max_score)
        options["train"]["rqi_opt"]["max_score"] = max_score
    if grey:  # the judge sees both images in grey: the loss neither rewards nor moves colour (RQILoss grey)
        options["train"]["rqi_opt"]["grey"] = True
    if degradation == "paired":
        options["high_order_degradation"] = False
        options["datasets"]["train"] = paired_train_dataset(folders, gt_size, batch)
    elif degradation != "realesrgan":
        raise ValueError(f"degradation must be 'realesrgan' or 'paired'; got {degradation!r}")
    return options


def merge_options(options: dict, changes: dict) -> None:
    """Apply ``changes`` to ``options`` in place: a dict without ``type`` is merged into the dict of that key, level
    by level (``{"train": {"gan_opt": {"loss_weight": 0.02}}}``), None removes the key, anything else (a value,
    a loss with its ``type``) replaces it."""
    for key, value in changes.items():
        if value is None:
            options.pop(key, None)
        elif isinstance(value, dict) and "type" not in value and isinstance(options.get(key), dict):
            merge_options(options[key], value)
        else:
            options[key] = value


def write_meta_info(options: dict) -> None:
    """RealESRGANDataset reads its image list from ``meta_info``: one file name of ``dataroot_gt`` per line."""
    train = options["datasets"]["train"]
    if train["type"] == "RealESRGANDataset":
        names = sorted(p.name for p in Path(train["dataroot_gt"]).iterdir())
        Path(train["meta_info"]).write_text("".join(f"{name}\n" for name in names))


def run_basicsr(
    options: dict, workdir: Path, progress, train_command: tuple[str, ...] = TRAIN_COMMAND
) -> tuple[Path, Path]:
    """Write the YAML and run ``train_command -opt <yaml>`` (``python -m rqi_loss.basicsr.train``) in ``workdir``,
    its console output going to ``workdir/logs/<name>.log`` while ``progress`` (a tqdm bar) advances with BasicSR's
    iteration lines; returns (the experiment folder, that log)."""
    write_meta_info(options)
    path = workdir / f"{options['name']}.yml"
    path.write_text(yaml.safe_dump(options, sort_keys=False))
    log = workdir / "logs" / f"{options['name']}.log"
    log.parent.mkdir(exist_ok=True)
    progress.set_postfix_str(options["name"])
    done = 0
    with open(log, "w") as handle:
        command = [*train_command, "-opt", str(path)]
        process = subprocess.Popen(command, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT)
        while process.poll() is None:
            time.sleep(0.5)
            done = _advance(progress, log, done)
    done = _advance(progress, log, done)
    if process.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"BasicSR run {options['name']} failed (exit {process.returncode}); see {log}:\n{tail}")
    return workdir / "experiments" / options["name"], log


def _advance(progress, log: Path, done: int) -> int:
    """Move ``progress`` to the last iteration BasicSR logged in ``log``; returns it."""
    found = ITER_LINE.findall(log.read_text(errors="replace"))
    latest = int(found[-1].replace(",", "")) if found else 0
    if latest > done:
        progress.update(latest - done)
    return max(latest, done)


# --------------------------------------------------------------------------------------------- evaluation
def load_generator(options: dict, weights: Path) -> torch.nn.Module:
    from rqi_loss.basicsr.compat import install_functional_tensor_alias

    install_functional_tensor_alias()
    from basicsr.archs.rrdbnet_arch import RRDBNet
    from basicsr.archs.srvgg_arch import SRVGGNetCompact

    classes = {"RRDBNet": RRDBNet, "SRVGGNetCompact": SRVGGNetCompact}  # not BasicSR's builder: it prints
    kwargs = {k: v for k, v in options["network_g"].items() if k != "type"}
    network = classes[options["network_g"]["type"]](**kwargs)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    key = "params_ema" if "params_ema" in state else "params"
    network.load_state_dict(state[key], strict=True)
    return network.eval()


def _tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]


@torch.no_grad()
def evaluate(
    generators: dict[tuple[int, str], torch.nn.Module], folders: dict[str, Path], rqi: str, results: Path
) -> tuple[list[dict], dict]:
    """Per held-out image, seed and arm (``generators``: (seed, arm) -> model; "before" has seed -1): RQI
    f(SR, GT) with the training judge (grid crops, no transforms) and the referees; every SR image saved under
    ``results/sr``. Returns the rows and the first seed's images for the comparison picture."""
    from rqi_loss import create_network
    from rqi_loss.functional import rqi_score

    judge = create_network(rqi)
    first_seed = min(seed for seed, _ in generators if seed >= 0)
    rows, images = [], {}
    for path in sorted(folders["heldout_hr"].iterdir()):
        gt, lq = _tensor(path), _tensor(folders["heldout_lr_x4"] / path.name)
        panels = {"LQ (nearest)": torch.nn.functional.interpolate(lq, scale_factor=SCALE, mode="nearest")}
        for (seed, arm), generator in generators.items():
            sr = generator(lq).clamp(0, 1)
            folder = results / "sr" / (arm if seed < 0 else f"seed{seed}_{arm}")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(finetune_outputs._to_uint8(sr)).save(folder / path.name)
            if seed in (-1, first_seed):
                panels[arm] = sr
            rqi_value = rqi_score(sr, gt, judge, crop="grid").item()
            rows.append({"image": path.stem, "seed": seed, "arm": arm, "rqi": rqi_value, **referee_scores(sr, gt)})
        images[path.stem] = {**panels, "GT": gt}
    return rows, images


def write_outputs(rows: list[dict], images: dict, logs: dict[str, Path], results: Path, title: str) -> str:
    """summary.csv, summary.md, comparison.png and loss_curves.png in ``results``; returns the summary."""
    summary = finetune_outputs.write_summary(rows, images, results, title, caption_metrics=("haarpsi", "vsi"))
    finetune_outputs.loss_curves(logs, results / "loss_curves.png", f"BasicSR losses; {title}")
    return summary


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(".cache/example"), help="data, experiments/ and results/")
    parser.add_argument("--rqi", default="tiny-kadid-synth", help="RQI network: zoo name or network folder")
    parser.add_argument(
        "--rqi-weight", type=float, default=DEFAULT_WEIGHT, help="lambda: the loss adds -lambda * f(SR, GT)"
    )
    parser.add_argument(
        "--rqi-max-score",
        type=float,
        help="cap on the reward: the loss adds -lambda * min(f(SR, GT), this), no push beyond it (RQILoss max_score)",
    )
    parser.add_argument(
        "--rqi-grey",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_GREY,
        help="the judge sees both images in grey, so the loss neither rewards nor moves colour (RQILoss grey); "
        "--no-rqi-grey: it judges the colours",
    )
    parser.add_argument("--pretrained", type=Path, help="Real-ESRGAN x4plus generator (.pth); skips the L1 warm-up")
    parser.add_argument("--data", type=Path, help="folder of HR training images (default: scikit-image photographs)")
    parser.add_argument("--iters", type=int, default=DEFAULT_ITERS, help="fine-tuning iterations of each arm")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; each fine-tunes both arms")
    parser.add_argument(
        "--degradation",
        choices=["paired", "realesrgan"],
        default=None,
        help="LR synthesis: 'paired' (bicubic LR, default without --pretrained: fast on a CPU) or 'realesrgan' "
        "(Real-ESRGAN's on-the-fly degradations, default with --pretrained)",
    )
    parser.add_argument("--warmup-iters", type=int, default=300, help="L1 warm-up iterations (compact generator)")
    parser.add_argument("--gt-size", type=int, default=DEFAULT_GT_SIZE, help="training patch side (HR pixels)")
    parser.add_argument(
        "--crop-border",
        type=int,
        default=DEFAULT_CROP_BORDER,
        help="pixels of each training patch's border the judge never sees (RQILoss crop_border)",
    )
    parser.add_argument(
        "--l1-target",
        choices=["sharpened", "plain"],
        default="plain",
        help="what both arms' L1 term compares with: the GT itself or the unsharp-masked GT (Real-ESRGAN's recipe)",
    )
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="training patches per iteration")
    parser.add_argument("--amp", choices=["bf16", "fp16", "auto"], help="mixed precision for the RQI network")
    parser.add_argument(
        "--no-transforms",
        action="store_true",
        help="RQI loss without its random transformations (the loss-side defence against judge hacking)",
    )
    parser.add_argument("--prepare-only", action="store_true", help="only write the image folders")
    args = parser.parse_args(argv)
    args.seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    return args


def changed_settings(args: argparse.Namespace) -> str:
    """The training settings that differ from the shipped defaults, for the summary's title (", batch 4", ...);
    "" for the defaults."""
    changed = [
        f"batch {args.batch}" if args.batch != DEFAULT_BATCH else "",
        f"{args.gt_size} px patches" if args.gt_size != DEFAULT_GT_SIZE else "",
        f"crop border {args.crop_border} px" if args.crop_border != DEFAULT_CROP_BORDER else "",
        "no random transformations" if args.no_transforms else "",
    ]
    return "".join(f", {setting}" for setting in changed if setting)


def fine_tune_arms(
    args: argparse.Namespace,
    folders: dict[str, Path],
    before_weights: Path,
    workdir: Path,
    bar,
    rqi_arm_options: dict | None = None,
    train_command: tuple[str, ...] = TRAIN_COMMAND,
):
    """Both arms for every seed; returns ({(seed, arm): generator}, {run name: BasicSR log}).
    ``rqi_arm_options`` changes the RQI arm's BasicSR options (a yardstick in its place; see ``merge_options``);
    a loss it names must be registered by the ``train_command`` process."""
    generators, logs = {}, {}
    for seed in args.seeds:
        for arm in ("control", "rqi"):  # the same fine-tune (seed, data, iterations), without and with RQI
            options = realesrgan_options(
                folders,
                iters=args.iters,
                gt_size=args.gt_size,
                batch=args.batch,
                rqi=args.rqi,
                rqi_weight=args.rqi_weight,
                pretrained=before_weights,
                amp=args.amp,
                name=f"{arm}_seed{seed}",
                transforms=not args.no_transforms,
                degradation=args.degradation or ("paired" if args.pretrained is None else "realesrgan"),
                seed=seed,
                crop_border=args.crop_border,
                l1_gt_usm=args.l1_target == "sharpened",
                max_score=args.rqi_max_score,
                grey=args.rqi_grey,
            )
            if arm == "control":
                del options["train"]["rqi_opt"]
            else:
                merge_options(options, rqi_arm_options or {})
            if args.pretrained is None:  # fine-tune the warm-up generator: same compact architecture
                options["network_g"] = generator_options(None)
                options["path"]["param_key_g"] = "params"
                options["network_d"]["num_feat"] = 16
                options["train"]["ema_decay"] = 0
            run_dir, logs[options["name"]] = run_basicsr(options, workdir, bar, train_command)
            generators[(seed, arm)] = load_generator(options, run_dir / "models" / f"net_g_{args.iters}.pth")
    return generators, logs


def main(
    argv: list[str] | None = None,
    *,
    rqi_arm_options: dict | None = None,
    train_command: tuple[str, ...] = TRAIN_COMMAND,
    rqi_arm_label: str | None = None,
) -> int:
    """The main job. ``rqi_arm_options``, ``train_command`` and ``rqi_arm_label``: the RQI arm's changed options
    (see ``fine_tune_arms``), the process that registers them, and what the summary's title says that arm adds
    (``bench/referee_loss.py``)."""
    from tqdm.auto import tqdm

    args = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    folders = prepare_data(workdir, args.data)
    if args.prepare_only:
        return 0
    total = (0 if args.pretrained else args.warmup_iters) + 2 * len(args.seeds) * args.iters
    with tqdm(total=total, unit="it", desc="BasicSR iterations") as bar:
        logs = {}
        if args.pretrained is None:
            warmup = warmup_options(folders, args.warmup_iters, args.gt_size, args.batch)
            before_dir, logs["before"] = run_basicsr(warmup, workdir, bar, train_command)
            before_weights = before_dir / "models" / f"net_g_{args.warmup_iters}.pth"
            before = load_generator(warmup, before_weights)
        else:
            before_weights = args.pretrained.resolve()
            before = load_generator({"network_g": generator_options(before_weights)}, before_weights)
        arms, arm_logs = fine_tune_arms(args, folders, before_weights, workdir, bar, rqi_arm_options, train_command)
    results = workdir / "results"
    rows, images = evaluate({(-1, "before"): before, **arms}, folders, args.rqi, results)
    label = rqi_arm_label or f"lambda {args.rqi_weight:g} x RQI ({args.rqi}), L1 against the {args.l1_target} GT"
    if args.rqi_max_score is not None and not rqi_arm_label:
        label += f", the reward capped at f = {args.rqi_max_score:g}"
    if args.rqi_grey and not rqi_arm_label:
        label += ", the judge seeing grey images"
    if rqi_arm_label and args.l1_target == "plain":
        label += ", L1 against the plain GT"
    title = f"x4 SR, {label}, {args.iters} iterations, seeds {args.seeds}{changed_settings(args)}"
    print(write_outputs(rows, images, {**logs, **arm_logs}, results, title))
    print(f"wrote {results}: summary.md, summary.csv, comparison.png, loss_curves.png, sr/; logs in {workdir / 'logs'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
