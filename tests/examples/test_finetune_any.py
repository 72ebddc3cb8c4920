"""examples/finetune_any.py: community SR checkpoints, randomly initialised in their own key layouts, detected by
spandrel, fine-tuned a few steps with L1 + RQI, saved and loaded back by spandrel to the same outputs; its
command-line errors are one line each (exit code 2)."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest
import torch
from PIL import Image

import rqi_loss

spandrel = pytest.importorskip("spandrel", reason="the finetune extra: pip install -e '.[finetune]'")

import finetune_any  # noqa: E402  (examples/ is on pytest's path)


def _architectures():
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.SPAN import SPAN

    return {  # (architecture id spandrel reports, a small network of it, its scale)
        "ESRGAN": (lambda: ESRGAN(num_filters=16, num_blocks=1, scale=4), 4),
        "Compact": (lambda: Compact(num_feat=16, num_conv=2, upscale=2), 2),
        "SPAN": (lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=4), 4),
    }


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    """Three 160 px crops of a photograph."""
    from skimage import data

    folder = tmp_path_factory.mktemp("hr")
    photo = data.astronaut()
    for k in range(3):
        Image.fromarray(photo[100 * k : 100 * k + 160, 150:310]).save(folder / f"{k}.png")
    return folder


def _checkpoint(tmp_path, name: str):
    build, scale = _architectures()[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build()
    path = tmp_path / f"{scale}x_{name}.pth"
    torch.save(network.state_dict(), path)
    return path, scale


@pytest.mark.filterwarnings("ignore:sr has values far outside")  # randomly initialised: outputs far from [0, 1]
@pytest.mark.parametrize("name", ["ESRGAN", "Compact", "SPAN"])
def test_detect_fine_tune_save_and_load_again(tmp_path, hr_folder, name):
    path, scale = _checkpoint(tmp_path, name)
    descriptor = finetune_any.load_sr_model(path)
    assert descriptor.architecture.id == name and descriptor.scale == scale
    args = argparse.Namespace(
        data=hr_folder, held_out=None, lr_folder=None, patch=128, iters=2, batch=1, lr=1e-3, device="cpu",
        rqi="tiny-kadid-synth", rqi_weight=0.01, crop_border=0, max_score=0.0, grey=True,
    )  # fmt: skip
    data, held_out = finetune_any.training_data(args, descriptor)
    assert list(held_out) == ["0"] and len(data["train"][0]) == 2 and data["patch"] % scale == 0
    tuned = finetune_any.fine_tune(descriptor, data, args, seed=0, judge=rqi_loss.create_network(args.rqi))
    before = descriptor.model.state_dict()
    assert any(not torch.equal(before[k], v) for k, v in tuned.state_dict().items())  # the steps changed it
    saved = finetune_any.save_model(tuned, tmp_path / "tuned.pth")
    again = finetune_any.load_sr_model(saved)
    assert again.architecture.id == name and again.scale == scale
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(again.model.eval()(x), tuned.eval()(x))


def _run(capsys, *argv) -> tuple[int, str]:
    code = finetune_any.main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def test_command_line_errors_are_one_line(tmp_path, hr_folder, capsys):
    junk = tmp_path / "junk.pth"
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, junk)
    code, error = _run(capsys, "--model", junk, "--data", hr_folder)
    assert code == 2 and error.count("\n") == 0 and "spandrel does not recognise" in error
    not_a_tensor_file = tmp_path / "notes.pth"
    not_a_tensor_file.write_text("not a model")
    code, error = _run(capsys, "--model", not_a_tensor_file, "--data", hr_folder)
    assert code == 2 and error.startswith(f"finetune_any: error: --model {not_a_tensor_file}: cannot read it")
    from spandrel.architectures.Compact import Compact

    restoration = tmp_path / "1x_denoise.pth"
    torch.save(Compact(num_feat=16, num_conv=2, upscale=1).state_dict(), restoration)
    code, error = _run(capsys, "--model", restoration, "--data", hr_folder)
    assert code == 2 and "a Restoration model (RealESRGAN Compact, scale 1), not a super-resolution one" in error
    odd = tmp_path / "odd"
    odd.mkdir()
    for k in range(2):
        Image.fromarray((np.random.default_rng(k).random((170, 170, 3)) * 255).astype(np.uint8)).save(odd / f"{k}.png")
    path, _ = _checkpoint(tmp_path, "ESRGAN")
    code, error = _run(capsys, "--model", path, "--data", odd, "--patch", 128)
    assert code == 2 and "170x170 is not divisible by the model's scale 4" in error


@pytest.mark.filterwarnings("ignore:sr has values far outside")
def test_the_command_writes_summary_picture_and_loadable_models(tmp_path, hr_folder, capsys):
    """End to end, as a user runs it: a control arm and an RQI arm, the held-out image judged by the judge and
    the referees, the summary tables, the picture, and weights spandrel loads to the model that was judged."""
    path, _ = _checkpoint(tmp_path, "Compact")
    workdir = tmp_path / "work"
    code = finetune_any.main(
        [str(a) for a in ("--model", path, "--data", hr_folder, "--workdir", workdir, "--control", "--iters", 2,
                          "--batch", 1, "--patch", 128, "--crop-border", 0, "--lr", 1e-3)]
    )  # fmt: skip
    assert code == 0
    results = workdir / "results"
    summary = (results / "summary.md").read_text()
    assert "RealESRGAN Compact x2, L1 + 0.002 x RQI (tiny-kadid-synth), 2 steps, seeds [0]" in summary
    assert "| seed | rqi | psnr | haarpsi |" in summary  # the RQI arm minus the control arm, per seed
    with open(results / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["image"], r["seed"], r["arm"]) for r in rows] == [("0", "-1", "before"), ("0", "0", "control"),
                                                                ("0", "0", "rqi")]  # fmt: skip
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("rqi", "psnr", "haarpsi", "ms_ssim", "vsi", "gmsd"))
    with Image.open(results / "comparison.png") as picture:
        assert picture.width > 5 * 160  # LQ, before, control, rqi, GT side by side at 1:1
    sr = np.asarray(Image.open(results / "sr" / "seed0_rqi" / "0.png"), dtype=np.float32) / 255
    hr = finetune_any.read_folder(hr_folder)["0"]
    tuned = finetune_any.load_sr_model(workdir / "models" / "rqi_seed0.pth").model.eval()
    with torch.no_grad():
        again = tuned(finetune_any.downscale(hr[None], 2)).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    assert np.abs(np.round(again * 255) / 255 - sr).max() <= 1 / 255 + 1e-6  # the saved weights made that image
    assert "wrote" in capsys.readouterr().out


def test_a_patch_too_small_for_the_judge_is_a_one_line_error(tmp_path, hr_folder, capsys):
    path, _ = _checkpoint(tmp_path, "Compact")
    code, error = _run(capsys, "--model", path, "--data", hr_folder, "--patch", 128, "--workdir", tmp_path / "w")
    assert code == 2 and error.count("\n") == 0
    assert "--patch 128 without --crop-border 16 on each side leaves 96 px" in error and "use --patch 160" in error
