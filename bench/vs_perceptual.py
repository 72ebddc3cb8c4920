"""3. Cost of the RQI loss step relative to BasicSR's VGG19 PerceptualLoss and to LPIPS-VGG, same inputs.

    python bench/vs_perceptual.py [--device cpu|cuda] [--batch 4] [--size 256] [--amp bf16] [--json out.json]

All three with random weights (timing only; nothing is downloaded): BasicSR's PerceptualLoss with
Real-ESRGAN's layer weights (conv1_2 0.1, conv2_2 0.1, conv3_4 1, conv4_4 1, conv5_4 1), LPIPS (package
``lpips``) with its VGG16 trunk, RQILoss with the full-size MANIQA-RQI (``rqi``, one random 224 crop per image)
RQILoss with the full-size TOPIQ-RQI (``rqi_topiq``, ResNet-50, one random 256 crop per image) and with the full-size
AHIQ-RQI (``rqi_ahiq``, ViT-B/8 blocks 0-4 + ResNet-50 stage 1, one random 224 crop). Reports seconds per step
(forward + backward to SR) and peak memory, and each RQI judge's ratios to the others.
"""

from __future__ import annotations

from unittest import mock

import torch

from rqi_loss import RQILoss
from rqi_loss.networks import AHIQRQI, TOPIQRQI

from common import (
    base_parser,
    hardware,
    peak_memory,
    quiet_timm,
    random_pair,
    report,
    seeded_network,
    time_side_by_side,
)


def vgg_perceptual_loss(device: torch.device):
    import torchvision

    import rqi_loss.basicsr  # noqa: F401  (torchvision alias for basicsr's imports)

    # isort: split
    from basicsr.archs import vgg_arch
    from basicsr.losses.basic_loss import PerceptualLoss

    layers = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1, "conv4_4": 1, "conv5_4": 1}
    with mock.patch.object(vgg_arch.vgg, "vgg19", lambda **_: torchvision.models.vgg19(weights=None)):
        loss = PerceptualLoss(layers, vgg_type="vgg19", perceptual_weight=1.0, style_weight=0.0)
    return loss.to(device).eval().requires_grad_(False)


def lpips_vgg(device: torch.device):
    import lpips

    return (
        lpips.LPIPS(net="vgg", pretrained=False, pnet_rand=True, verbose=False).to(device).eval().requires_grad_(False)
    )


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    ours, _ = seeded_network(device)
    rqi = RQILoss(ours, crop="random", seed=0, amp=args.amp)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        topiq = RQILoss(TOPIQRQI().to(device), crop="random", seed=0, amp=args.amp)
        ahiq = RQILoss(AHIQRQI().to(device), crop="random", seed=0, amp=args.amp)
    vgg, lp = vgg_perceptual_loss(device), lpips_vgg(device)
    sr, gt = random_pair(args.batch, args.size, device)

    def step(fn):
        def run():
            x = sr.clone().requires_grad_(True)
            fn(x).backward()

        return run

    candidates = {
        "rqi": step(lambda x: rqi(x, gt)),
        "rqi_topiq": step(lambda x: topiq(x, gt)),
        "rqi_ahiq": step(lambda x: ahiq(x, gt)),
        "basicsr_vgg19_perceptual": step(lambda x: vgg(x, gt)[0]),
        "lpips_vgg": step(lambda x: lp(x, gt, normalize=True).mean()),
    }
    with quiet_timm():
        memory = {name: peak_memory(fn, device) for name, fn in candidates.items()}
        seconds = time_side_by_side(candidates, device, args.repeats)
    report(
        {
            "benchmark": "RQI loss step vs VGG perceptual losses (forward + backward to SR)",
            "hardware": hardware(device),
            "batch": args.batch,
            "size": args.size,
            "amp": args.amp,
            "seconds": seconds,
            "peak_memory_mib": {k: v / 2**20 for k, v in memory.items()},
            "rqi_time_ratio": {k: seconds["rqi"] / v for k, v in seconds.items() if k != "rqi"},
            "rqi_memory_ratio": {k: memory["rqi"] / v for k, v in memory.items() if k != "rqi"},
            "rqi_topiq_time_ratio": {k: seconds["rqi_topiq"] / v for k, v in seconds.items() if k != "rqi_topiq"},
            "rqi_topiq_memory_ratio": {k: memory["rqi_topiq"] / v for k, v in memory.items() if k != "rqi_topiq"},
            "rqi_ahiq_time_ratio": {k: seconds["rqi_ahiq"] / v for k, v in seconds.items() if k != "rqi_ahiq"},
            "rqi_ahiq_memory_ratio": {k: memory["rqi_ahiq"] / v for k, v in memory.items() if k != "rqi_ahiq"},
        },
        args.json,
    )


if __name__ == "__main__":
    main()
