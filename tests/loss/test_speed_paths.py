"""The cheap-loss-step paths: activation checkpointing, backbone calls, channels_last, torch.compile and
mixed precision (bf16 autocast on the CPU with the full-size architecture). Values, not timings: the timings
are in bench/."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import RQILoss, RQIMetric
from rqi_loss.functional import pair_scores
from rqi_loss.networks import MANIQARQI, CompactRQI


def _loss_and_grad(loss, sr, gt):
    x = sr.clone().requires_grad_(True)
    value = loss(x, gt)
    value.backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("network_name", ["tiny_maniqa", "compact"])
def test_checkpoint_gives_the_same_values_and_gradients(tiny_network, image_pair, network_name):
    network = tiny_network if network_name == "tiny_maniqa" else CompactRQI(input_size=32, levels=3).eval()
    sr, gt = image_pair
    plain = _loss_and_grad(RQILoss(network, crop="grid"), sr, gt)
    recomputed = _loss_and_grad(RQILoss(network, crop="grid", recompute=True), sr, gt)
    torch.testing.assert_close(recomputed[0], plain[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(recomputed[1], plain[1], rtol=1e-5, atol=1e-8)
    assert all(p.grad is None for p in network.parameters())


class CountingExtract:
    """Counts backbone calls and the images in each."""

    def __init__(self, network, monkeypatch):
        self.calls: list[tuple[int, bool]] = []
        original = network.extract

        def extract(x):
            self.calls.append((x.shape[0], torch.is_grad_enabled()))
            return original(x)

        monkeypatch.setattr(network, "extract", extract)


def test_backbone_calls_one_with_graph_one_without_and_one_when_scoring(tiny_network, image_pair, monkeypatch):
    sr, gt = image_pair  # (2, 3, 64, 64); tiny input 32: grid of 4 crops per image
    counter = CountingExtract(tiny_network, monkeypatch)
    _loss_and_grad(RQILoss(tiny_network, crop="grid"), sr, gt)
    assert counter.calls == [(8, True), (8, False)]  # all sr crops at once with a graph; gt crops without
    counter.calls.clear()
    with torch.no_grad():
        RQILoss(tiny_network, crop="grid")(sr, gt)
    assert counter.calls == [(16, False)]  # nothing to differentiate: sr and gt crops in one call
    counter.calls.clear()
    RQIMetric(tiny_network, protocol="single-scale")(sr, gt)
    assert counter.calls == [(80, False)]  # 20 crops x 2 images x (sr, gt)


def test_single_call_scores_equal_separate_calls(tiny_network, image_pair):
    sr, gt = (t[..., :32, :32] for t in image_pair)
    with torch.no_grad():
        joint = pair_scores(tiny_network, sr, gt, antisymmetric=True)
        separate = tiny_network(sr, gt), tiny_network(gt, sr)
    torch.testing.assert_close(joint, 0.5 * (separate[0] - separate[1]), rtol=0, atol=1e-6)


def test_channels_last_inputs_give_the_same_loss_and_gradient(tiny_network, image_pair):
    sr, gt = image_pair
    loss = RQILoss(tiny_network, crop="grid")
    plain = _loss_and_grad(loss, sr, gt)
    cl = _loss_and_grad(
        loss, sr.contiguous(memory_format=torch.channels_last), gt.contiguous(memory_format=torch.channels_last)
    )
    torch.testing.assert_close(cl[0], plain[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(cl[1], plain[1], rtol=1e-4, atol=1e-7)


@pytest.mark.slow  # about 18 s; test_compile.py keeps a compiled loss in the quick set
def test_torch_compile_of_the_loss(tiny_network, image_pair):
    """Dynamo capture and AOT autograd on the CPU (inductor's C++ build takes minutes on a 2-core CPU; the
    inductor backend is tested on CUDA in test_cuda.py)."""
    torch._dynamo.reset()
    sr, gt = image_pair
    loss = RQILoss(tiny_network, crop="grid", check_inputs=False)
    eager = _loss_and_grad(loss, sr, gt)
    compiled = _loss_and_grad(torch.compile(loss, backend="aot_eager"), sr, gt)
    torch.testing.assert_close(compiled[0], eager[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compiled[1], eager[1], rtol=1e-4, atol=1e-7)
    torch._dynamo.reset()


@pytest.mark.slow  # about 4 minutes: bf16 autocast of the full-size network on a 2-core CPU
def test_bf16_matches_fp32_on_the_full_size_network():
    """Full-size MANIQA-RQI (seeded random weights) on the CPU: the bf16 autocast loss within 2% of fp32, the
    SR gradients with cosine similarity >= 0.98, nothing NaN/Inf (issue targets)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = MANIQARQI().eval()
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(1, 3, 224, 224, generator=g)
    sr = (gt + 0.1 * torch.randn(gt.shape, generator=g)).clamp(0, 1)
    fp32 = _loss_and_grad(RQILoss(network, crop="center"), sr, gt)
    bf16 = _loss_and_grad(RQILoss(network, crop="center", amp="bf16"), sr, gt)
    assert bf16[0].dtype == torch.float32 and torch.isfinite(bf16[0]) and torch.isfinite(bf16[1]).all()
    assert abs(bf16[0] - fp32[0]) <= 0.02 * abs(fp32[0]), (bf16[0], fp32[0])
    cosine = torch.nn.functional.cosine_similarity(bf16[1].flatten(), fp32[1].flatten(), dim=0)
    assert cosine >= 0.98, cosine


