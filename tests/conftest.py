"""Shared fixtures: a tiny network, an image pair, a tmp_path freed at the end, and the local Hub's (from
tests/helpers/hub_fixtures.py). The helpers themselves live in tests/helpers, on pytest's pythonpath."""

from __future__ import annotations

import shutil

import pytest
import torch

from rqi_loss.networks import MANIQARQI

from tiny_models import make_tiny_network

pytest_plugins = ["hub_fixtures"]  # the local Hub fixtures (hub, hf_env), in tests/helpers


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
