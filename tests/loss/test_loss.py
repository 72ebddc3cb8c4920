"""RQILoss and its functional form: sign, gradients, frozen judge, crops, antisymmetry, RNG hygiene."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import RQILoss
from rqi_loss._crops import crop_offsets, grid_starts
from rqi_loss.functional import rqi_loss, rqi_score

from tiny_models import make_tiny_network


def test_loss_is_minus_score_for_reduction_none(tiny_network):
    g = torch.Generator().manual_seed(5)
    sr, gt = torch.rand(3, 3, 32, 32, generator=g), torch.rand(3, 3, 32, 32, generator=g)
    loss = RQILoss(tiny_network, reduction="none", loss_weight=0.5)
    expected = -0.5 * tiny_network(sr, gt)
    torch.testing.assert_close(loss(sr, gt), expected)
    torch.testing.assert_close(RQILoss(tiny_network)(sr, gt), -tiny_network(sr, gt).mean())
    torch.testing.assert_close(RQILoss(tiny_network, reduction="sum")(sr, gt), -tiny_network(sr, gt).sum())


def test_reductions_return_0dim_float32(tiny_network, image_pair):
    for reduction in ("mean", "sum"):
        value = RQILoss(tiny_network, reduction=reduction, seed=0)(*image_pair)
        assert value.shape == () and value.dtype == torch.float32


def test_per_sample_weight(tiny_network, image_pair):
    sr, gt = image_pair
    plain = RQILoss(tiny_network, reduction="none", crop="center")(sr, gt)
    weight = torch.tensor([2.0, 0.0])
    weighted = RQILoss(tiny_network, crop="center")(sr, gt, weight=weight)
    torch.testing.assert_close(weighted, (plain * weight).mean())
    with pytest.raises(ValueError, match=r"weight must be a tensor of shape \(2,\)"):
        RQILoss(tiny_network)(sr, gt, weight=torch.ones(3))


def test_module_agrees_with_functional(tiny_network, image_pair):
    sr, gt = image_pair
    module = RQILoss(tiny_network, crop="random", num_crops=3, seed=11, loss_weight=0.1)
    generator = torch.Generator().manual_seed(11)
    expected = rqi_loss(sr, gt, tiny_network, loss_weight=0.1, crop="random", num_crops=3, generator=generator)
    torch.testing.assert_close(module(sr, gt), expected)


def test_gradient_reaches_sr_not_gt_nor_weights(tiny_network, image_pair):
    sr, gt = image_pair
    sr = sr.clone().requires_grad_(True)
    gt = gt.clone().requires_grad_(True)
    loss = RQILoss(tiny_network, crop="grid")
    loss(sr, gt).backward()
    assert sr.grad is not None and torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0
    assert gt.grad is None
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())


def test_grid_gives_every_pixel_a_gradient(tiny_network):
    sr = torch.rand(1, 3, 45, 70, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    RQILoss(tiny_network, crop="grid")(sr, torch.rand(1, 3, 45, 70)).backward()
    assert (sr.grad.abs().sum(dim=1) > 0).all()


def test_crop_border_keeps_every_crop_inside(tiny_network):
    """crop_border=8: the loss of a 56 px pair is the loss of its 40 px interior (the border gets no gradient,
    the interior does), a bad value or a too-small image is an error naming the fix; the option reaches BasicSR."""
    from rqi_loss.basicsr.losses import RQILoss as BasicSRRQILoss

    g = torch.Generator().manual_seed(4)
    sr, gt = torch.rand(2, 3, 56, 56, generator=g).requires_grad_(True), torch.rand(2, 3, 56, 56, generator=g)
    inner = (..., slice(8, 48), slice(8, 48))
    value = RQILoss(tiny_network, crop="grid", crop_border=8)(sr, gt)
    value.backward()
    assert value.item() == RQILoss(tiny_network, crop="grid")(sr[inner], gt[inner]).item()
    border = torch.ones(56, 56, dtype=torch.bool)
    border[8:48, 8:48] = False
    assert sr.grad[..., border].abs().max() == 0 and (sr.grad[inner].abs().sum(dim=1) > 0).all()
    with pytest.raises(ValueError, match="crop_border=13 leaves 30x30 of the 56x56 images, less than the network's"):
        RQILoss(tiny_network, crop_border=13)(sr, gt)
    with pytest.raises(ValueError, match="crop_border must be an integer >= 0"):
        RQILoss(tiny_network, crop_border=-1)
    assert BasicSRRQILoss(model=tiny_network, crop_border=8).crop_border == 8


def test_max_score_stops_the_push_on_images_judged_above_it(tiny_network):
    """max_score caps the reward per image: the loss is -w * min(f, cap), an image judged above the cap gets no
    gradient while one below it gets the uncapped gradient; the score range follows; a bad cap is an error naming
    the fix; the option reaches BasicSR."""
    from rqi_loss.basicsr.losses import RQILoss as BasicSRRQILoss

    g = torch.Generator().manual_seed(6)
    sr, gt = torch.rand(4, 3, 32, 32, generator=g).requires_grad_(True), torch.rand(4, 3, 32, 32, generator=g)
    scores = tiny_network(sr, gt).detach()
    cap = scores.sort().values[1:3].mean().item()  # two images above it, two below
    above = scores > cap
    assert above.sum() == 2
    capped = RQILoss(tiny_network, crop="center", reduction="none", loss_weight=0.5, max_score=cap)(sr, gt)
    torch.testing.assert_close(capped, -0.5 * scores.clamp(max=cap))
    capped.sum().backward()
    capped_grad, sr.grad = sr.grad.clone(), None
    RQILoss(tiny_network, crop="center", reduction="none", loss_weight=0.5)(sr, gt).sum().backward()
    assert capped_grad[above].abs().max() == 0 and (capped_grad[~above].abs().flatten(1).sum(dim=1) > 0).all()
    torch.testing.assert_close(capped_grad[~above], sr.grad[~above])
    assert RQILoss(tiny_network, loss_weight=0.5, max_score=0).score_range == (0.0, 0.5)
    for bad in (float("nan"), "0", True):
        with pytest.raises(ValueError, match=r"max_score must be None \(no cap\) or a finite number"):
            RQILoss(tiny_network, max_score=bad)
    assert "max_score=0.0" in repr(RQILoss(tiny_network, max_score=0))
    assert BasicSRRQILoss(model=tiny_network, max_score=0.05).max_score == 0.05


def test_grey_judges_grey_images_and_moves_no_colour(tiny_network):
    """grey=True: the loss is the loss of both images' channel mean in three channels, and its gradient on sr is
    the same in R, G and B (it moves no colour), which without it it is not. A 1-channel pair is judged as it is;
    a non-bool is an error naming the fix; the option reaches BasicSR."""
    from rqi_loss.basicsr.losses import RQILoss as BasicSRRQILoss

    g = torch.Generator().manual_seed(7)
    sr, gt = torch.rand(2, 3, 32, 32, generator=g).requires_grad_(True), torch.rand(2, 3, 32, 32, generator=g)

    def grey(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True).repeat(1, 3, 1, 1)

    value = RQILoss(tiny_network, crop="center", grey=True)(sr, gt)
    torch.testing.assert_close(value, RQILoss(tiny_network, crop="center")(grey(sr.detach()), grey(gt)))
    torch.testing.assert_close(  # the score's option, which the loss reaches through
        rqi_score(sr.detach(), gt, tiny_network, crop="center", grey=True),
        rqi_score(grey(sr.detach()), grey(gt), tiny_network, crop="center"),
    )
    value.backward()
    assert sr.grad.abs().sum() > 0
    torch.testing.assert_close(sr.grad, sr.grad[:, :1].expand_as(sr.grad))
    plain = torch.autograd.grad(RQILoss(tiny_network, crop="center")(sr, gt), sr)[0]
    assert not torch.allclose(plain, plain[:, :1].expand_as(plain))  # without it the push has colour
    one_sr, one_gt = torch.rand(2, 1, 32, 32, generator=g), torch.rand(2, 1, 32, 32, generator=g)
    assert (
        RQILoss(tiny_network, crop="center", grey=True)(one_sr, one_gt).item()
        == RQILoss(tiny_network, crop="center")(one_sr, one_gt).item()
        != 0
    )
    with pytest.raises(ValueError, match="grey must be True"):
        RQILoss(tiny_network, grey="yes")
    with pytest.raises(ValueError, match="grey must be True"):
        rqi_score(sr, gt, tiny_network, grey=1)
    assert "grey=True" in repr(RQILoss(tiny_network, grey=True))
    assert BasicSRRQILoss(model=tiny_network, grey=True).grey is True


def test_grid_starts_cover_with_fewest_crops():
    for length in (32, 33, 63, 64, 65, 224, 500):
        starts = grid_starts(length, 32)
        covered = set()
        for s in starts:
            covered.update(range(s, s + 32))
        assert covered == set(range(length)) and len(starts) == -(-length // 32)
        assert starts[-1] + 32 == length


def test_center_crop_is_deterministic(tiny_network, image_pair):
    sr, gt = image_pair
    expected = -tiny_network(sr[:, :, 4:36, 8:40], gt[:, :, 4:36, 8:40]).mean()
    torch.testing.assert_close(RQILoss(tiny_network, crop="center")(sr, gt), expected)


def test_train_never_unfreezes_the_judge(image_pair):
    network = make_tiny_network(dropout=0.5)
    loss = RQILoss(network, crop="center")
    outer = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), loss)
    outer.train()
    assert loss.training and not loss.network.training
    assert not any(m.training for m in loss.network.modules())
    first, second = loss(*image_pair), loss(*image_pair)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_gradcheck_float64():
    network = make_tiny_network(img_size=16).double()
    g = torch.Generator().manual_seed(0)
    sr = torch.rand(1, 3, 16, 16, generator=g, dtype=torch.float64).requires_grad_(True)
    gt = torch.rand(1, 3, 16, 16, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: rqi_loss(x, gt, network, crop="center"), (sr,), eps=1e-6, atol=1e-5)


def test_seeded_crops_reproducible_and_global_rng_untouched(tiny_network):
    sr, gt = torch.rand(2, 3, 64, 80), torch.rand(2, 3, 64, 80)
    state = torch.get_rng_state()
    a = RQILoss(tiny_network, reduction="none", num_crops=2, seed=42)
    b = RQILoss(tiny_network, reduction="none", num_crops=2, seed=42)
    first_a, first_b = a(sr, gt), b(sr, gt)
    second_a = a(sr, gt)
    RQILoss(tiny_network, num_crops=2)(sr, gt)  # unseeded: draws its own seed, not the global RNG
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(first_a, first_b, rtol=0, atol=0)
    assert not torch.equal(first_a, second_a)  # the private generator advances between calls


def test_random_crops_are_aligned(tiny_network):
    """Each random crop of sr is scored against the crop of gt at the same position: the loss equals the
    network on crops cut by hand at the generator's positions, and an exactly antisymmetric score of an image
    against itself is exactly 0 (a misaligned pairing would compare two different patches)."""
    g = torch.Generator().manual_seed(8)
    sr, gt = torch.rand(2, 3, 64, 80, generator=g), torch.rand(2, 3, 64, 80, generator=g)
    scores = rqi_score(sr, gt, tiny_network, crop="random", num_crops=3, generator=torch.Generator().manual_seed(0))
    positions = crop_offsets(2, 64, 80, 32, "random", 3, torch.Generator().manual_seed(0))
    expected = torch.stack(
        [
            torch.stack(
                [
                    tiny_network(sr[i : i + 1, :, r : r + 32, c : c + 32], gt[i : i + 1, :, r : r + 32, c : c + 32])[0]
                    for r, c in cells
                ]
            ).mean()
            for i, cells in enumerate(positions.tolist())
        ]
    )
    torch.testing.assert_close(scores, expected)
    assert len({tuple(c) for cells in positions.tolist() for c in cells}) > 1  # the positions do vary
    itself = rqi_score(
        sr, sr, tiny_network, crop="random", num_crops=4, antisymmetric=True, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(itself, torch.zeros(2))


def test_antisymmetric_through_the_module(tiny_network, image_pair):
    a, b = image_pair
    loss = RQILoss(tiny_network, crop="grid", antisymmetric=True, reduction="none")
    torch.testing.assert_close(loss(a, b), -loss(b, a), rtol=0, atol=0)
    plain = RQILoss(tiny_network, crop="grid", reduction="none")
    torch.testing.assert_close(loss(a, b), 0.5 * (plain(a, b) - plain(b, a)))
    sr = a.clone().requires_grad_(True)
    loss(sr, b).sum().backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0


def test_antisymmetric_is_exact(tiny_network, image_pair):
    a, b = image_pair
    forward = rqi_score(a, b, tiny_network, crop="center", antisymmetric=True)
    backward = rqi_score(b, a, tiny_network, crop="center", antisymmetric=True)
    assert torch.equal(forward, -backward)
    plain_ab = rqi_score(a, b, tiny_network, crop="center")
    plain_ba = rqi_score(b, a, tiny_network, crop="center")
    torch.testing.assert_close(forward, 0.5 * (plain_ab - plain_ba))
    assert not torch.allclose(plain_ab, -plain_ba)  # the plain network is not antisymmetric


def test_small_inputs_are_resized_with_warning(tiny_network):
    sr, gt = torch.rand(1, 3, 20, 40), torch.rand(1, 3, 20, 40)
    with pytest.warns(UserWarning, match="resized"):
        value = RQILoss(tiny_network, crop="grid")(sr, gt)
    assert torch.isfinite(value)


def test_plain_forward_module_is_accepted(tiny_network, image_pair):
    class ForwardOnly(torch.nn.Module):
        input_size = 32

        def __init__(self):
            super().__init__()
            self.inner = tiny_network

        def forward(self, sr, gt):
            return self.inner(sr, gt)

    sr, gt = image_pair
    expected = RQILoss(tiny_network, crop="center")(sr, gt)
    torch.testing.assert_close(RQILoss(ForwardOnly(), crop="center")(sr, gt), expected)


def test_bf16_autocast_on_cpu_returns_float32(tiny_network, image_pair):
    sr = image_pair[0].clone().requires_grad_(True)
    fp32 = RQILoss(tiny_network, crop="center")(sr, image_pair[1])
    bf16 = RQILoss(tiny_network, crop="center", amp="bf16")(sr, image_pair[1])
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16)
    assert abs(bf16.item() - fp32.item()) <= 0.05 * abs(fp32.item()) + 0.02
    bf16.backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown amp 'fp8'"):
        RQILoss(tiny_network, amp="fp8")
    with pytest.raises(ValueError, match="amp='fp16' needs a CUDA device"):
        RQILoss(tiny_network, amp="fp16")(*image_pair)
    auto = RQILoss(tiny_network, crop="center", amp="auto")(*image_pair)  # fp32 on the CPU
    torch.testing.assert_close(auto, RQILoss(tiny_network, crop="center")(*image_pair))


def test_deprecated_checkpoint_keyword_still_recomputes(tiny_network, image_pair):
    sr, gt = image_pair
    with pytest.warns(DeprecationWarning, match=r"checkpoint= is deprecated.*use recompute="):
        old = RQILoss(tiny_network, crop="center", checkpoint=True)
    assert old.recompute is True
    with pytest.warns(DeprecationWarning, match="recompute="):
        assert old.checkpoint is True
    new = RQILoss(tiny_network, crop="center", recompute=True)
    torch.testing.assert_close(old(sr, gt), new(sr, gt))
    with pytest.warns(DeprecationWarning, match="recompute="):
        value = rqi_score(sr, gt, tiny_network, crop="center", checkpoint=True)
    torch.testing.assert_close(value, rqi_score(sr, gt, tiny_network, crop="center", recompute=True))
    with pytest.raises(TypeError, match="give recompute= only"), pytest.warns(DeprecationWarning):
        RQILoss(tiny_network, checkpoint=True, recompute=True)


def test_deprecated_checkpoint_yaml_key_still_works(tiny_network):
    pytest.importorskip("rqi_loss.basicsr", reason="the YAML loss classes need basicsr (test extra)")
    from rqi_loss.basicsr.losses import RQILoss as YamlRQILoss

    with pytest.warns(DeprecationWarning, match="recompute="):
        assert YamlRQILoss(model=tiny_network, checkpoint=True).recompute is True
    assert YamlRQILoss(model=tiny_network, recompute=True).recompute is True
