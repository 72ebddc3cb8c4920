"""A bottleneck ResNet feature pyramid in timm's layout (the semantic backbone of TOPIQ-RQI).

Parameter and buffer names follow timm's ``ResNet`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layerK.0.downsample.{0,1}``), so timm's ImageNet weights load by name. :meth:`forward` returns what timm's
``features_only`` model returns: the stem's activation (stride 2) and each stage's output (strides 4 to 32).
Batch normalisation always runs on its stored statistics (the published models freeze it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 convolutions with a residual; ``downsample`` when the shape changes."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        return self.act3(x + shortcut)


class ResNetFeatures(nn.Module):
    """(N, 3, H, W) normalised -> [stem (N, stem, H/2, W/2), stage k (N, 4 * width_k, H/2^(k+2), W/2^(k+2))].

    ``depths`` (3, 4, 6, 3) with ``stem_width`` 64 is ResNet-50; the widths double from stage to stage.
    """

    def __init__(self, depths: Sequence[int] = (3, 4, 6, 3), stem_width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels, self.channels = stem_width, [stem_width]
        for stage, depth in enumerate(depths):
            width = stem_width * 2**stage
            blocks = []
            for index in range(depth):
                stride = 2 if index == 0 and stage > 0 else 1
                blocks.append(Bottleneck(channels, width, stride))
                channels = width * Bottleneck.expansion
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
            self.channels.append(channels)
        self.num_stages = len(depths)

    def train(self, mode: bool = True) -> ResNetFeatures:
        """The convolutions train; batch normalisation keeps its stored statistics in either mode."""
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act1(self.bn1(self.conv1(x)))
        features = [x]
        x = self.maxpool(x)
        for stage in range(self.num_stages):
            x = getattr(self, f"layer{stage + 1}")(x)
            features.append(x)
        return features
