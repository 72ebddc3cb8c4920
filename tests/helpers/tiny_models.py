"""Tiny network configurations of every architecture (fast, same code paths as the full-size ones) and
random image pairs, shared by the tests and their worker scripts."""

from __future__ import annotations

import torch

from rqi_loss.networks import MANIQARQI

# A MANIQA-RQI of the same code path as the published one, small enough for unit tests:
# 32x32 input, 4x4 token grid, 2 ViT blocks both tapped, one swin layer with plain + shifted windows.
TINY_MANIQA = dict(
    img_size=32,
    patch_size=8,
    vit_width=32,
    vit_heads=2,
    taps=[0, 1],
    fuse_dim=16,
    embed_dim=16,
    swin_depths=[2],
    swin_heads=[2],
    swin_window=2,
    swin_mlp_hidden=16,
)


def make_tiny_network(seed: int = 0, **overrides) -> MANIQARQI:
    """A seeded random tiny MANIQA-RQI in eval mode (the global RNG is restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = MANIQARQI(**{**TINY_MANIQA, **overrides})
        # Random heads give near-constant scores; spread the score branch so tests see real differences.
        torch.nn.init.normal_(network.fc_score[-1].weight, std=1.0)
    return network.eval()


TINY_AHIQ = dict(
    input_size=32, vit_width=16, vit_heads=2, vit_blocks=2, stem_width=8, cnn_blocks=2, fusion_hidden=16,
    regressor_dim=8, regressor_hidden=16,
)  # fmt: skip
TINY_TOPIQ = dict(
    input_size=32, depths=[1, 1, 1, 1], stem_width=8, inter_dim=16, num_heads=2, position_grid=4, dropout=0.0
)


def metric_images(count: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.rand(count, 3, 40, 40, generator=g), torch.rand(count, 3, 40, 40, generator=g)
