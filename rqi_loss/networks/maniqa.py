"""MANIQA-RQI: the relative-quality MANIQA network (ViT-B/8 features of both images, fused, attention head).

Computes what the authors' ``MANIQA_RQI`` computes, with the same state-dict keys, while running only the
ViT blocks that feed the head. Input (N, 3, 224, 224) in [0, 1]; output (N,) float32, unbounded (the
trained network predicts MOS differences normalised to about [-1, 1]).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .base import RQINetwork, at_least_float32, config_from_dict, config_to_dict
from .channel_attention import ChannelAttention
from .registry import register_architecture
from .swin import SwinStage
from .vit import ViTFeatures

_VIT_BLOCK_KEY = re.compile(r"vit\.blocks\.(\d+)\.")
_UNUSED_PREFIXES = (
    "vit.norm.",
    "vit.head.",
    "conv0_x2.",
    "swintransformer1.downsample.",
    "swintransformer2.downsample.",
)


@dataclass(frozen=True)
class MANIQARQIConfig:
    """Architecture of a MANIQA-RQI network. The defaults are the published ViT-B/8 network."""

    img_size: int = 224
    patch_size: int = 8
    vit_width: int = 768
    vit_heads: int = 12
    vit_mlp_ratio: float = 4.0
    taps: tuple[int, ...] = (6, 7, 8, 9)
    fuse_dim: int = 768
    embed_dim: int = 768
    num_channel_attention: int = 2
    swin_depths: tuple[int, ...] = (2, 2)
    swin_heads: tuple[int, ...] = (4, 4)
    swin_window: int = 4
    swin_mlp_hidden: int = 768
    swin_residual_scale: float = 0.8
    dropout: float = 0.1
    mean: tuple[float, ...] = field(default=(0.5, 0.5, 0.5))
    std: tuple[float, ...] = field(default=(0.5, 0.5, 0.5))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "MANIQARQIConfig":
        return config_from_dict(cls, values, "MANIQA-RQI")


def score_head(width: int, dropout: float, gate: bool) -> nn.Sequential:
    """Per-token MLP: Linear, ReLU, Dropout, Linear(-> 1), then Sigmoid for the weight branch."""
    layers: list[nn.Module] = [nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, 1)]
    if gate:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


@register_architecture
class MANIQARQI(RQINetwork):
    """MANIQA-RQI network; see the module docstring for the call contract."""

    architecture = "maniqa_rqi"
    backbone_parts = {"vit": "vit."}  # timm's vit_base_patch8_224 keys, as the authors' MANIQA starts from

    def __init__(self, **config: Any) -> None:
        cfg = MANIQARQIConfig.from_dict(config)
        super().__init__(cfg.img_size, cfg.mean, cfg.std)
        self.cfg = cfg
        grid = cfg.img_size // cfg.patch_size
        feature_dim = cfg.vit_width * len(cfg.taps)
        self.vit = ViTFeatures(
            img_size=cfg.img_size,
            patch_size=cfg.patch_size,
            width=cfg.vit_width,
            num_heads=cfg.vit_heads,
            mlp_ratio=cfg.vit_mlp_ratio,
            taps=cfg.taps,
        )
        self.conv0_x = nn.Conv2d(feature_dim, 2 * cfg.fuse_dim, 1)
        self.conv0_x1 = nn.Conv2d(feature_dim, cfg.fuse_dim, 1)
        tokens = grid * grid
        self.tablock1 = nn.ModuleList(ChannelAttention(tokens, cfg.dropout) for _ in range(cfg.num_channel_attention))
        self.conv1 = nn.Conv2d(4 * cfg.fuse_dim, cfg.embed_dim, 1)
        swin = dict(
            grid=grid,
            depths=cfg.swin_depths,
            num_heads=cfg.swin_heads,
            window=cfg.swin_window,
            mlp_hidden=cfg.swin_mlp_hidden,
            residual_scale=cfg.swin_residual_scale,
            dropout=cfg.dropout,
        )
        self.swintransformer1 = SwinStage(cfg.embed_dim, **swin)
        self.tablock2 = nn.ModuleList(ChannelAttention(tokens, cfg.dropout) for _ in range(cfg.num_channel_attention))
        self.conv2 = nn.Conv2d(cfg.embed_dim, cfg.embed_dim // 2, 1)
        self.swintransformer2 = SwinStage(cfg.embed_dim // 2, **swin)
        self.fc_score = score_head(cfg.embed_dim // 2, cfg.dropout, gate=False)
        self.fc_weight = score_head(cfg.embed_dim // 2, cfg.dropout, gate=True)

    @property
    def config(self) -> dict[str, Any]:
        return config_to_dict(self.cfg)

    @property
    def store_attention_probabilities(self) -> bool:
        """Whether the channel-attention blocks keep their 3072 x 3072 probabilities for the backward (fp32):
        False (default) recomputes them there, one more matmul per block for 38 MB less memory per sample and
        block; True keeps them (bench/loss_step.py measures both). Values and gradients are the same either way."""
        return all(block.store_probabilities for block in (*self.tablock1, *self.tablock2))

    @store_attention_probabilities.setter
    def store_attention_probabilities(self, value: bool) -> None:
        for block in (*self.tablock1, *self.tablock2):
            block.store_probabilities = bool(value)

    def is_unused_checkpoint_key(self, key: str) -> bool:
        """ViT blocks after the deepest tap, the ViT final norm and classifier, ``conv0_x2`` and the swin
        ``downsample`` convs: present in the authors' checkpoint, never used by the computation."""
        block = _VIT_BLOCK_KEY.match(key)
        if block:
            return int(block.group(1)) >= len(self.vit.blocks)
        return key.startswith(_UNUSED_PREFIXES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) normalised -> (N, 3072, 28, 28) tapped ViT features."""
        return self.vit(x)

    def compare(self, features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
        x = torch.cat(
            (self.conv0_x1(features_a), self.conv0_x1(features_b), self.conv0_x(features_a - features_b)), dim=1
        )
        x = self._channel_attention(x, self.tablock1)
        x = self.swintransformer1(self.conv1(x))
        x = self._channel_attention(x, self.tablock2)
        x = self.swintransformer2(self.conv2(x))
        tokens = x.flatten(2).transpose(1, 2).contiguous()  # (N, L, C); contiguous: one GEMM, the same bits each call
        if torch.is_autocast_enabled(tokens.device.type):  # the score heads and the weighted mean in fp32
            with torch.autocast(tokens.device.type, enabled=False):
                return self._weighted_score(tokens.float())
        return self._weighted_score(tokens)

    def _weighted_score(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, L, C) tokens -> (N,) sum(score * weight) / sum(weight) over the tokens, at least float32."""
        score = at_least_float32(self.fc_score(tokens))
        weight = at_least_float32(self.fc_weight(tokens))
        return ((score * weight).sum(dim=1) / (weight.sum(dim=1) + 1e-8)).squeeze(-1)

    @staticmethod
    def _channel_attention(x: torch.Tensor, blocks: nn.ModuleList) -> torch.Tensor:
        grid = x.shape[-1]
        x = x.flatten(2)
        for block in blocks:
            x = block(x)
        return x.unflatten(2, (grid, grid))
