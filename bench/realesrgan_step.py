"""Cost of making the unsharp-masked GT for every batch: one training iteration of RQIRealESRGANModel on paired
data (the main job's: compact generator, 160 px GT patches, batch 2, L1 + GAN + RQI) with the sharpened GT made
only when a term uses it (what the model does) against made for every batch (what BasicSR's Real-ESRGAN model
does), timed side by side in interleaved rounds.

    python bench/realesrgan_step.py --repeats 20 --json bench/results/cpu/realesrgan_step.json

With every target plain (``--l1-target plain``, the main job's default) no term uses the sharpened GT; with
``--l1-target sharpened`` the L1 term does, and both candidates make it once per batch.
"""

from __future__ import annotations

import copy
import tempfile

import torch

import rqi_loss.basicsr  # noqa: F401  (registrations, and the torchvision alias basicsr's imports need)

# isort: split
from basicsr.models import build_model

from rqi_loss.basicsr.realesrgan_model import RQIRealESRGANModel

from common import base_parser, hardware, report, time_side_by_side

SCALE = 4


class EveryBatchUSMModel(RQIRealESRGANModel):
    """The model as BasicSR's Real-ESRGAN model behaves on paired data: the sharpened GT made for every batch."""

    def feed_data(self, data: dict) -> None:
        super().feed_data(data)
        if "gt" in data:
            self.gt_usm  # noqa: B018  (the property makes it)


def model_options(folder: str, l1_gt_usm: bool, rqi: str, gt_size: int) -> dict:
    """BasicSR options of the main job's RQI arm (compact generator, U-Net discriminator, paired data)."""
    return {
        "name": "realesrgan_step",
        "model_type": "RQIRealESRGANModel",
        "scale": SCALE,
        "num_gpu": 0,
        "is_train": True,
        "dist": False,
        "rank": 0,
        "world_size": 1,
        "high_order_degradation": False,
        "l1_gt_usm": l1_gt_usm,
        "percep_gt_usm": True,
        "gan_gt_usm": False,
        "gt_size": gt_size,
        "network_g": {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 32, "num_conv": 8,
                      "upscale": SCALE, "act_type": "prelu"},
        "network_d": {"type": "UNetDiscriminatorSN", "num_in_ch": 3, "num_feat": 16, "skip_connection": True},
        "path": {"pretrain_network_g": None, "resume_state": None, "strict_load_g": True, "experiments_root": folder,
                 "models": folder, "training_states": folder, "log": folder, "visualization": folder},
        "train": {
            "ema_decay": 0,
            "optim_g": {"type": "Adam", "lr": 1e-4, "betas": [0.9, 0.99]},
            "optim_d": {"type": "Adam", "lr": 1e-4, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [1000], "gamma": 0.5},
            "total_iter": 1000,
            "warmup_iter": -1,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0, "reduction": "mean"},
            "gan_opt": {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 0.01},
            "rqi_opt": {"type": "RQILoss", "model": rqi, "loss_weight": 0.002, "crop": "random", "transforms": True,
                        "crop_border": 16, "seed": 0},
            "net_d_iters": 1,
            "net_d_init_iters": 0,
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--l1-target", choices=["plain", "sharpened"], default="plain")
    parser.add_argument("--rqi", default="tiny-kadid-synth")
    parser.add_argument("--gt-size", type=int, default=160)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    gt = torch.rand(args.batch, 3, args.gt_size, args.gt_size, generator=generator)
    batch = {"gt": gt, "lq": torch.nn.functional.interpolate(gt, scale_factor=1 / SCALE, mode="bicubic")}
    with tempfile.TemporaryDirectory() as folder:
        options = model_options(folder, args.l1_target == "sharpened", args.rqi, args.gt_size)
        models = {"on use": build_model(options), "every batch": EveryBatchUSMModel(copy.deepcopy(options))}
    steps = dict.fromkeys(models, 0)

    def iteration(name: str) -> None:
        steps[name] += 1
        models[name].feed_data({key: value.clone() for key, value in batch.items()})
        models[name].optimize_parameters(steps[name])

    times = time_side_by_side(
        {name: (lambda bound=name: iteration(bound)) for name in models}, device, args.repeats, warmup=2
    )
    result = {
        "hardware": hardware(device),
        "l1_target": args.l1_target,
        "gt_size": args.gt_size,
        "batch": args.batch,
        "seconds": times,
        "ratio_every_batch_to_on_use": times["every batch"] / times["on use"],
    }
    report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
