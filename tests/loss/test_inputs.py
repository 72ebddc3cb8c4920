"""Bad input gets an error that names the argument, what was received and the fix."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from rqi_loss import RQILoss

from tiny_models import make_tiny_network


@pytest.fixture
def loss(tiny_network):
    return RQILoss(tiny_network, seed=0)


def _pair(shape=(1, 3, 32, 32)):
    g = torch.Generator().manual_seed(0)
    return torch.rand(shape, generator=g), torch.rand(shape, generator=g)


def test_non_tensor(loss):
    sr, gt = _pair()
    with pytest.raises(TypeError, match=r"sr must be a torch.Tensor .* got ndarray"):
        loss(np.zeros((1, 3, 32, 32)), gt)


def test_wrong_ndim(loss):
    sr, gt = _pair()
    with pytest.raises(ValueError, match=r"gt must have 4 dimensions .* got shape \(3, 32, 32\).*unsqueeze"):
        loss(sr, gt[0])


def test_wrong_channels(loss):
    sr, gt = _pair((1, 4, 32, 32))
    with pytest.raises(ValueError, match=r"sr must have 3 \(RGB\) or 1 .* got shape \(1, 4, 32, 32\)"):
        loss(sr, gt)


def test_grey_is_repeated(loss, tiny_network):
    sr, gt = _pair((1, 1, 32, 32))
    expected = -tiny_network(sr.expand(-1, 3, -1, -1), gt.expand(-1, 3, -1, -1)).mean()
    torch.testing.assert_close(loss(sr, gt), expected)


def test_shape_mismatch(loss):
    sr, _ = _pair()
    with pytest.raises(ValueError, match=r"same shape; got sr \(1, 3, 32, 32\) and gt \(1, 3, 40, 32\)"):
        loss(sr, torch.rand(1, 3, 40, 32))


def test_device_mismatch(loss):
    sr, gt = _pair()
    with pytest.raises(ValueError, match=r"sr is on cpu but gt is on meta"):
        loss(sr, gt.to("meta"))


def test_integer_dtype(loss):
    sr, gt = _pair()
    with pytest.raises(TypeError, match=r"sr has dtype torch.uint8; .*float\(\) / 255"):
        loss((sr * 255).to(torch.uint8), gt)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("side", ["sr", "gt"])
def test_non_finite(loss, bad, side):
    pair = dict(zip(("sr", "gt"), _pair()))
    pair[side][0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match=f"{side} contains NaN or Inf"):
        loss(pair["sr"], pair["gt"])


def test_sr_at_255_scale_against_unit_gt(loss):
    sr, gt = _pair()
    with pytest.raises(ValueError, match=r"sr has values up to 25\d\.\d while gt .*\[0, 255\] data.*Divide sr by 255"):
        loss(sr * 255, gt)
    dark = gt * 0.05  # a dark image: its [0, 255] copy peaks near 13, still plainly 255x
    with pytest.raises(ValueError, match="sr looks like \\[0, 255\\] data"):
        loss(dark * 255, dark)


def test_gt_at_255_scale(loss):
    sr, gt = _pair()
    with pytest.raises(
        ValueError, match=r"gt has values up to 25\d\.\d: it looks like \[0, 255\] data.*Divide it by 255"
    ):
        loss(sr, gt * 255)


def test_gt_in_minus_one_to_one(loss):
    sr, gt = _pair()
    with pytest.raises(
        ValueError, match=r"gt has values down to -(0\.9\d|1\.00): it looks like \[-1, 1\] data.*\(x \+ 1\) / 2"
    ):
        loss(sr, gt * 2 - 1)


def test_slightly_outside_range_is_used_as_is(loss, tiny_network):
    sr, gt = _pair()
    sr = sr * 1.1 - 0.05  # unclamped SR output
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # slightly outside: no warning either
        torch.testing.assert_close(loss(sr, gt), -tiny_network(sr, gt).mean())


def test_generator_overshoot_is_scored_with_one_warning(tiny_network):
    """An early generator's unclamped output (values up to 2.1 and beyond) is scored as it is, not refused;
    the loss warns once, not every step."""
    loss = RQILoss(tiny_network, crop="center")
    sr, gt = _pair()
    wild = sr * 8 - 3  # [-3, 5]
    with pytest.warns(UserWarning, match="far outside \\[0, 1\\].*scored as they are") as caught:
        first = loss(wild, gt)
        second = loss(wild, gt)
    assert len([w for w in caught if "far outside" in str(w.message)]) == 1
    torch.testing.assert_close(first, -tiny_network(wild, gt).mean())
    torch.testing.assert_close(second, first)


def test_check_inputs_false_skips_the_value_policy(tiny_network):
    """check_inputs=False scores what it is given (no sync): a NaN goes through instead of raising."""
    sr, gt = _pair()
    sr[0, 0, 0, 0] = float("nan")
    loss = RQILoss(tiny_network, crop="center", check_inputs=False)
    assert torch.isnan(loss(sr, gt))
    with pytest.raises(ValueError, match="NaN or Inf"):
        RQILoss(tiny_network, crop="center")(sr, gt)
    torch.testing.assert_close(loss(*_pair()), RQILoss(tiny_network, crop="center")(*_pair()))


def test_unknown_options(tiny_network):
    with pytest.raises(ValueError, match="unknown crop 'rand'; choose one of random, grid, center"):
        RQILoss(tiny_network, crop="rand")
    with pytest.raises(ValueError, match="unknown reduction 'avg'; choose one of mean, sum, none"):
        RQILoss(tiny_network, reduction="avg")
    with pytest.raises(ValueError, match="num_crops must be an integer >= 1; got 0"):
        RQILoss(tiny_network, num_crops=0)
    with pytest.raises(ValueError, match="loss_weight must be a finite number >= 0"):
        RQILoss(tiny_network, loss_weight=-0.1)
    with pytest.raises(
        TypeError, match="model must be a zoo name, an 'hf-hub:' or 'local-dir:' name, or an nn.Module; got int"
    ):
        RQILoss(3)


def test_unknown_model_name():
    with pytest.raises(KeyError, match="unknown model 'maniqa-pipa'; available: .*maniqa-pipal"):
        RQILoss("maniqa-pipa")


def test_network_on_other_device(tiny_network):
    loss = RQILoss(tiny_network)
    with pytest.raises(ValueError, match=r"inputs are on meta but the RQI network is on cpu; call .to\('meta'\)"):
        loss(torch.rand(1, 3, 32, 32, device="meta"), torch.rand(1, 3, 32, 32, device="meta"))


def test_warnings_point_at_the_callers_line():
    """Each of the package's warnings names the line that called it, not a line of rqi_loss or torch: through
    the loss module (nn.Module.__call__ in between), the functional form, the metric and a deprecated keyword."""
    import rqi_loss
    from rqi_loss.functional import rqi_score

    network = make_tiny_network()
    small = torch.rand(1, 3, 16, 16)
    calls = {
        "sr outside [0, 1]": lambda: rqi_loss.RQILoss(network, crop="center")(small * 4, small),
        "small images": lambda: rqi_score(small, small, network, crop="center"),
        "metric": lambda: rqi_loss.RQIMetric(network, protocol="single-scale")(small, small),
        "deprecated keyword": lambda: rqi_loss.RQILoss(network, checkpoint=True),
    }
    for name, call in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert caught, name
        where = {(Path(w.filename).name, w.lineno) for w in caught}
        assert where == {(Path(__file__).name, call.__code__.co_firstlineno)}, (name, where)  # the lambda's line


@pytest.mark.parametrize(
    "shape, hint",
    [
        ((256, 256, 3), "use sr.permute(2, 0, 1).unsqueeze(0)"),
        ((3, 256, 256), "use sr.unsqueeze(0)"),
        ((256, 256), "use sr[None, None]"),
    ],
    ids=["HWC", "CHW", "HW"],
)
def test_a_single_image_gets_the_fix_that_works(loss, shape, hint):
    """The hint for an image without a batch dimension works when followed: a channels-last image is told to
    permute first (unsqueeze alone would give a second error)."""
    sr = torch.rand(*shape)
    with pytest.raises(ValueError, match=re.escape(hint)):
        loss(sr, sr)
    fixed = eval(hint.removeprefix("use "), {"sr": sr})  # the suggested expression, as written
    loss(fixed.expand(1, 3, -1, -1), fixed.expand(1, 3, -1, -1))
