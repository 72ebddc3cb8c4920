"""CUDA paths: mixed precision (bf16, fp16 with GradScaler), inside a caller's autocast region.
Skipped without a GPU; run on a lent GPU with: pytest tests/networks/test_cuda.py."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import RQILoss
from rqi_loss.networks import MANIQARQI

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def full_network():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = MANIQARQI()
    return network.cuda().eval()


@pytest.fixture
def tiny_cuda_network():
    from tiny_models import make_tiny_network

    return make_tiny_network().cuda()


def _pair(batch=2, size=256):
    g = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, size, size, generator=g).cuda(), torch.rand(batch, 3, size, size, generator=g).cuda()


def _loss_and_grad(loss, sr, gt):
    x = sr.clone().requires_grad_(True)
    value = loss(x, gt)
    value.backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("amp", ["bf16", "fp16", "auto"])
def test_half_precision_matches_fp32(full_network, amp):
    sr, gt = _pair()
    ref_value, ref_grad = _loss_and_grad(RQILoss(full_network, crop="grid"), sr, gt)
    value, grad = _loss_and_grad(RQILoss(full_network, crop="grid", amp=amp), sr, gt)
    assert value.dtype == torch.float32 and torch.isfinite(value) and torch.isfinite(grad).all()
    assert abs(value - ref_value) <= 0.02 * abs(ref_value) + 1e-3
    cosine = torch.nn.functional.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0)
    assert cosine >= 0.98


def test_fp16_with_gradscaler_trains_a_generator(full_network):
    generator = torch.nn.Conv2d(3, 3, 3, padding=1).cuda()
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda")
    loss = RQILoss(full_network, amp="fp16", seed=0)
    lq, gt = _pair()
    for _ in range(3):
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16):  # the caller's own autocast region
            value = loss(generator(lq), gt)
        assert value.dtype == torch.float32
        scaler.scale(value).backward()
        assert all(torch.isfinite(p.grad).all() for p in generator.parameters())
        scaler.step(optimizer)
        scaler.update()


def test_no_graph_and_no_weight_grads_on_cuda(full_network):
    sr, gt = _pair(batch=1)
    _, grad = _loss_and_grad(RQILoss(full_network, amp="bf16"), sr, gt)
    assert grad.abs().sum() > 0
    assert all(p.grad is None for p in full_network.parameters())


def test_metric_protocol_parity_with_the_authors_full_network_on_cuda(monkeypatch, tmp_path):
    """Full-size parity of the whole-image protocol: the authors' RQI.forward around their MANIQA_RQI and ours
    with the same (seeded random) weights, on the same PNG files and crop positions (30 crops at 2 scales)."""
    import rqi.rqi as reference_module
    from PIL import Image

    from rqi_loss import RQIMetric
    from rqi_loss._images import read_image
    from rqi_loss.networks import load_network_state

    from authors_reference import build_reference_maniqa
    from reference import RecordingRandom, reference_protocol

    generator = torch.Generator().manual_seed(3)
    paths = [tmp_path / "sr.png", tmp_path / "gt.png"]
    for path in paths:
        pixels = torch.rand(3, 480, 500, generator=generator)
        smooth = torch.nn.functional.avg_pool2d(pixels[None], 9, stride=1, padding=4)[0]
        Image.fromarray((smooth * 255).round().byte().permute(1, 2, 0).numpy()).save(path)
    recorder = RecordingRandom(seed=11)
    monkeypatch.setattr(reference_module, "random", recorder)
    theirs_network = build_reference_maniqa(seed=0)
    ours_network = MANIQARQI()
    load_network_state(ours_network, theirs_network.state_dict(), source="reference MANIQA_RQI")
    theirs = reference_protocol(theirs_network, crop_size=224, device="cuda")(*map(str, paths))
    positions = recorder.positions((20, 10, 5))
    assert [len(p) for p in positions] == [20, 10]
    sr, gt = (read_image(p) for p in paths)
    ours = RQIMetric(ours_network, batch_size=16, device="cuda")(sr, gt, crop_positions=positions)
    assert abs(ours.item() - theirs) < 1e-4, (ours.item(), theirs)
    bf16 = RQIMetric(ours_network, amp="bf16")(sr, gt, crop_positions=positions)
    assert abs(bf16.item() - theirs) < 0.02 * abs(theirs) + 2e-3


def test_torch_compile_inductor_on_cuda(tiny_cuda_network):
    torch._dynamo.reset()
    sr, gt = (t[:, :, :64, :64] for t in _pair())
    loss = RQILoss(tiny_cuda_network, crop="grid", check_inputs=False, amp="bf16")
    eager = _loss_and_grad(loss, sr, gt)
    compiled = _loss_and_grad(torch.compile(loss), sr, gt)
    torch.testing.assert_close(compiled[0], eager[0], rtol=2e-2, atol=2e-3)
    cosine = torch.nn.functional.cosine_similarity(compiled[1].flatten(), eager[1].flatten(), dim=0)
    assert cosine > 0.99
    torch._dynamo.reset()


@pytest.mark.parametrize("mode", [True, "max-autotune", "reduce-overhead"])
def test_compile_option_with_inductor_on_cuda(tiny_cuda_network, mode):
    """RQILoss(compile=...) with inductor ("reduce-overhead" also replays CUDA graphs): over three steps of
    random crops, bf16 losses and gradients as eager's with the same seed (the crops are drawn from the loss's
    private generator outside the compiled code, so graph replay keeps them), and no fallback to eager."""
    torch._dynamo.reset()
    sr, gt = (t[:, :, :64, :64] for t in _pair())
    eager = RQILoss(tiny_cuda_network, crop="random", num_crops=2, seed=3, check_inputs=False, amp="bf16")
    loss = RQILoss(tiny_cuda_network, crop="random", num_crops=2, seed=3, check_inputs=False, amp="bf16", compile=mode)
    for _ in range(3):
        want, got = _loss_and_grad(eager, sr, gt), _loss_and_grad(loss, sr, gt)
        torch.testing.assert_close(got[0], want[0], rtol=2e-2, atol=2e-3)
        cosine = torch.nn.functional.cosine_similarity(got[1].flatten(), want[1].flatten(), dim=0)
        assert cosine > 0.99
    assert not loss.scorer.eager
    torch._dynamo.reset()


def test_metric_with_cuda_graphs_keeps_every_chunk_and_both_directions(tiny_cuda_network):
    """compile="reduce-overhead": RQIMetric sends the protocol's crops through the judge in several chunks, and an
    antisymmetric loss calls compare twice; outputs of a CUDA-graph replay live in static buffers that the next
    replay overwrites, so the compiled judge clones them. The scores equal eager's."""
    from rqi_loss import RQIMetric

    torch._dynamo.reset()
    sr, gt = (t[:, :, :96, :96] for t in _pair())
    eager = RQIMetric(tiny_cuda_network, protocol="official", batch_size=3, device="cuda")
    graphs = RQIMetric(tiny_cuda_network, protocol="official", batch_size=3, device="cuda", compile="reduce-overhead")
    for _ in range(2):
        torch.testing.assert_close(graphs(sr, gt), eager(sr, gt), rtol=1e-3, atol=1e-4)
    assert not graphs.scorer.eager
    both = dict(crop="grid", antisymmetric=True, reduction="none", check_inputs=False)
    with torch.no_grad():
        want = RQILoss(tiny_cuda_network, **both)(sr, gt)
        got = RQILoss(tiny_cuda_network, compile="reduce-overhead", **both)(sr, gt)
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-4)
    torch._dynamo.reset()


def test_no_host_device_sync_on_the_hot_path(full_network):
    """With the finite-input check off, a loss step (forward + backward) never waits for the GPU."""
    sr, gt = _pair()
    loss = RQILoss(full_network, crop="random", num_crops=2, check_inputs=False, amp="bf16", seed=0)
    x = sr.clone().requires_grad_(True)
    loss(x, gt).backward()  # warm-up outside the check
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss(x, gt).backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_checkpoint_on_cuda_same_gradients_less_memory(full_network):
    sr, gt = _pair(batch=4)
    results = {}
    for checkpoint in (False, True):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        value, grad = _loss_and_grad(RQILoss(full_network, crop="center", recompute=checkpoint, amp="bf16"), sr, gt)
        results[checkpoint] = value, grad, torch.cuda.max_memory_allocated() - before
    torch.testing.assert_close(results[True][0], results[False][0], rtol=1e-3, atol=1e-4)
    cosine = torch.nn.functional.cosine_similarity(results[True][1].flatten(), results[False][1].flatten(), dim=0)
    assert cosine > 0.999
    assert results[True][2] < 0.7 * results[False][2], (results[True][2], results[False][2])
