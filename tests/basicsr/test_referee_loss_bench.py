"""bench/referee_loss.py: the main job with a classical full-reference metric in the RQI arm's place."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
import torch.nn.functional as F

if importlib.util.find_spec("basicsr") is None or importlib.util.find_spec("piq") is None:
    pytest.skip("needs the basicsr and test extras (basicsr, piq)", allow_module_level=True)

import referee_loss  # noqa: E402  (bench/ is on the tests' import path)


def _photo_like(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 12, 12, generator=generator)
    return F.interpolate(coarse, size=96, mode="bicubic", align_corners=False).clamp(0, 1)


@pytest.mark.parametrize("metric", referee_loss.METRICS)
def test_the_loss_is_zero_at_the_gt_and_rises_with_a_blur(metric):
    gt = _photo_like()
    blurred = F.avg_pool2d(gt, 5, stride=1, padding=2, count_include_pad=False)
    loss = referee_loss.RefereeLoss(metric, loss_weight=2.0)
    assert loss(gt, gt).item() == pytest.approx(0.0, abs=1e-5)
    assert loss(blurred, gt).item() > 1e-4


def test_gradients_are_finite_where_vsi_leaves_them_undefined():
    """A grey image has zero chroma everywhere, where VSI's square root has no derivative: those count as 0."""
    gt = _photo_like().mean(1, keepdim=True).expand(-1, 3, -1, -1).contiguous()
    sr = (gt + 0.02 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(1))).requires_grad_()
    referee_loss.RefereeLoss("vsi")(sr, gt).backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0


def test_the_output_outside_0_1_is_clamped_and_gets_no_gradient():
    gt = _photo_like()
    sr = gt.clone()
    sr[..., :8, :8] = 1.5
    sr.requires_grad_()
    referee_loss.RefereeLoss("fsim")(sr, gt).backward()
    assert (sr.grad[..., :8, :8] == 0).all() and sr.grad.abs().sum() > 0


def test_an_unknown_metric_names_the_choices():
    with pytest.raises(ValueError, match=r"metric must be one of fsim, .*; got 'ssim'"):
        referee_loss.RefereeLoss("ssim")


@pytest.mark.slow  # about 30 s: the main job's warm-up and two arms, each a BasicSR child process
def test_the_main_job_runs_with_the_metric_in_the_rqi_arm(tmp_path, monkeypatch, capsys):
    """Two iterations per arm, one seed: the RQI arm's BasicSR run (a child process that registered
    RefereeLoss) logs the extra term, its YAML names RefereeLoss, and the summary's title says what replaced RQI."""
    monkeypatch.setattr(sys, "argv", ["referee_loss.py"])
    argv = ["--metric", "haarpsi", "--weight", "0.5", "--workdir", str(tmp_path), "--seeds", "0"]
    assert referee_loss.main(argv + ["--iters", "2", "--warmup-iters", "2"]) == 0
    rqi_yaml = (tmp_path / "rqi_seed0.yml").read_text()
    assert "type: RefereeLoss" in rqi_yaml and "metric: haarpsi" in rqi_yaml
    assert "RefereeLoss" not in (tmp_path / "control_seed0.yml").read_text()
    assert "l_g_rqi:" in (tmp_path / "logs" / "rqi_seed0.log").read_text()
    summary = (tmp_path / "results" / "summary.md").read_text()
    assert summary.startswith("# x4 SR, 0.5 x [(1 - haarpsi)] instead of RQI, 2 iterations, seeds [0]")
    assert "RQI arm minus control arm" in capsys.readouterr().out


def test_a_sum_of_metrics_weighs_each_term():
    gt = _photo_like()
    sr = F.avg_pool2d(gt, 3, stride=1, padding=1, count_include_pad=False)
    both = referee_loss.RefereeLoss("haarpsi+l1", loss_weight=0.5)(sr, gt)
    parts = [referee_loss.RefereeLoss(name, loss_weight=0.5)(sr, gt) for name in ("haarpsi", "l1")]
    assert both.item() == pytest.approx(sum(parts).item(), rel=1e-6)


