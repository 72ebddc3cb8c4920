"""Shared fixtures: tiny network configurations (fast) and helpers."""

from __future__ import annotations

import shutil

import pytest
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


@pytest.fixture
def tiny_network() -> MANIQARQI:
    return make_tiny_network()


@pytest.fixture
def image_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """(2, 3, 40, 48) sr/gt in [0, 1] from a private generator."""
    g = torch.Generator().manual_seed(123)
    return torch.rand(2, 3, 40, 48, generator=g), torch.rand(2, 3, 40, 48, generator=g)


@pytest.fixture
def freed_tmp_path(tmp_path):
    """tmp_path, deleted once the test ends: for tests that write full-size weights (hundreds of MB), so
    that pytest's last three kept runs do not fill a small disk."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