def _exact_channel_attention(g: torch.Generator):
    """q, k, v (2, 48, 40) float64, an upstream gradient, and the float64 autograd output and gradients."""
    q, k, v = (torch.randn(2, 48, 40, generator=g, dtype=torch.float64) * 0.5 for _ in range(3))
    grad_out = torch.randn(2, 48, 40, generator=g, dtype=torch.float64)
    exact_inputs = [t.clone().requires_grad_(True) for t in (q, k, v)]
    exact = torch.softmax(exact_inputs[0] @ exact_inputs[1].transpose(1, 2) / 40**0.5, -1) @ exact_inputs[2]
    exact.backward(grad_out)
    return (q, k, v), grad_out, exact.detach(), [t.grad for t in exact_inputs]


@pytest.mark.parametrize("kernel", ["cuda_kernel_on_cpu", "channel_attention"])
def test_half_channel_attention_matches_an_exact_computation(kernel):
    """bf16 channel attention against float64 autograd: the output and all three gradients within bf16
    rounding (measured about 0.4-0.6% of the max value). Both the CUDA path (HalfChannelAttention: fp32
    logits and softmax, hand-written backward; it runs on the CPU too) and what the CPU runs. Both return the
    product transposed, (N, L, C) contiguous: MANIQA reads that memory as (N, C, L) without a copy."""
    from rqi_loss.networks.channel_attention import HalfChannelAttention, channel_attention

    attention = HalfChannelAttention.apply if kernel == "cuda_kernel_on_cpu" else channel_attention
    inputs, grad_out, exact, exact_grads = _exact_channel_attention(torch.Generator().manual_seed(0))
    half_inputs = [t.to(torch.bfloat16).requires_grad_(True) for t in inputs]
    out = attention(*half_inputs)
    assert out.dtype == torch.bfloat16 and out.shape == (2, 40, 48) and out.is_contiguous()
    out.backward(grad_out.transpose(1, 2).to(torch.bfloat16))
    pairs = [(out.transpose(1, 2), exact)] + [(h.grad, e) for h, e in zip(half_inputs, exact_grads)]
    for got, want in pairs:
        assert ((got.double() - want).abs().max() / want.abs().max()) < 0.02


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_full_precision_channel_attention_is_exact(dtype):
    """fp32/fp64 on the CPU: the transposed product and the gradients to fp rounding."""
    from rqi_loss.networks.channel_attention import channel_attention

    inputs, grad_out, exact, exact_grads = _exact_channel_attention(torch.Generator().manual_seed(1))
    ours = [t.to(dtype).requires_grad_(True) for t in inputs]
    out = channel_attention(*ours)
    assert out.dtype == dtype and out.shape == (2, 40, 48) and out.is_contiguous()
    out.backward(grad_out.transpose(1, 2).to(dtype))
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    for got, want in [(out.transpose(1, 2), exact)] + [(t.grad, e) for t, e in zip(ours, exact_grads)]:
        torch.testing.assert_close(got.double(), want, rtol=0, atol=tolerance)


def test_frozen_channel_attention_folds_the_key_projection_exactly(monkeypatch):
    """Frozen q/k projections: one projection (Wk^T Wq) against the raw rows as keys, two L x L linears per call
    instead of three; the block's output and input gradient equal the two-projection block's in float64.
    Trainable projections and autocast keep both projections."""
    import torch.nn.functional as F

    from rqi_loss.networks.channel_attention import ChannelAttention

    with torch.random.fork_rng(devices=[]):  # the block's initialisation draws from the global generator
        torch.manual_seed(0)
        block = ChannelAttention(40, dropout=0.0).double().eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 48, 40, generator=g, dtype=torch.float64)
    grad_out = torch.randn(2, 48, 40, generator=g, dtype=torch.float64)
    linears = []
    original_linear = F.linear
    monkeypatch.setattr(F, "linear", lambda *args: linears.append(args[1].shape) or original_linear(*args))

    def output_and_grad():
        linears.clear()
        inputs = x.clone().requires_grad_(True)
        out = block(inputs)
        out.backward(grad_out)
        return out.detach(), inputs.grad, len(linears)

    two_projections = output_and_grad()
    block.requires_grad_(False)
    folded = output_and_grad()
    assert two_projections[2] == 3 and folded[2] == 2
    for got, want in zip(folded[:2], two_projections[:2]):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    linears.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        block.float()(x.float())
    assert len(linears) == 3


def test_recomputed_and_stored_probabilities_agree_bit_for_bit_and_the_default_keeps_less():
    """The default channel attention (fp32) recomputes its C x C probabilities in the backward instead of keeping
    them: the same values and gradients bit for bit as the stored-probability kernel, and C * C * 4 bytes less
    kept per sample and block between forward and backward (counted with saved-tensor hooks)."""
    from rqi_loss.networks.channel_attention import channel_attention

    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 96, 40, generator=g) for _ in range(3))
    grad = torch.randn(2, 40, 96, generator=g)
    results, kept = {}, {}
    for store in (False, True):
        inputs = [t.clone().requires_grad_(True) for t in (q, k, v)]
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t.numel() * t.element_size()) or t, lambda t: t
        ):
            out = channel_attention(*inputs, store_probabilities=store)
        out.backward(grad)
        results[store] = [out.detach(), *[t.grad for t in inputs]]
        kept[store] = sum(saved)
    assert all(torch.equal(a, b) for a, b in zip(results[False], results[True]))
    assert kept[True] - kept[False] == 2 * 96 * 96 * 4
    from tiny_models import make_tiny_network

    network = make_tiny_network()
    assert not network.store_attention_probabilities
    network.store_attention_probabilities = True
    assert all(block.store_probabilities for block in (*network.tablock1, *network.tablock2))
