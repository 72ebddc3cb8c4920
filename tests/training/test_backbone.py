"""backbone_weights: timm-layout ImageNet weights start a run's backbone, from a local file or from the Hub
(the local Hub server), mapped strictly onto our ViT (every key used or declared unused)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import save, save_file

from rqi_loss.networks import MANIQARQI, load_backbone_state
from rqi_loss.training import parse_config
from rqi_loss.training.backbone import load_backbone

from tiny_models import TINY_MANIQA
from tiny_training import tiny_dataset

timm = pytest.importorskip("timm", reason="the timm-layout weights are made by timm (test extra)")


def timm_vit(width: int = TINY_MANIQA["vit_width"], depth: int = 4) -> torch.nn.Module:
    """timm's own ViT-B/8 class at the tiny test size, random weights: more blocks than the taps use, a final norm
    and a classifier, as the published ImageNet file has."""
    torch.manual_seed(3)
    return timm.create_model(
        "vit_base_patch8_224",
        pretrained=False,
        img_size=TINY_MANIQA["img_size"],
        embed_dim=width,
        depth=depth,
        num_heads=TINY_MANIQA["vit_heads"],
        num_classes=10,
    )


def test_timm_weights_fill_the_backbone_and_nothing_else(tmp_path):
    source = timm_vit().state_dict()
    save_file(source, tmp_path / "vit.safetensors")
    torch.manual_seed(0)
    network = MANIQARQI(**TINY_MANIQA)
    head_before = {k: v.clone() for k, v in network.state_dict().items() if not k.startswith("vit.")}
    load_backbone(network, str(tmp_path / "vit.safetensors"))
    state = network.state_dict()
    for key, value in state.items():
        if key.startswith("vit."):
            torch.testing.assert_close(value, source[key[len("vit.") :]], rtol=0, atol=0)
        else:
            torch.testing.assert_close(value, head_before[key], rtol=0, atol=0)


def test_a_backbone_of_another_size_is_refused_with_the_keys(tmp_path):
    network = MANIQARQI(**TINY_MANIQA)
    wrong = timm_vit(width=48).state_dict()
    with pytest.raises(ValueError, match=r"do not fit the backbone \(vit\.\*\).*shape mismatches: vit\.blocks"):
        load_backbone_state(network, wrong, source="wrong.safetensors")
    stray = {**timm_vit().state_dict(), "extra.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"unexpected keys: vit\.extra\.weight"):
        load_backbone_state(network, stray, source="stray.safetensors")
    from rqi_loss.networks import CompactRQI

    with pytest.raises(ValueError, match="'rqi_cnn' architecture has no pretrained backbone"):
        load_backbone_state(CompactRQI(input_size=32, levels=2, width=4, hidden=16), {}, source="x")


def test_rqi_train_starts_from_hub_backbone_weights(tmp_path, hub, hf_env):
    source = timm_vit().state_dict()
    hub.add_commit("timm/vit-tiny-test", {"model.safetensors": save(source)})
    values = {
        "name": "backbone",
        "architecture": "maniqa_rqi",
        "network": {**TINY_MANIQA, "backbone_weights": "hf-hub:timm/vit-tiny-test"},
        "data": {"table": str(tiny_dataset(tmp_path)), "group_column": "group", "reference_column": "reference"},
        "optim": {"epochs": 1, "pairs_per_epoch": 8, "batch_size": 4, "lr": 0.0, "val_pairs": 8, "threads": 1},
    }
    assert parse_config(values).backbone_weights == "hf-hub:timm/vit-tiny-test"  # lifted out of network
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(values))
    command = [sys.executable, "-m", "rqi_loss.training.cli", str(tmp_path / "config.yaml"), "--output"]
    result = subprocess.run([*command, str(tmp_path / "out"), "--quiet"], env=hf_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert hub.requests_for("model.safetensors")[-1] == "GET"
    from rqi_loss import create_network

    trained = create_network(tmp_path / "out").state_dict()  # lr 0: the backbone is the file's, bit for bit
    for key in ("vit.pos_embed", "vit.blocks.1.mlp.fc2.weight", "vit.patch_embed.proj.weight"):
        torch.testing.assert_close(trained[key], source[key[len("vit.") :]], rtol=0, atol=0)
    values["network"]["backbone_weights"] = "hf-hub:timm/missing"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(values))
    missing = subprocess.run([*command, str(tmp_path / "out2")], env=hf_env, capture_output=True, text=True)
    assert missing.returncode == 2 and "timm/missing" in missing.stderr and "Traceback" not in missing.stderr


def test_backbone_weights_is_given_once_and_not_beside_init_from():
    base = {"name": "b", "architecture": "maniqa_rqi", "data": {"table": "t.csv"}}
    with pytest.raises(ValueError, match="give backbone_weights once"):
        parse_config({**base, "backbone_weights": "a", "network": {"backbone_weights": "b"}})
    with pytest.raises(ValueError, match="backbone_weights and init_from both set the starting weights"):
        parse_config({**base, "backbone_weights": "a", "init_from": "folder"})
