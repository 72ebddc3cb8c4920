"""Swin stages of the MANIQA head: windowed self-attention with relative position bias on a square grid.

Parameter and buffer names follow the MANIQA layout (``layers.I.conv``, ``layers.I.blocks.J.attn.*``,
``layers.I.blocks.J.attn_mask``) so the authors' checkpoints load strictly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .vit import Mlp


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(N, H, W, C) -> (N, nW, window * window, C), windows in row-major order."""
    return rearrange(x, "n (rows p) (cols q) c -> n (rows cols) (p q) c", p=window, q=window)


def window_merge(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (N, nW, window * window, C) -> (N, H, W, C)."""
    return rearrange(windows, "n (rows cols) (p q) c -> n (rows p) (cols q) c", rows=h // window, p=window)


def relative_position_index(window: int) -> torch.Tensor:
    """(window^2, window^2) int64 index into the (2 * window - 1)^2 relative-bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]


def shifted_window_mask(grid: int, window: int, shift: int) -> torch.Tensor:
    """(nW, window^2, window^2) additive mask (0 or -100) that keeps shifted windows from mixing regions."""
    region = torch.zeros(1, grid, grid, 1)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for rows in bounds:
        for cols in bounds:
            region[:, rows, cols, :] = label
            label += 1
    labels = window_partition(region, window).squeeze(-1).squeeze(0)  # (nW, window^2)
    differs = labels.unsqueeze(1) != labels.unsqueeze(2)
    return torch.zeros(differs.shape).masked_fill(differs, -100.0)


class WindowAttention(nn.Module):
    """Multi-head attention inside windows, with a learned relative position bias per head."""

    def __init__(self, dim: int, window: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"swin dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.window = window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (N, nW, T, C) window tokens; mask: (nW, T, T) additive or None. Returns (N, nW, T, C)."""
        n, num_windows, tokens, _ = x.shape
        qkv = rearrange(self.qkv(x), "n w t (three heads d) -> three (n w) heads t d", three=3, heads=self.num_heads)
        q, k, v = qkv.unbind(0)  # (N * nW, heads, T, d)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(tokens, tokens, self.num_heads).permute(2, 0, 1)  # (heads, T, T)
        if mask is not None:
            bias = bias.unsqueeze(0) + mask.unsqueeze(1)  # (nW, heads, T, T)
            bias = bias.unsqueeze(0).expand(n, -1, -1, -1, -1).reshape(n * num_windows, self.num_heads, tokens, tokens)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(rearrange(out, "(n w) heads t d -> n w t (heads d)", n=n))


class SwinBlock(nn.Module):
    """Swin block on (N, grid * grid, C) tokens: (shifted) window attention, then an MLP, both residual."""

    def __init__(self, dim: int, grid: int, num_heads: int, window: int, shift: int, mlp_hidden: int) -> None:
        super().__init__()
        if grid <= window:
            window, shift = grid, 0
        if grid % window:
            raise ValueError(f"feature grid {grid} must be divisible by the swin window {window}")
        self.grid, self.window, self.shift = grid, window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_hidden)
        mask = shifted_window_mask(grid, window, shift) if shift else None
        self.register_buffer("attn_mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = rearrange(self.norm1(x), "n (h w) c -> n h w c", h=self.grid)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        y = self.attn(window_partition(y, self.window), self.attn_mask)
        y = window_merge(y, self.window, self.grid, self.grid)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + rearrange(y, "n h w c -> n (h w) c")
        return x + self.mlp(self.norm2(x))


class SwinLayer(nn.Module):
    """Swin blocks (alternating plain and shifted windows) followed by a 3x3 conv and ReLU."""

    def __init__(self, dim: int, grid: int, depth: int, num_heads: int, window: int, mlp_hidden: int) -> None:
        super().__init__()
        self.grid = grid
        self.blocks = nn.ModuleList(
            SwinBlock(dim, grid, num_heads, window, 0 if i % 2 == 0 else window // 2, mlp_hidden) for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        image = x.transpose(1, 2).unflatten(2, (self.grid, self.grid))  # (N, C, grid, grid), a view
        return F.relu(self.conv(image)).flatten(2).transpose(1, 2)


class SwinStage(nn.Module):
    """(N, C, grid, grid) -> (N, C, grid, grid): layers with scaled residuals, x = scale * layer(x) + x."""

    def __init__(
        self,
        dim: int,
        grid: int,
        depths: Sequence[int],
        num_heads: Sequence[int],
        window: int,
        mlp_hidden: int,
        residual_scale: float,
        dropout: float,
    ) -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"swin depths {list(depths)} and num_heads {list(num_heads)} differ in length")
        self.grid = grid
        self.residual_scale = residual_scale
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            SwinLayer(dim, grid, depth, heads, window, mlp_hidden) for depth, heads in zip(depths, num_heads)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(x).flatten(2).transpose(1, 2)  # (N, L, C), a view
        for layer in self.layers:
            x = self.residual_scale * layer(x) + x
        return x.transpose(1, 2).unflatten(2, (self.grid, self.grid))
