"""Full-size MANIQA-RQI against the authors' implementation (PyPI rqi-iqa 0.1.1), same random weights.

Reference values are computed live from ``rqi.models.maniqa.MANIQA_RQI`` built offline (tests/helpers/reference.py);
theirs takes inputs already mapped to [-1, 1], ours takes [0, 1] and normalises inside. Tolerance 1e-5 (fp32).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from rqi_loss.networks import MANIQARQI, load_network_state

pytest.importorskip("rqi.models.maniqa", reason="parity needs the reference package rqi-iqa (test extra)")
from authors_reference import build_reference_maniqa  # noqa: E402


@pytest.fixture(scope="module")
def networks():
    reference = build_reference_maniqa(seed=0)
    ours = MANIQARQI().eval()
    load_network_state(ours, reference.state_dict(), source="reference MANIQA_RQI")
    return reference, ours


def _photo_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A 224 crop of scikit-image's astronaut photograph and a blurred copy, (1, 3, 224, 224) in [0, 1]."""
    data = pytest.importorskip("skimage.data")
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float().div(255)[None, :, 100:324, 150:374]
    blurred = torch.nn.functional.avg_pool2d(image, 5, stride=1, padding=2, count_include_pad=False)
    return blurred.contiguous(), image.contiguous()


def _reference_scores(reference, sr, gt):
    with torch.no_grad():
        return reference((sr - 0.5) / 0.5, (gt - 0.5) / 0.5)


@pytest.mark.slow  # about 45 s; test_photographs_match_reference keeps forward parity in the quick set
def test_random_batch_matches_reference(networks):
    reference, ours = networks
    g = torch.Generator().manual_seed(7)
    sr, gt = torch.rand(2, 3, 224, 224, generator=g), torch.rand(2, 3, 224, 224, generator=g)
    expected = _reference_scores(reference, sr, gt)
    with torch.no_grad():
        batched = ours(sr, gt)
        single = torch.cat([ours(sr[i : i + 1], gt[i : i + 1]) for i in range(2)])
    assert batched.dtype == torch.float32 and batched.shape == (2,)
    torch.testing.assert_close(batched, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(single, batched, rtol=0, atol=1e-5)


def test_photographs_match_reference(networks):
    reference, ours = networks
    sr, gt = _photo_pair()
    expected = _reference_scores(reference, sr, gt)
    with torch.no_grad():
        got = ours(sr, gt)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def _sr_gradient(network, sr: torch.Tensor, gt: torch.Tensor, mapped: bool) -> torch.Tensor:
    """d f(sr, gt) / d sr, (1, 3, 224, 224); ``mapped``: the network takes inputs in [-1, 1] (the reference)."""
    x = sr.clone().requires_grad_(True)
    score = network((x - 0.5) / 0.5, (gt - 0.5) / 0.5) if mapped else network(x, gt)
    return torch.autograd.grad(score.sum(), x)[0]


@pytest.fixture(scope="module")
def float64_reference_gradient(networks) -> torch.Tensor:
    sr, gt = (t.double() for t in _photo_pair())
    return _sr_gradient(copy.deepcopy(networks[0]).double(), sr, gt, mapped=True)


@pytest.mark.slow  # 75 s with its float64 reference gradient (40 s)
@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "trainable"])  # trainable: without the fold
def test_sr_gradient_matches_reference_in_float64(networks, float64_reference_gradient, frozen):
    """What a loss step computes, d f(sr, gt) / d sr, through ours (the SR branch alone differentiated, the
    channel attention returning its transposed product and keeping its probabilities; frozen: the key projection
    folded into the query's) equals the reference's autograd gradient. In float64, where rounding cannot move a
    ReLU input across zero: the comparison is of the computation, not of its fp32 rounding."""
    ours = copy.deepcopy(networks[1]).double().requires_grad_(not frozen)
    sr, gt = (t.double() for t in _photo_pair())
    expected = float64_reference_gradient
    got = _sr_gradient(ours, sr, gt, mapped=False)
    assert expected.abs().max() > 0
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10 * expected.abs().max().item())


def test_sr_gradient_matches_reference_in_float32(networks):
    """The same in fp32 through the frozen network a loss holds. The gradient of a ReLU network is not
    continuous in rounding: on this photograph one ReLU input of the second swin stage lies within fp32
    rounding of zero, and the folded key projection's rounding puts it on the other side, which changes the
    gradient by 1.2e-4 of its L2 norm (4e-4 of its max); computations that agree with it to the last bits differ
    by 1e-6. Bound: 1e-3 of the L2 norm."""
    reference, ours = networks
    frozen = copy.deepcopy(ours).requires_grad_(False)
    sr, gt = _photo_pair()
    expected = _sr_gradient(reference, sr, gt, mapped=True)
    got = _sr_gradient(frozen, sr, gt, mapped=False)
    assert (got - expected).norm() <= 1e-3 * expected.norm(), (got - expected).norm() / expected.norm()


@pytest.mark.slow  # about 17 s
def test_forward_flops_at_most_092_of_reference(networks):
    """Blocks 10-11 of the ViT are not run. The math SDPA backend makes every attention matmul visible
    to the counter for both networks (fused CPU kernels are not counted)."""
    reference, ours = networks
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    counts = []
    for network, inputs in ((reference, (x * 2 - 1, x * 2 - 1)), (ours, (x, x))):
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter:
            network(*inputs)
        counts.append(counter.get_total_flops())
    ratio = counts[1] / counts[0]
    assert ratio <= 0.92, f"ours {counts[1] / 1e9:.1f} GFLOP vs reference {counts[0] / 1e9:.1f} GFLOP"
