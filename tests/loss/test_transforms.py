"""RQILoss(transforms=...): random transformations applied to both images alike, drawn from the private
generator; antisymmetry exact; the functional form agrees; bad specs are named."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import PairTransforms, RQILoss, create_network
from rqi_loss.functional import rqi_loss, rqi_score
from rqi_loss.transforms import DEFAULT_TRANSFORMS, _dihedral, as_transforms

SPECS = [
    True,
    PairTransforms(dihedral=True, scale=(1.0, 1.0)),
    PairTransforms(dihedral=False, scale=(0.6, 0.9)),
    PairTransforms(noise=0.02),
]


@pytest.fixture(scope="module")
def judge():
    return create_network("tiny-kadid-synth")


def _pair(size=160, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(n, 3, size, size, generator=g)
    return (gt + 0.1 * torch.randn(gt.shape, generator=g)).clamp(0, 1), gt


@pytest.mark.parametrize("spec", SPECS, ids=["default", "dihedral", "scale", "noise"])
def test_exactly_antisymmetric_and_zero_on_identical_images(judge, spec):
    sr, gt = _pair()
    forward = rqi_score(
        sr, gt, judge, crop="random", num_crops=2, transforms=spec, generator=torch.Generator().manual_seed(3)
    )
    backward = rqi_score(
        gt, sr, judge, crop="random", num_crops=2, transforms=spec, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(forward, -backward)
    same = rqi_score(sr, sr, judge, crop="random", transforms=spec, generator=torch.Generator().manual_seed(4))
    assert torch.equal(same, torch.zeros(2))


def test_transforms_change_the_score_and_draw_fresh_each_call(judge):
    sr, gt = _pair()
    plain = RQILoss(judge, seed=0, reduction="none")(sr, gt)
    loss = RQILoss(judge, seed=0, transforms=True, reduction="none")
    first, second = loss(sr, gt), loss(sr, gt)
    assert not torch.equal(first, plain) and not torch.equal(first, second)
    again = RQILoss(judge, seed=0, transforms=True, reduction="none")(sr, gt)
    assert torch.equal(again, first)  # the same seed, the same draws


def test_module_agrees_with_functional_and_global_rng_is_untouched(judge):
    sr, gt = _pair()
    state = torch.get_rng_state()
    module = RQILoss(judge, seed=5, transforms={"noise": 0.01, "scale": [0.8, 1.0]}, loss_weight=0.1)
    value = module(sr, gt)
    expected = rqi_loss(
        sr,
        gt,
        judge,
        loss_weight=0.1,
        transforms=PairTransforms(noise=0.01, scale=(0.8, 1.0)),
        generator=torch.Generator().manual_seed(5),
    )
    assert torch.equal(value, expected)
    assert torch.equal(torch.get_rng_state(), state)


def test_yaml_number_strings_are_numbers_and_other_values_are_named():
    """PyYAML reads 1e-2 as the string "1e-2" (YAML 1.1): a BasicSR YAML's transforms block gives strings."""
    import yaml

    from rqi_loss.transforms import as_transforms

    block = yaml.safe_load("transforms: {noise: 1e-2, scale: [7.5e-1, 1.0]}")["transforms"]
    assert block["noise"] == "1e-2"
    assert as_transforms(block) == PairTransforms(noise=0.01, scale=(0.75, 1.0))
    with pytest.raises(ValueError, match="transforms noise must be a number .* got 'loud'"):
        as_transforms({"noise": "loud"})
    with pytest.raises(ValueError, match="transforms dihedral must be true or false; got 'yes please'"):
        as_transforms({"dihedral": "yes please"})


def test_gradient_reaches_sr_through_every_transform(judge):
    sr, gt = _pair()
    sr = sr.requires_grad_(True)
    RQILoss(judge, seed=1, transforms=PairTransforms(noise=0.01)).forward(sr, gt).backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0


def test_dihedral_elements_are_the_eight_symmetries():
    x = torch.arange(9.0).view(1, 1, 3, 3).expand(8, 1, 3, 3)
    out = _dihedral(x, torch.arange(8))
    seen = {tuple(o.flatten().tolist()) for o in out}
    assert len(seen) == 8
    expected = {
        tuple(t.flatten().tolist()) for k in range(4) for t in (torch.rot90(x[0, 0], k), torch.rot90(x[0, 0].T, k))
    }
    assert seen == expected


def test_bad_specs_are_named():
    with pytest.raises(
        ValueError, match=r"transforms got unknown key\(s\) \['flip'\]; valid keys: \['dihedral', 'noise', 'scale'\]"
    ):
        RQILoss("tiny-kadid-synth", transforms={"flip": True})
    with pytest.raises(ValueError, match="transforms scale must be"):
        PairTransforms(scale=(1.0, 2.0))
    with pytest.raises(ValueError, match="transforms noise must be"):
        as_transforms({"noise": 0.5})
    with pytest.raises(ValueError, match="transforms must be True, False"):
        as_transforms("yes")
    assert as_transforms(True) is DEFAULT_TRANSFORMS and as_transforms(False) is None
