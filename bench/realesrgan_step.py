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
from pathlib import Path

import torch

import rqi_loss.basicsr  # noqa: F401  (registrations, and the torchvision alias basicsr's imports need)

# isort: split
from basicsr.models import build_model

from rqi_loss.basicsr.realesrgan_model import RQIRealESRGANModel

from common import base_parser, hardware, main_job, report, time_side_by_side


class EveryBatchUSMModel(RQIRealESRGANModel):
    """The model as BasicSR's Real-ESRGAN model behaves on paired data: the sharpened GT made for every batch."""

    def feed_data(self, data: dict) -> None:
        super().feed_data(data)
        if "gt" in data:
            self.gt_usm  # noqa: B018  (the property makes it)


def model_options(folder: Path, l1_target: str, rqi: str, gt_size: int, batch: int) -> dict:
    """The main job's RQI-arm options (its defaults: compact generator, U-Net discriminator, paired data), ready
    for ``build_model`` with its outputs in ``folder``."""
    defaults = main_job()
    options = defaults.realesrgan_options(
        {key: folder / key for key in ("train_hr", "train_lr_x4")},
        iters=defaults.DEFAULT_ITERS,
        gt_size=gt_size,
        batch=batch,
        rqi=rqi,
        rqi_weight=defaults.DEFAULT_WEIGHT,
        pretrained=None,
        name="realesrgan_step",
        degradation="paired",
        crop_border=defaults.DEFAULT_CROP_BORDER,
        l1_gt_usm=l1_target == "sharpened",
        grey=defaults.DEFAULT_GREY,
    )
    options.update(is_train=True, dist=False, rank=0, world_size=1, num_gpu=0)
    outputs = ("experiments_root", "models", "training_states", "log", "visualization")
    options["path"].update(dict.fromkeys(outputs, str(folder)))
    return options


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--l1-target", choices=["plain", "sharpened"], default="plain")
    parser.add_argument("--rqi", default="tiny-kadid-synth")
    parser.add_argument("--gt-size", type=int, default=main_job().DEFAULT_GT_SIZE)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    gt = torch.rand(args.batch, 3, args.gt_size, args.gt_size, generator=generator)
    batch = {"gt": gt, "lq": torch.nn.functional.interpolate(gt, scale_factor=1 / main_job().SCALE, mode="bicubic")}
    with tempfile.TemporaryDirectory() as folder:
        options = model_options(Path(folder), args.l1_target, args.rqi, args.gt_size, args.batch)
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
