"""AHIQ-RQI: the full-reference AHIQ network (ViT-B/8 and ResNet-50 features, deformable fusion, pixel-wise
weighted score) as an RQI network f(A, B), A judged against B.

The computation is pyiqa's ``AHIQ`` (``regress_score``) with the RQI reading: the score is already linear (no
final activation to remove) and is trained on relative labels. Parameter names follow pyiqa's layout
(``vit.*`` and ``resnet50.*`` in timm's names, ``deform_net.*``, ``regressor.*``), so its checkpoints load
strictly; the backbone parts its computation never uses (ViT blocks after the fifth, its final norm and
classifier, ResNet stages 2-4 and classifier) are declared unused.

Per image: the outputs of ViT blocks 0-4 without the class token (5 x 768 channels on the 28 x 28 patch grid)
and of ResNet-50's first three bottleneck blocks (3 x 256 channels at stride 4). The CNN features of both images
are resampled by a deformable 3x3 convolution whose offsets come from B's ViT features, then fused with the ViT
features; the score is the attention-weighted mean of a per-pixel prediction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import RQINetwork, at_least_float32, config_from_dict, config_to_dict
from .registry import register_architecture
from .resnet import ResNetFeatures
from .topiq import IMAGENET_MEAN, IMAGENET_STD
from .vit import ViTFeatures

_VIT_BLOCK = re.compile(r"vit\.blocks\.(\d+)\.")
_UNUSED_PREFIXES = (
    "vit.norm.",
    "vit.head.",
    "resnet50.layer2.",
    "resnet50.layer3.",
    "resnet50.layer4.",
    "resnet50.fc.",
)


@dataclass(frozen=True)
class AHIQRQIConfig:
    """Architecture of an AHIQ-RQI network. The defaults are AHIQ's (ViT-B/8 and ResNet-50 at 224 px)."""

    input_size: int = 224
    patch_size: int = 8
    vit_width: int = 768
    vit_heads: int = 12
    vit_blocks: int = 5
    stem_width: int = 64
    cnn_blocks: int = 3
    fusion_hidden: int = 512
    regressor_dim: int = 256
    regressor_hidden: int = 1024
    mean: tuple[float, ...] = field(default=IMAGENET_MEAN)
    std: tuple[float, ...] = field(default=IMAGENET_STD)


def deform_conv3x3(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Deformable 3x3 convolution, stride 1, padding 1 (torchvision's ``deform_conv2d`` semantics, in torch alone).

    ``x`` (N, C, H, W); ``offset`` (N, 18, H, W), (dy, dx) per kernel position in row-major order; ``weight``
    (O, C, 3, 3). Each tap is sampled bilinearly at its shifted position, zero outside the image.
    """
    n, _, height, width = x.shape
    rows = torch.arange(height, device=x.device, dtype=x.dtype).view(1, height, 1)
    cols = torch.arange(width, device=x.device, dtype=x.dtype).view(1, 1, width)
    taps = []
    for k in range(9):
        y = rows + (k // 3 - 1) + offset[:, 2 * k]
        x_pos = cols + (k % 3 - 1) + offset[:, 2 * k + 1]
        grid = torch.stack((2 * x_pos / (width - 1) - 1, 2 * y / (height - 1) - 1), dim=-1)  # (N, H, W, 2)
        taps.append(F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True))
    sampled = torch.stack(taps, dim=2)  # (N, C, 9, H, W)
    out = torch.einsum("nckhw,ock->nohw", sampled, weight.flatten(2))
    return out + bias.view(1, -1, 1, 1)


class DeformConv3x3(nn.Module):
    """Holds a deformable 3x3 convolution's ``weight`` and ``bias`` (torchvision's ``DeformConv2d`` keys)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)  # its default initialisation
        self.weight, self.bias = conv.weight, conv.bias

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return deform_conv3x3(x, offset, self.weight, self.bias)


class DeformFusion(nn.Module):
    """CNN features (N, cnn, 2g, 2g) resampled by offsets from ViT features (N, vit, g, g) -> (N, cnn, g, g)."""

    def __init__(self, vit_channels: int, cnn_channels: int, hidden: int) -> None:
        super().__init__()
        self.conv_offset = nn.Conv2d(vit_channels, 18, 3, padding=1)
        self.deform = DeformConv3x3(cnn_channels, cnn_channels)
        self.conv1 = nn.Sequential(
            nn.Conv2d(cnn_channels, hidden, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, cnn_channels, 3, padding=1),
        )

    def forward(self, cnn: torch.Tensor, vit: torch.Tensor) -> torch.Tensor:
        offset = self.conv_offset(F.interpolate(vit, size=cnn.shape[-2:], mode="nearest"))
        return self.conv1(self.deform(cnn, offset))


