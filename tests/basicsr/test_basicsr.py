"""BasicSR integration: registrations, the loss classes, the metric, real train_pipeline runs on CPU
(pixel_opt, perceptual_opt, RQIRealESRGANModel with rqi_opt and a calculate_rqi validation), 2-process
gloo DDP via torchrun, and a smoke run of examples/finetune_realesrgan.py."""

from __future__ import annotations

import copy
import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

if importlib.util.find_spec("basicsr") is None or importlib.util.find_spec("torchvision") is None:
    pytest.skip("needs the basicsr extra (basicsr, torchvision)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("finetune_realesrgan", ROOT / "examples" / "finetune_realesrgan.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return example.prepare_data(tmp_path_factory.mktemp("data"), None)


def _run(options: dict, workdir: Path, *launcher: str) -> str:
    path = workdir / f"{options['name']}.yml"
    path.write_text(yaml.safe_dump(options, sort_keys=False))
    example.write_meta_info(options)
    command = (
        [*launcher, "-m", "rqi_loss.basicsr.train", "-opt", str(path)]
        if launcher
        else [sys.executable, "-m", "rqi_loss.basicsr.train", "-opt", str(path)]
    )
    if launcher:
        command += ["--launcher", "pytorch"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = sorted((workdir / "experiments" / options["name"]).glob("train_*.log"))[-1].read_text()
    return log


def _paired_options(folders, name: str, train_losses: dict) -> dict:
    options = yaml.safe_load((ROOT / "examples" / "options" / "rqi_pixel_loss_minimal.yml").read_text())
    options["name"] = name
    options["datasets"]["train"].update(dataroot_gt=str(folders["train_hr"]), dataroot_lq=str(folders["train_lr_x4"]))
    options["train"].pop("pixel_opt")
    options["train"].update(total_iter=2, **train_losses)
    options["logger"].update(print_freq=1, save_checkpoint_freq=2)
    return options


def test_registrations_are_idempotent():
    code = (
        "import importlib, sys, rqi_loss.basicsr as b; importlib.reload(b); importlib.reload(b);"
        "from basicsr.utils.registry import LOSS_REGISTRY as L, METRIC_REGISTRY as M, MODEL_REGISTRY as R;"
        "import torchvision.transforms.functional as F;"
        "assert sys.modules['torchvision.transforms.functional_tensor'] is F;"
        "print(L.get('RQILoss').__module__, L.get('RQIPerceptualLoss').__name__, M.get('calculate_rqi').__name__,"
        " R.get('RQIRealESRGANModel').__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["rqi_loss.basicsr.losses", "RQIPerceptualLoss", "calculate_rqi", "RQIRealESRGANModel"]
    help_text = subprocess.run(
        [sys.executable, "-m", "rqi_loss.basicsr.train", "-h"], capture_output=True, text=True, check=True
    ).stdout
    assert "-opt" in help_text


def test_import_rqi_loss_does_not_import_basicsr():
    code = "import sys, rqi_loss; print('basicsr' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_loss_classes_from_the_registry():
    import rqi_loss.basicsr  # noqa: F401  (before basicsr: installs the torchvision alias)

    # isort: split
    from basicsr.losses import build_loss

    loss = build_loss({"type": "RQILoss", "model": "tiny-kadid-synth", "loss_weight": 0.5, "seed": 0})
    percep = build_loss({"type": "RQIPerceptualLoss", "model": "tiny-kadid-synth", "seed": 0})
    g = torch.Generator().manual_seed(0)
    output = torch.rand(2, 3, 128, 128, generator=g).requires_grad_(True)
    target = torch.rand(2, 3, 128, 128, generator=g)
    value = loss(output, target)
    assert value.shape == () and value.dtype == torch.float32
    value.backward()
    assert output.grad.abs().sum() > 0
    l_percep, l_style = percep(output, target)
    assert l_percep.shape == () and l_style is None
    with pytest.raises(TypeError, match=r"RQILoss got unknown option\(s\) \['weight'\]; valid options: .*loss_weight"):
        build_loss({"type": "RQILoss", "model": "tiny-kadid-synth", "weight": 1.0})


def test_calculate_rqi_takes_basicsr_images():
    import rqi_loss.basicsr  # noqa: F401  (before basicsr: installs the torchvision alias)

    # isort: split
    from basicsr.utils.registry import METRIC_REGISTRY

    from rqi_loss import create_network
    from rqi_loss.functional import rqi_score

    rng = np.random.default_rng(0)
    sr_bgr = rng.integers(0, 256, (140, 150, 3)).astype(np.uint8)
    gt_bgr = rng.integers(0, 256, (140, 150, 3)).astype(np.uint8)
    value = METRIC_REGISTRY.get("calculate_rqi")(sr_bgr, gt_bgr, crop_border=4, model="tiny-kadid-synth")

    def rgb(x):
        return torch.from_numpy(x[4:-4, 4:-4, ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()

    expected = rqi_score(rgb(sr_bgr), rgb(gt_bgr), create_network("tiny-kadid-synth"), crop="grid").item()
    assert value == pytest.approx(expected, abs=1e-6)
    assert (
        METRIC_REGISTRY.get("calculate_rqi")(sr_bgr, gt_bgr, crop_border=4, model="tiny-kadid-synth", better="higher")
        == value
    )
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['bettr'\]; valid options: .*num_crops.*better"):
        METRIC_REGISTRY.get("calculate_rqi")(sr_bgr, gt_bgr, crop_border=4, model="tiny-kadid-synth", bettr="higher")


def test_pixel_opt_rqiloss_train_pipeline(folders, tmp_path):
    options = _paired_options(
        folders, "pix", {"pixel_opt": {"type": "RQILoss", "model": "tiny-kadid-synth", "loss_weight": 1.0}}
    )
    log = _run(options, tmp_path)
    assert "l_pix:" in log and "End of training" in log
    assert (tmp_path / "experiments" / "pix" / "models" / "net_g_2.pth").is_file()


def test_perceptual_opt_rqiperceptualloss_train_pipeline(folders, tmp_path):
    losses = {
        "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        "perceptual_opt": {"type": "RQIPerceptualLoss", "model": "tiny-kadid-synth", "loss_weight": 0.1},
    }
    log = _run(_paired_options(folders, "percep", losses), tmp_path)
    assert "l_percep:" in log and "l_pix:" in log


def _realesrgan(folders, name: str, iters: int = 2) -> dict:
    options = example.realesrgan_options(
        folders, iters=iters, gt_size=128, batch=2, rqi="tiny-kadid-synth", rqi_weight=0.1, pretrained=None, name=name
    )
    options["logger"].update(print_freq=1)
    return options


def test_rqi_realesrgan_model_train_pipeline_with_validation(folders, tmp_path):
    options = _realesrgan(folders, "resr")
    options["datasets"]["val"] = {
        "name": "heldout",
        "type": "PairedImageDataset",
        "dataroot_gt": str(folders["heldout_hr"]),
        "dataroot_lq": str(folders["heldout_lr_x4"]),
        "io_backend": {"type": "disk"},
    }
    # `better: higher` is BasicSR's own key, which it passes on to the metric function with the others
    rqi_block = {"type": "calculate_rqi", "crop_border": 4, "model": "tiny-kadid-synth", "better": "higher"}
    options["val"] = {"val_freq": 2, "save_img": False, "metrics": {"rqi": rqi_block}}
    log = _run(options, tmp_path)
    assert "l_g_rqi:" in log and "l_g_pix:" in log and "l_g_gan:" in log
    assert "# rqi:" in log  # the validation metric was computed


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="CPU gloo path; with CUDA BasicSR's NCCL path needs one GPU per rank"
)
@pytest.mark.distributed
@pytest.mark.slow  # 18 s: torchrun and two BasicSR ranks; run by CI with -m slow
def test_ddp_two_processes_on_gloo(folders, tmp_path):
    options = _realesrgan(folders, "ddp")
    log = _run(
        options, tmp_path, sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533"
    )
    assert "World size (gpu number): 2" in log and "l_g_rqi:" in log


def _model_and_batch(options: dict, tmp_path: Path, keys: tuple[str, ...]):
    """BasicSR's model built from ``options`` (as its training pipeline would, on the CPU) and a batch of two of
    its training dataset's items (``keys``)."""
    import rqi_loss.basicsr  # noqa: F401  (before basicsr: installs the torchvision alias)

    # isort: split
    from basicsr.data import build_dataset
    from basicsr.models import build_model

    example.write_meta_info(options)
    options.update(is_train=True, dist=False, rank=0, world_size=1, num_gpu=0)
    options["path"].update(
        experiments_root=str(tmp_path),
        models=str(tmp_path),
        training_states=str(tmp_path),
        log=str(tmp_path),
        visualization=str(tmp_path),
    )
    dataset_opt = copy.deepcopy(options["datasets"]["train"]) | {"phase": "train", "scale": 4}
    dataset = build_dataset(dataset_opt)
    model = build_model(options)
    return model, {k: torch.stack([dataset[i][k] for i in range(2)]) for k in keys}


def test_rqi_term_reaches_the_generator(folders, tmp_path):
    """With L1 off and the GAN weight 0, every generator gradient comes through the RQI term."""
    options = _realesrgan(folders, "grad")
    options["train"].pop("pixel_opt")
    options["train"]["gan_opt"]["loss_weight"] = 0.0
    model, batch = _model_and_batch(options, tmp_path, ("gt", "kernel1", "kernel2", "sinc_kernel"))
    model.feed_data(batch)
    model.optimize_parameters(1)
    grads = [p.grad for p in model.net_g.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0
    assert "l_g_rqi" in model.log_dict


@pytest.mark.parametrize("l1_gt_usm", [False, True])
def test_paired_data_sharpens_the_gt_only_for_a_term_that_uses_it(folders, tmp_path, l1_gt_usm):
    """On paired data the unsharp-masked GT is made when a term first uses it, once per batch, and equals
    USMSharp's output; with every target plain (the main job's default) it is never made."""
    from basicsr.utils import USMSharp

    options = example.realesrgan_options(
        folders,
        iters=2,
        gt_size=128,
        batch=2,
        rqi="tiny-kadid-synth",
        rqi_weight=0.1,
        pretrained=None,
        name="usm",
        degradation="paired",
        l1_gt_usm=l1_gt_usm,
    )
    model, batch = _model_and_batch(options, tmp_path, ("lq", "gt"))
    calls = []
    model.usm_sharpener.register_forward_hook(lambda module, inputs, output: calls.append(output))
    for step in (1, 2):
        model.feed_data(batch | {"gt": batch["gt"].clone()})
        model.optimize_parameters(step)
        assert "l_g_pix" in model.log_dict and "l_g_rqi" in model.log_dict
    assert len(calls) == (2 if l1_gt_usm else 0)
    if l1_gt_usm:
        assert torch.equal(model.gt_usm, USMSharp()(model.gt)) and model.gt_usm is calls[-1]


@pytest.mark.slow  # the main job end to end, 1-2.5 min; the README quick start, run by CI with -m slow
def test_example_smoke(tmp_path):
    """The main job with 2 seeds and 2 iterations: every output, one summary row per image, seed and arm, the SR
    images saved, BasicSR's logs in files (the console keeps its progress bar and the summary)."""
    command = [sys.executable, str(ROOT / "examples" / "finetune_realesrgan.py"), "--workdir", str(tmp_path)]
    result = subprocess.run(
        command + ["--iters", "2", "--warmup-iters", "2", "--seeds", "0,1"], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert "is created" not in console and "is not found" not in console  # BasicSR's own lines stay in logs/
    results = tmp_path / "results"
    assert {p.name for p in results.iterdir()} == {
        "comparison.png",
        "loss_curves.png",
        "summary.md",
        "summary.csv",
        "sr",
    }
    rows = list(csv.DictReader((results / "summary.csv").open()))
    assert list(rows[0]) == ["image", "seed", "arm", "rqi", "psnr", "haarpsi", "ms_ssim", "vsi", "gmsd", "border"]
    runs = [("-1", "before")] + [(seed, arm) for seed in ("0", "1") for arm in ("control", "rqi")]
    images = ("camera", "ihc", "retina")
    assert sorted((r["image"], r["seed"], r["arm"]) for r in rows) == sorted((i, s, a) for i in images for s, a in runs)
    assert all(0 < float(r["haarpsi"]) <= 1 and 0 < float(r["vsi"]) <= 1 for r in rows)
    control = {(r["image"], r["seed"]): r for r in rows if r["arm"] == "control"}
    rqi = {(r["image"], r["seed"]): r for r in rows if r["arm"] == "rqi"}
    assert any(control[k]["rqi"] != rqi[k]["rqi"] for k in control)  # the RQI term changed the fine-tune
    assert sorted(p.name for p in (results / "sr").iterdir()) == [
        "before",
        "seed0_control",
        "seed0_rqi",
        "seed1_control",
        "seed1_rqi",
    ]
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == sorted(
        ["before_l1.log", "control_seed0.log", "rqi_seed0.log", "control_seed1.log", "rqi_seed1.log"]
    )
    assert "RQI arm minus control arm, per seed" in result.stdout and "INFO: [" not in result.stdout + result.stderr
    with Image.open(results / "comparison.png") as picture:
        assert picture.width >= 5 * 256  # five columns at 1:1


@pytest.mark.parametrize("flag, sharpened", [([], False), (["--l1-target", "sharpened"], True)])
def test_the_l1_target_reaches_both_arms_and_the_rqi_arm_options_only_that_arm(
    folders, tmp_path, monkeypatch, flag, sharpened
):
    """By default both arms' L1 compares with the GT itself; --l1-target sharpened gives both Real-ESRGAN's
    unsharp-masked target; rqi_arm_options change the RQI arm alone."""
    written = []
    monkeypatch.setattr(example, "run_basicsr", lambda options, *rest: written.append(options) or (tmp_path, None))
    monkeypatch.setattr(example, "load_generator", lambda options, weights: None)
    args = example.parse_arguments([*flag, "--seeds", "0"])
    changes = {"train": {"gan_opt": {"loss_weight": 0.5}}}
    example.fine_tune_arms(args, folders, tmp_path / "before.pth", tmp_path, None, changes)
    control, rqi = written
    assert control["l1_gt_usm"] is sharpened and rqi["l1_gt_usm"] is sharpened
    assert "rqi_opt" not in control["train"] and rqi["train"]["rqi_opt"]["type"] == "RQILoss"
    assert control["train"]["gan_opt"]["loss_weight"] == 0.01 and rqi["train"]["gan_opt"]["loss_weight"] == 0.5
    assert example.realesrgan_options(folders, **_arm_defaults())["l1_gt_usm"] is True  # Real-ESRGAN's recipe


def test_the_judge_sees_grey_by_default_and_the_reward_cap_only_when_asked(folders, tmp_path, monkeypatch):
    """By default the RQI arm's RQILoss judges grey images (grey: true) with no reward cap; --rqi-max-score sets
    max_score, --no-rqi-grey leaves grey out (the judge sees the colours)."""
    written = []
    monkeypatch.setattr(example, "run_basicsr", lambda options, *rest: written.append(options) or (tmp_path, None))
    monkeypatch.setattr(example, "load_generator", lambda options, weights: None)
    for flags in ([], ["--rqi-max-score", "0", "--no-rqi-grey"]):
        args = example.parse_arguments([*flags, "--seeds", "0"])
        example.fine_tune_arms(args, folders, tmp_path / "before.pth", tmp_path, None)
    (_, default_rqi), (_, changed_rqi) = written[:2], written[2:]
    assert default_rqi["train"]["rqi_opt"]["grey"] is True and "max_score" not in default_rqi["train"]["rqi_opt"]
    assert changed_rqi["train"]["rqi_opt"]["max_score"] == 0.0 and "grey" not in changed_rqi["train"]["rqi_opt"]
    assert default_rqi["train"]["rqi_opt"]["loss_weight"] == example.DEFAULT_WEIGHT == 0.004


def test_the_title_names_the_training_settings_that_differ_from_the_defaults():
    assert example.changed_settings(example.parse_arguments([])) == ""  # the recorded defaults' titles unchanged
    flags = ["--batch", "4", "--gt-size", "192", "--crop-border", "8", "--no-transforms"]
    changed = example.changed_settings(example.parse_arguments(flags))
    assert changed == ", batch 4, 192 px patches, crop border 8 px, no random transformations"


def _arm_defaults() -> dict:
    return {"iters": 2, "gt_size": 64, "batch": 2, "rqi": "tiny-kadid-synth", "rqi_weight": 0.002, "pretrained": None}


@pytest.mark.slow  # 25 s: the full Real-ESRGAN recipe's degradations; run by CI with -m slow
def test_real_recipe_yaml_runs_through_rqi_basicsr_train(folders, freed_tmp_path):
    """examples/options/finetune_realesrgan_x4plus_rqi.yml itself, unchanged on disk, run for 2 iterations on
    the CPU with BasicSR's own ``--force_yml`` overrides for what this machine lacks: the DF2K data (the
    example's photographs instead), the Real-ESRGAN checkpoints (random RRDBNet/UNet weights saved under the
    YAML's param keys, so the pretrained-loading path runs), the VGG19 weights (perceptual term off), the Hub
    (the embedded judge instead of maniqa-pipal) and tensorboard; and a small batch/crop for speed."""
    import rqi_loss.basicsr  # noqa: F401  (before basicsr: installs the torchvision alias)

    # isort: split
    from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
    from basicsr.archs.rrdbnet_arch import RRDBNet

    tmp_path = freed_tmp_path

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        generator = RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32)
        discriminator = UNetDiscriminatorSN(num_in_ch=3, num_feat=64, skip_connection=True)
    pretrained_g, pretrained_d = tmp_path / "RealESRGAN_x4plus.pth", tmp_path / "RealESRGAN_x4plus_netD.pth"
    torch.save({"params_ema": generator.state_dict()}, pretrained_g)
    torch.save({"params": discriminator.state_dict()}, pretrained_d)
    meta_info = tmp_path / "meta_info.txt"
    meta_info.write_text("".join(f"{p.name}\n" for p in sorted(folders["train_hr"].iterdir())))
    overrides = [
        f"datasets:train:dataroot_gt={folders['train_hr']}",
        f"datasets:train:meta_info={meta_info}",
        "datasets:train:gt_size=128",
        "gt_size=128",
        "queue_size=4",
        "datasets:train:batch_size_per_gpu=2",
        "datasets:train:num_worker_per_gpu=0",
        f"path:pretrain_network_g={pretrained_g}",
        f"path:pretrain_network_d={pretrained_d}",
        "train:perceptual_opt=~",
        "train:rqi_opt:model=tiny-kadid-synth",
        "train:total_iter=2",
        "logger:print_freq=1",
        "logger:use_tb_logger=false",
    ]
    yml = ROOT / "examples" / "options" / "finetune_realesrgan_x4plus_rqi.yml"
    command = [sys.executable, "-m", "rqi_loss.basicsr.train", "-opt", str(yml), "--force_yml", *overrides]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = sorted((tmp_path / "experiments" / "finetune_RealESRGANx4plus_rqi").glob("train_*.log"))[-1].read_text()
    assert "Loading RRDBNet model from" in log and "params_ema" in log
    assert "l_g_rqi:" in log and "l_g_pix:" in log and "l_g_gan:" in log and "End of training" in log
