"""RQIEnsemble: the mean of its members, antisymmetric when they are, saved and loaded like any network,
usable as a loss, with members that may differ in config; bad member sets are refused with the reason."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import RQILoss, create_network
from rqi_loss.networks import CompactRQI, RQIEnsemble, build_network

TINY = {"input_size": 32, "levels": 2, "width": 4, "hidden": 8, "dropout": 0.0}


def _members(count: int = 3) -> list[CompactRQI]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return [CompactRQI(**TINY).eval() for _ in range(count)]


def test_scores_the_mean_of_its_members_and_stays_antisymmetric():
    members = _members()
    ensemble = RQIEnsemble.from_members(members).eval()
    a, b = torch.rand(2, 4, 3, 32, 32)
    with torch.no_grad():
        expected = torch.stack([m(a, b) for m in members]).mean(0)
        torch.testing.assert_close(ensemble(a, b), expected)
        assert torch.equal(ensemble(a, b), -ensemble(b, a))
        assert expected.std() > 1e-4  # the members disagree, so the mean is not one member's score
    assert ensemble.config == {"architecture": "rqi_cnn", "config": members[0].config, "members": 3}


def test_round_trip_through_save_pretrained_and_a_loss_gradient(tmp_path):
    ensemble = RQIEnsemble.from_members(_members(2))
    ensemble.save_pretrained(tmp_path / "ens", name="tiny-ensemble")
    loaded = create_network(tmp_path / "ens")
    assert isinstance(loaded, RQIEnsemble) and len(loaded.members) == 2
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in ensemble.state_dict().items())
    sr = torch.rand(2, 3, 40, 40, requires_grad=True)
    RQILoss(loaded, crop="center")(sr, torch.rand(2, 3, 40, 40)).backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0


def test_members_with_different_configs_round_trip_with_their_changes(tmp_path):
    """A member may change its config (here a wider band conv and the spectrum statistic): the ensemble records
    only the changes, scores the mean, and saves and loads like any network."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        members = [CompactRQI(**TINY).eval(), CompactRQI(**{**TINY, "width": 6, "spectrum_channels": 1}).eval()]
    ensemble = RQIEnsemble.from_members(members).eval()
    assert ensemble.config["member_configs"] == [{}, {"width": 6, "spectrum_channels": 1}]
    ensemble.save_pretrained(tmp_path / "mixed", name="mixed")
    loaded = create_network(tmp_path / "mixed").eval()
    assert loaded.members[1].config == members[1].config and loaded.members[0].config == members[0].config
    a, b = torch.rand(2, 3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(a, b), (members[0](a, b) + members[1](a, b)) / 2)
        assert torch.equal(loaded(a, b), -loaded(b, a))


def test_bad_member_sets_are_refused():
    with pytest.raises(ValueError, match="members must be an integer of at least 2"):
        build_network("rqi_ensemble", {"architecture": "rqi_cnn", "config": TINY, "members": 1})
    with pytest.raises(ValueError, match="cannot have rqi_ensemble members"):
        build_network("rqi_ensemble", {"architecture": "rqi_ensemble", "config": {}, "members": 2})
    with pytest.raises(ValueError, match="needs at least 2 networks; got 1"):
        RQIEnsemble.from_members(_members(1))
    other_size = CompactRQI(**{**TINY, "input_size": 64})
    with pytest.raises(ValueError, match=r"must take one input size; their configs give \[32, 64\]"):
        RQIEnsemble.from_members([_members(1)[0], other_size])
    with pytest.raises(ValueError, match="one dict of config changes per member \\(2\\); got 1"):
        build_network("rqi_ensemble", {"architecture": "rqi_cnn", "config": TINY, "members": 2, "member_configs": [{}]})
    with pytest.raises(KeyError, match="unknown architecture 'nope'"):
        build_network("rqi_ensemble", {"architecture": "nope", "config": {}, "members": 2})
