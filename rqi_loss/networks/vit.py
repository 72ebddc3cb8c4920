"""A plain ViT (patch embedding, class token, learned positions) that returns tapped block outputs.

Parameter names follow the common ViT layout (``cls_token``, ``pos_embed``, ``patch_embed.proj``,
``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``), so checkpoints of that layout load as they are.
Only the blocks up to the deepest tapped one are built and run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection: (N, 3, H, W) -> (N, H/p * W/p, width)."""

    def __init__(self, patch_size: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class SelfAttention(nn.Module):
    """Multi-head self-attention on (N, L, C) tokens, computed by ``scaled_dot_product_attention``."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        if width % num_heads:
            raise ValueError(f"width={width} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = rearrange(self.qkv(x), "n l (three heads d) -> three n heads l d", three=3, heads=self.num_heads)
        x = F.scaled_dot_product_attention(*qkv.unbind(0))
        return self.proj(rearrange(x, "n heads l d -> n l (heads d)"))


class Mlp(nn.Module):
    """Two linear layers with an exact GELU between them."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ViTBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, width: int, num_heads: int, mlp_hidden: int, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=eps)
        self.attn = SelfAttention(width, num_heads)
        self.norm2 = nn.LayerNorm(width, eps=eps)
        self.mlp = Mlp(width, mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTFeatures(nn.Module):
    """ViT feature extractor.

    Input (N, 3, S, S) normalised images, S = ``img_size``. Output (N, width * len(taps), S/p, S/p): the
    outputs of the tapped blocks (0-based, no final norm, class token dropped), concatenated on channels
    in tap order.
    """

    def __init__(
        self,
        *,
        img_size: int,
        patch_size: int,
        width: int,
        num_heads: int,
        mlp_ratio: float,
        taps: Sequence[int],
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size={img_size} must be divisible by patch_size={patch_size}")
        if not taps or sorted(set(taps)) != list(taps) or taps[0] < 0:
            raise ValueError(f"taps must be distinct, ascending block indices >= 0; got {list(taps)}")
        self.grid = img_size // patch_size
        self.taps = tuple(int(t) for t in taps)
        self.patch_embed = PatchEmbed(patch_size, width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid * self.grid + 1, width))
        hidden = int(width * mlp_ratio)
        depth = self.taps[-1] + 1
        self.blocks = nn.ModuleList(ViTBlock(width, num_heads, hidden, eps) for _ in range(depth))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        x = torch.cat((cls, tokens), dim=1) + self.pos_embed
        tapped = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.taps:
                tapped.append(x[:, 1:])
        features = torch.cat(tapped, dim=2)  # (N, L, width * taps)
        return features.transpose(1, 2).unflatten(2, (self.grid, self.grid))
