"""TOPIQ-RQI: the full-reference TOPIQ network (CFANet: ResNet-50 semantics, top-down cross-scale attention) as an
RQI network f(A, B), A judged against B.

The computation is TOPIQ-FR's (pyiqa's ``CFANet`` with ``use_ref=True``), with the RQI changes: the score has no
final activation (it is a signed relative quality), and the network is trained on relative labels. Parameter
names follow pyiqa's layout (``semantic_model.*`` in timm's ResNet names, ``weight_pool``, ``dim_reduce``,
``sa_attn_blks``, ``attn_blks``, ``attn_pool``, ``score_linear``, ``h_emb``, ``w_emb``), so its published
checkpoints load strictly; the cross-attention layers' ``self_attn`` weights, which TOPIQ's computation never
uses, are declared unused.

Per level, coarse to fine: the features of A and B and their distance sqrt((a - b)^2 + 1e-12) are gated by a
weight map of the distance, pooled to the coarsest grid, reduced to ``inter_dim`` channels, given a learned
position embedding and self-attention; the coarsest tokens then attend to each finer level in turn, and an
attention layer, a token mean and an MLP give the score.
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

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_UNUSED_DECODER_SELF_ATTENTION = re.compile(r"attn_blks\.\d+\.layers\.\d+\.self_attn\.")


@dataclass(frozen=True)
class TOPIQRQIConfig:
    """Architecture of a TOPIQ-RQI network. The defaults are TOPIQ-FR with its ResNet-50."""

    input_size: int = 256
    depths: tuple[int, ...] = (3, 4, 6, 3)
    stem_width: int = 64
    inter_dim: int = 256
    num_heads: int = 4
    num_attn_layers: int = 1
    position_grid: int = 32
    dropout: float = 0.1
    mean: tuple[float, ...] = field(default=IMAGENET_MEAN)
    std: tuple[float, ...] = field(default=IMAGENET_STD)


class EncoderLayer(nn.Module):
    """Pre-norm self-attention and GELU MLP on (L, N, C) tokens, both residual."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.linear1, self.linear2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(tokens)
        tokens = tokens + self.dropout1(self.self_attn(normed, normed, normed, need_weights=False)[0])
        hidden = self.dropout(F.gelu(self.linear1(self.norm2(tokens))))
        return tokens + self.dropout2(self.linear2(hidden))


class DecoderLayer(nn.Module):
    """Pre-norm cross-attention of (L, N, C) queries to (M, N, C) memory, then a GELU MLP, both residual."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.linear1, self.linear2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        memory = self.norm2(memory)
        attended = self.multihead_attn(self.norm1(queries), memory, memory, need_weights=False)[0]
        queries = queries + self.dropout2(attended)
        hidden = self.dropout(F.gelu(self.linear1(self.norm3(queries))))
        return queries + self.dropout3(self.linear2(hidden))


class LayerStack(nn.Module):
    """``layers``: the same layer type applied in turn (pyiqa's ``TransformerEncoder``/``Decoder`` keys)."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, tokens: torch.Tensor, *memory: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            tokens = layer(tokens, *memory)
        return tokens


def _gate(channels: int) -> nn.Sequential:
    """A (N, channels, h, w) distance map -> (N, 1, h, w) weights in (0, 1)."""
    return nn.Sequential(
        nn.Conv2d(channels, 64, 1),
        nn.GELU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(64, 1, 3, padding=1),
        nn.Sigmoid(),
    )


@register_architecture
class TOPIQRQI(RQINetwork):
    """See the module docstring. Inputs (N, 3, S, S) in [0, 1], S = ``input_size``; output (N,) float32."""

    architecture = "topiq_rqi"
    backbone_parts = {"resnet": "semantic_model."}  # timm's resnet50 keys (its classifier is declared unused)

    def __init__(self, **config: Any) -> None:
        cfg = config_from_dict(TOPIQRQIConfig, config, "TOPIQ-RQI")
        super().__init__(cfg.input_size, cfg.mean, cfg.std)
        self.cfg = cfg
        self.semantic_model = ResNetFeatures(cfg.depths, cfg.stem_width)
        dim, heads, layers = cfg.inter_dim, cfg.num_heads, cfg.num_attn_layers
        hidden = min(4 * dim, 2048)
        channels = self.semantic_model.channels
        self.weight_pool = nn.ModuleList(_gate(c) for c in channels)
        self.dim_reduce = nn.ModuleList(nn.Sequential(nn.Conv2d(3 * c, dim, 1), nn.GELU()) for c in channels)
        self.sa_attn_blks = nn.ModuleList(
            LayerStack([EncoderLayer(dim, heads, hidden, cfg.dropout) for _ in range(layers)]) for _ in channels
        )
        self.attn_blks = nn.ModuleList(
            LayerStack([DecoderLayer(dim, heads, hidden, cfg.dropout) for _ in range(layers)]) for _ in channels[1:]
        )
        self.attn_pool = EncoderLayer(dim, heads, hidden, cfg.dropout)
        self.score_linear = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(),
            nn.Linear(dim, 1),
        )  # fmt: skip
        self.h_emb = nn.Parameter(torch.zeros(1, dim // 2, cfg.position_grid, 1))
        self.w_emb = nn.Parameter(torch.zeros(1, dim // 2, 1, cfg.position_grid))
        nn.init.trunc_normal_(self.h_emb, std=0.02)
        nn.init.trunc_normal_(self.w_emb, std=0.02)
        for module in (self.dim_reduce, self.sa_attn_blks, self.attn_blks, self.attn_pool):
            for linear in (m for m in module.modules() if isinstance(m, nn.Linear)):
                nn.init.kaiming_normal_(linear.weight)
                nn.init.zeros_(linear.bias)

    @property
    def config(self) -> dict[str, Any]:
        return config_to_dict(self.cfg)

    def is_unused_checkpoint_key(self, key: str) -> bool:
        """The cross-attention layers' ``self_attn`` (built by pyiqa, never called) and a ResNet classifier."""
        return bool(_UNUSED_DECODER_SELF_ATTENTION.match(key)) or key.startswith("semantic_model.fc.")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, S, S) normalised -> the ResNet's 5 feature maps, strides 2 to 32."""
        return self.semantic_model(x)

    def compare(self, features_a: list[torch.Tensor], features_b: list[torch.Tensor]) -> torch.Tensor:
        _, _, top_h, top_w = features_a[-1].shape
        grid = self.cfg.position_grid
        position = torch.cat((self.h_emb.repeat(1, 1, 1, grid), self.w_emb.repeat(1, 1, grid, 1)), dim=1)
        tokens = []
        for level in reversed(range(len(features_a))):
            a, b = features_a[level], features_b[level]
            distance = torch.sqrt((a - b) ** 2 + 1e-12)
            gated = torch.cat((a, b, distance), dim=1) * self.weight_pool[level](distance)
            if gated.shape[2] > top_h and gated.shape[3] > top_w:
                gated = F.adaptive_avg_pool2d(gated, (top_h, top_w))
            level_position = F.interpolate(position, size=gated.shape[2:], mode="bicubic", align_corners=False)
            level_tokens = self.dim_reduce[level](gated).flatten(2).permute(2, 0, 1)  # (L, N, C)
            tokens.append(self.sa_attn_blks[level](level_tokens + level_position.flatten(2).permute(2, 0, 1)))
        query = tokens[0]
        for stack, finer in zip(self.attn_blks, tokens[1:]):
            query = stack(query, finer)
        return at_least_float32(self.score_linear(self.attn_pool(query).mean(dim=0))).squeeze(-1)
