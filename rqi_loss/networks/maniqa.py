"""MANIQA-RQI: the relative-quality MANIQA network (ViT-B/8 features of both images, fused, attention head).

Computes what the authors' ``MANIQA_RQI`` computes, with the same state-dict keys, while running only the
ViT blocks that feed the head. Input (N, 3, 224, 224) in [0, 1]; output (N,) float32, unbounded (the
trained network predicts MOS differences normalised to about [-1, 1]).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import RQINetwork, at_least_float32, config_from_dict, config_to_dict
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


_HALF = (torch.float16, torch.bfloat16)


def channel_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """MANIQA's channel attention on (N, C, L) q, k, v (a C x C attention matrix per sample), returned
    transposed: (N, L, C) contiguous, (softmax(q k^T / sqrt(L)) v)^T. The reference reads that memory back as
    (N, C, L) (``out.transpose(1, 2).reshape(N, C, L)``), which is then a view.

    - fp16/bf16 (autocast) on CUDA: :class:`HalfChannelAttention` (fp32 logits and softmax, every matmul in half
      precision on tensor cores) writes the transposed product directly: no layout copy.
    - fp16/bf16 on the CPU: the step in fp32 (faster there than bf16 matmuls;
      bench/results/cpu/channel_attention_bf16.json), then the transpose.
    - fp32/fp64: ``scaled_dot_product_attention``, then the transpose. On the CPU, explicit fp32 matmuls were
      tried and dropped: the loss step took 0.967x / 0.995x the SDPA step's time in two runs and its forward
      1.007x / 1.043x, for 11% more peak memory (the C x C matrices kept for the backward;
      bench/results/cpu/versus_revision_maniqa_b4*.json).
    """
    if q.dtype not in _HALF:
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).contiguous()
    if q.is_cuda:
        return HalfChannelAttention.apply(q, k, v)
    with torch.autocast(q.device.type, enabled=False):
        logits = torch.matmul(q.float(), k.float().transpose(1, 2)) * q.shape[-1] ** -0.5
        out = torch.matmul(torch.softmax(logits, dim=-1), v.float())
        return out.to(q.dtype).transpose(1, 2).contiguous()


def _matmul_fp32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b of half-precision batches with an fp32 result: cuBLAS' fp32 output where torch offers it (the
    products are accumulated in fp32 either way), else the operands upcast."""
    if a.is_cuda and _cuda_bmm_has_out_dtype():
        return torch.bmm(a, b, out_dtype=torch.float32)
    return torch.bmm(a.float(), b.float())


@functools.cache
def _cuda_bmm_has_out_dtype() -> bool:
    try:
        x = torch.zeros(1, 8, 8, device="cuda", dtype=torch.bfloat16)
        return torch.bmm(x, x, out_dtype=torch.float32).dtype == torch.float32
    except (TypeError, RuntimeError):
        return False


class HalfChannelAttention(torch.autograd.Function):
    """Channel attention for fp16/bf16 q, k, v (N, C, L), output transposed as :func:`channel_attention`'s:
    (N, L, C) = (P v)^T = v^T P^T, written directly by the matmul (cuBLAS takes transposed operands as they are).
    fp32 logits S = q k^T / sqrt(L) (no overflow, no rounding of the logits), fp32 softmax P, P rounded to the
    input dtype for the product with v (as flash attention does). The backward is written out (dP = dO v^T and
    dS = P (dP - rowsum(dP P)) in fp32, the products with q, k, v in half precision) so that no C x C matrix is
    stored in half precision and no fp32 matmul runs."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with torch.autocast(q.device.type, enabled=False):
            scale = q.shape[-1] ** -0.5
            probabilities = torch.softmax(_matmul_fp32(q, k.transpose(1, 2)) * scale, dim=-1)
            out_transposed = torch.bmm(v.transpose(1, 2), probabilities.to(v.dtype).transpose(1, 2))
        ctx.save_for_backward(q, k, v, probabilities)
        return out_transposed

    @staticmethod
    def backward(ctx, grad_out_transposed: torch.Tensor):
        q, k, v, probabilities = ctx.saved_tensors
        with torch.autocast(q.device.type, enabled=False):
            grad_out = grad_out_transposed.to(v.dtype).transpose(1, 2)  # dO (N, C, L), a view
            scale = q.shape[-1] ** -0.5
            grad_v = torch.bmm(probabilities.to(v.dtype).transpose(1, 2), grad_out)
            grad_p = _matmul_fp32(grad_out, v.transpose(1, 2))
            grad_logits = probabilities * (grad_p - (grad_p * probabilities).sum(dim=-1, keepdim=True))
            grad_logits = (grad_logits * scale).to(q.dtype)
            grad_q = torch.bmm(grad_logits, k)
            grad_k = torch.bmm(grad_logits.transpose(1, 2), q)
        return grad_q, grad_k, grad_v


class ChannelAttention(nn.Module):
    """MANIQA's transposed attention block on (N, C, L): attention between channels, L-dim projections.

    The output keeps the reference layout step (the product transposed and read back as (N, C, L)) so trained
    weights give the published scores; :func:`channel_attention` returns the transposed product, so that step is
    a view here.
    """

    def __init__(self, length: int, dropout: float) -> None:
        super().__init__()
        self.c_q = nn.Linear(length, length)
        self.c_k = nn.Linear(length, length)
        self.c_v = nn.Linear(length, length)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, length = x.shape
        out = channel_attention(self.c_q(x), self.c_k(x), self.c_v(x))  # (N, L, C) contiguous
        out = out.view(n, channels, length)
        return self.proj_drop(out) + x


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