def test_the_rqi_arm_options_merge_a_changed_setting_and_replace_a_loss():
    finetune_realesrgan = referee_loss.main_job()

    train = {"gan_opt": {"type": "GANLoss", "loss_weight": 0.01}, "rqi_opt": {"type": "RQILoss", "model": "x"}}
    options = {"l1_gt_usm": True, "train": train}
    changes = {"train": {"gan_opt": {"loss_weight": 0.02}, "rqi_opt": {"type": "RefereeLoss"}}, "l1_gt_usm": False}
    finetune_realesrgan.merge_options(options, changes)
    assert train == {"gan_opt": {"type": "GANLoss", "loss_weight": 0.02}, "rqi_opt": {"type": "RefereeLoss"}}
    assert options["l1_gt_usm"] is False
    finetune_realesrgan.merge_options(options, {"train": {"rqi_opt": None}})
    assert "rqi_opt" not in train


def test_a_metric_needs_its_weight_and_a_known_name(capsys):
    with pytest.raises(SystemExit):
        referee_loss.main(["--metric", "fsim"])
    assert "--metric needs --weight" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        referee_loss.main(["--metric", "fsim+ssim", "--weight", "1"])
    assert "--metric: metric must be one of fsim, srsim, mdsi, haarpsi, vsi, l1; got 'ssim'" in capsys.readouterr().err


def test_the_gan_yardstick_drops_the_extra_loss_and_changes_the_gan_weight(monkeypatch):
    finetune_realesrgan = referee_loss.main_job()

    calls = []
    monkeypatch.setattr(finetune_realesrgan, "main", lambda argv, **kwargs: calls.append((argv, kwargs)) or 0)
    assert referee_loss.main(["--gan-weight", "0.02", "--seeds", "0"]) == 0
    (argv, kwargs), *_ = calls
    assert argv == ["--l1-target", "sharpened", "--seeds", "0"]  # the recipe the yardsticks were measured in
    assert kwargs["rqi_arm_options"] == {"train": {"rqi_opt": None, "gan_opt": {"loss_weight": 0.02}}}
    assert kwargs["rqi_arm_label"] == "GAN weight 0.02 instead of RQI" and kwargs["train_command"][-1] == "--basicsr"
    assert referee_loss.main(["--gan-weight", "0.02", "--l1-target", "plain"]) == 0
    assert calls[-1][0] == ["--l1-target", "plain"]  # a recipe the command line names is kept


def test_the_plain_gt_yardstick_drops_the_extra_loss_and_the_sharpened_target(monkeypatch):
    finetune_realesrgan = referee_loss.main_job()

    calls = []
    monkeypatch.setattr(finetune_realesrgan, "main", lambda argv, **kwargs: calls.append(kwargs) or 0)
    assert referee_loss.main(["--l1-plain-gt"]) == 0
    assert calls[0]["rqi_arm_options"] == {"train": {"rqi_opt": None}, "l1_gt_usm": False}


def test_rqi_instead_of_usm_keeps_the_rqi_term_and_drops_the_sharpened_target(monkeypatch):
    finetune_realesrgan = referee_loss.main_job()
    calls = []
    monkeypatch.setattr(finetune_realesrgan, "main", lambda argv, **kwargs: calls.append((argv, kwargs)) or 0)
    assert referee_loss.main(["--rqi-instead-of-usm", "--rqi-weight", "0.005"]) == 0
    (argv, kwargs), *_ = calls
    assert argv == ["--l1-target", "sharpened", "--rqi-weight", "0.005"]
    assert kwargs["rqi_arm_options"] == {"l1_gt_usm": False}
    assert kwargs["rqi_arm_label"] == "L1 against the plain GT, with lambda 0.005 x RQI (tiny-kadid-synth)"


def test_help_names_the_yardsticks_and_where_the_other_arguments_go(capsys):
    assert referee_loss.main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "--metric" in shown and "--rqi-instead-of-usm" in shown and "examples/finetune_realesrgan.py" in shown
