"""The MANIQA-RQI network: contract, configs, strict checkpoint loading."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import create_network, list_models
from rqi_loss.networks import MANIQARQI, build_network, load_network_state

from tiny_models import TINY_MANIQA, make_tiny_network


def test_contract(tiny_network):
    g = torch.Generator().manual_seed(0)
    sr, gt = torch.rand(3, 3, 32, 32, generator=g), torch.rand(3, 3, 32, 32, generator=g)
    with torch.no_grad():
        scores = tiny_network(sr, gt)
    assert scores.shape == (3,) and scores.dtype == torch.float32
    assert tiny_network.higher_is_better is True and tiny_network.input_size == 32
    assert torch.isfinite(scores).all() and scores.std() > 0


def test_batched_equals_single(tiny_network):
    g = torch.Generator().manual_seed(1)
    sr, gt = torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)
    with torch.no_grad():
        batched = tiny_network(sr, gt)
        single = torch.cat([tiny_network(sr[i : i + 1], gt[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-6)


def test_normalisation_comes_from_config():
    a = make_tiny_network(seed=3)
    b = make_tiny_network(seed=3, mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(a.extract(x), b.extract(x * 2 - 1))


def test_only_tapped_blocks_are_built():
    full = MANIQARQI()
    assert len(full.vit.blocks) == 10
    assert full.config["taps"] == [6, 7, 8, 9]


def test_config_round_trip(tiny_network):
    rebuilt = build_network(tiny_network.architecture, tiny_network.config).eval()
    assert rebuilt.config == tiny_network.config
    load_network_state(rebuilt, tiny_network.state_dict(), source="round trip")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x, x.flip(0)), tiny_network(x, x.flip(0)))


def test_unknown_config_key_is_named():
    with pytest.raises(TypeError, match="unknown MANIQA-RQI config keys \\['depth'\\]"):
        MANIQARQI(depth=3)


def test_allow_listed_keys_are_dropped(tiny_network):
    state = dict(tiny_network.state_dict())
    width = TINY_MANIQA["vit_width"]
    state["vit.blocks.2.norm1.weight"] = torch.ones(width)  # a block after the deepest tap
    state["vit.norm.weight"] = torch.ones(width)
    state["vit.head.weight"] = torch.ones(10, width)
    state["conv0_x2.weight"] = torch.ones(1)
    state["swintransformer1.downsample.weight"] = torch.ones(1)
    fresh = make_tiny_network(seed=9)
    load_network_state(fresh, state, source="with extras")
    torch.testing.assert_close(fresh.conv1.weight, tiny_network.conv1.weight)


def test_missing_and_unexpected_keys_are_errors(tiny_network):
    state = dict(tiny_network.state_dict())
    del state["conv1.weight"]
    state["conv9.weight"] = torch.ones(1)
    with pytest.raises(ValueError, match=r"missing keys: conv1\.weight.*unexpected keys: conv9\.weight"):
        load_network_state(make_tiny_network(), state, source="broken.pt")


def test_shape_mismatch_is_an_error(tiny_network):
    state = dict(tiny_network.state_dict())
    state["conv1.weight"] = torch.ones(2, 2, 1, 1)
    with pytest.raises(ValueError, match=r"broken\.pt.*shape mismatches: conv1\.weight"):
        load_network_state(make_tiny_network(), state, source="broken.pt")


def test_create_network_random_is_frozen_and_eval():
    network = create_network("maniqa-pipal", pretrained=False)
    assert not network.training
    assert not any(p.requires_grad for p in network.parameters())


def test_unknown_model_lists_available():
    with pytest.raises(KeyError, match="unknown model 'maniqa-pipa'; available: .*maniqa-pipal") as raised:
        create_network("maniqa-pipa")
    assert str(raised.value).startswith("unknown model") and "checkpoint_path=" in str(raised.value)
    assert "maniqa-pipal" in list_models()