class PixelPrediction(nn.Module):
    """Fused features of A and B -> (N,) the attention-weighted mean of a per-pixel score."""

    def __init__(self, in_channels: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.down_channel = nn.Conv2d(in_channels, dim, 1)
        self.feat_smoothing = nn.Sequential(
            nn.Conv2d(3 * dim, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 2 * dim, 3, padding=1)
        )
        self.conv1 = nn.Sequential(nn.Conv2d(2 * dim, dim, 3, padding=1), nn.ReLU())
        self.conv_attent = nn.Sequential(nn.Conv2d(dim, 1, 1), nn.Sigmoid())
        self.conv = nn.Sequential(nn.Conv2d(dim, 1, 1))

    def forward(
        self, vit_a: torch.Tensor, vit_b: torch.Tensor, cnn_a: torch.Tensor, cnn_b: torch.Tensor
    ) -> torch.Tensor:
        a = self.down_channel(torch.cat((vit_a, cnn_a), 1))
        b = self.down_channel(torch.cat((vit_b, cnn_b), 1))
        features = self.conv1(self.feat_smoothing(torch.cat((a - b, a, b), 1)))
        score, weight = self.conv(features), self.conv_attent(features)
        return (score * weight).sum(dim=(2, 3)).squeeze(1) / weight.sum(dim=(2, 3)).squeeze(1)


@register_architecture
class AHIQRQI(RQINetwork):
    """See the module docstring. Inputs (N, 3, S, S) in [0, 1], S = ``input_size``; output (N,) float32."""

    architecture = "ahiq_rqi"
    backbone_parts = {"vit": "vit.", "resnet": "resnet50."}  # timm's vit_base_patch8_224 and resnet50 keys

    def __init__(self, **config: Any) -> None:
        cfg = config_from_dict(AHIQRQIConfig, config, "AHIQ-RQI")
        super().__init__(cfg.input_size, cfg.mean, cfg.std)
        self.cfg = cfg
        self.vit = ViTFeatures(
            img_size=cfg.input_size,
            patch_size=cfg.patch_size,
            width=cfg.vit_width,
            num_heads=cfg.vit_heads,
            mlp_ratio=4.0,
            taps=tuple(range(cfg.vit_blocks)),
        )
        self.resnet50 = ResNetFeatures((cfg.cnn_blocks,), cfg.stem_width)
        vit_channels, cnn_channels = cfg.vit_width * cfg.vit_blocks, 4 * cfg.stem_width * cfg.cnn_blocks
        self.deform_net = DeformFusion(vit_channels, cnn_channels, cfg.fusion_hidden)
        self.regressor = PixelPrediction(vit_channels + cnn_channels, cfg.regressor_dim, cfg.regressor_hidden)

    @property
    def config(self) -> dict[str, Any]:
        return config_to_dict(self.cfg)

    def is_unused_checkpoint_key(self, key: str) -> bool:
        block = _VIT_BLOCK.match(key)
        if block:
            return int(block.group(1)) >= self.cfg.vit_blocks
        return key.startswith(_UNUSED_PREFIXES)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, S, S) normalised -> (ViT blocks 0-4 on the patch grid, ResNet's first bottleneck outputs)."""
        resnet = self.resnet50
        cnn = resnet.maxpool(resnet.act1(resnet.bn1(resnet.conv1(x))))
        outputs = []
        for block in resnet.layer1:
            cnn = block(cnn)
            outputs.append(cnn)
        return self.vit(x), torch.cat(outputs, dim=1)

    def compare(self, features_a: tuple[torch.Tensor, ...], features_b: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (vit_a, cnn_a), (vit_b, cnn_b) = features_a, features_b
        fused_a, fused_b = self.deform_net(cnn_a, vit_b), self.deform_net(cnn_b, vit_b)  # offsets from B alone
        return at_least_float32(self.regressor(vit_a, vit_b, fused_a, fused_b))
