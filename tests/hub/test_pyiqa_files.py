"""pyiqa's published file layouts (TOPIQ-FR: {"params": ...}; AHIQ: the two heads, backbones from timm files)
loaded strictly by rqi-convert --pyiqa into topiq_rqi / ahiq_rqi folders that rqi-train starts from. Tiny
networks here; the full-size files against pyiqa's own networks are in test_topiq.py and test_ahiq.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rqi_loss import create_network
from rqi_loss.networks import build_network
from rqi_loss.training import parse_config, train
from rqi_loss.weights._convert import main as convert_main

from tiny_models import TINY_AHIQ, TINY_TOPIQ
from tiny_training import tiny_config_values, tiny_dataset


def _random_network(architecture: str, config: dict, seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_network(architecture, config).eval()


def _part(state: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def _assert_same_network(folder, expected) -> None:
    converted = create_network(Path(folder))
    got = converted.state_dict()
    assert got.keys() == expected.state_dict().keys()
    assert all(torch.equal(got[k], v) for k, v in expected.state_dict().items())
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(converted(a, b), expected(a, b), rtol=0, atol=0)


def test_topiq_params_file_with_data_parallel_prefix(tmp_path, capsys):
    source = _random_network("topiq_rqi", TINY_TOPIQ, seed=1)
    published = {"params": {f"module.{k}": v for k, v in source.state_dict().items()}}
    torch.save(published, tmp_path / "cfanet_fr_kadid_res50.pth")
    args = [str(tmp_path / "cfanet_fr_kadid_res50.pth"), str(tmp_path / "topiq"), "--pyiqa", "topiq_fr"]
    assert convert_main([*args, "--network", json.dumps(TINY_TOPIQ)]) == 0
    _assert_same_network(tmp_path / "topiq", source)
    config = json.loads((tmp_path / "topiq" / "config.json").read_text())
    assert config["architecture"] == "topiq_rqi" and config["provenance"]["pyiqa_model"] == "topiq_fr"
    assert len(config["provenance"]["source_sha256"]) == 64 and "Noncommercial" in config["provenance"]["license"]
    assert "not as an RQI judge" in (tmp_path / "topiq" / "README.md").read_text()
    # the whole network is in the file: a backbone file as well is refused, naming the part
    backbone = tmp_path / "resnet.safetensors"
    from safetensors.torch import save_file

    save_file(_part(source.state_dict(), "semantic_model."), backbone)
    code = convert_main([*args, "--network", json.dumps(TINY_TOPIQ), "--backbone", f"resnet={backbone}"])
    assert code == 2 and "already holds the 'resnet' backbone" in capsys.readouterr().err


@pytest.fixture
def ahiq_files(tmp_path):
    """A tiny AHIQ as pyiqa publishes it: the heads file, plus the two backbones as timm-layout files."""
    from safetensors.torch import save_file

    source = _random_network("ahiq_rqi", TINY_AHIQ, seed=2)
    state = source.state_dict()
    heads = {
        "regressor_model_state_dict": _part(state, "regressor."),
        "deform_net_model_state_dict": _part(state, "deform_net."),
        "epoch": 33,  # training scripts store more than weights
    }
    torch.save(heads, tmp_path / "AHIQ_vit_p8_epoch33.pth")
    save_file(_part(state, "vit."), tmp_path / "vit.safetensors")
    save_file(_part(state, "resnet50."), tmp_path / "resnet.safetensors")
    return source, tmp_path


def test_ahiq_heads_file_with_timm_backbones(ahiq_files, capsys):
    source, folder = ahiq_files
    args = [str(folder / "AHIQ_vit_p8_epoch33.pth"), str(folder / "ahiq"), "--pyiqa", "ahiq"]
    args += ["--network", json.dumps(TINY_AHIQ)]
    backbones = [
        "--backbone",
        f"vit={folder / 'vit.safetensors'}",
        "--backbone",
        f"resnet={folder / 'resnet.safetensors'}",
    ]
    assert convert_main(args + backbones[:2]) == 2  # the ResNet is missing: named, with the fix
    assert "holds no 'resnet' backbone" in capsys.readouterr().err and not (folder / "ahiq").exists()
    assert convert_main(args + backbones) == 0
    _assert_same_network(folder / "ahiq", source)
    backbones_recorded = json.loads((folder / "ahiq" / "config.json").read_text())["provenance"]["backbones"]
    assert sorted(backbones_recorded) == ["resnet", "vit"] and backbones_recorded["vit"]["file"] == "vit.safetensors"

    table = tiny_dataset(folder)  # the converted folder starts an rqi-train run
    values = tiny_config_values(table, "ahiq-from-pyiqa")
    values.update(architecture="ahiq_rqi", network=TINY_AHIQ, init_from=str(folder / "ahiq"))
    summary = train(parse_config(values), folder / "trained", progress=False)
    assert summary["history"][-1]["epoch"] == 1
    from huggingface_hub import ModelCard

    converted_card = ModelCard.load(folder / "ahiq" / "README.md").data
    assert converted_card.license == "other" and converted_card.license_name == "polyform-noncommercial-1.0.0"
    trained_card = ModelCard.load(folder / "trained" / "README.md").data  # rqi-train's export: held-out numbers
    assert trained_card.library_name == "rqi_loss" and trained_card.datasets == ["table"]  # the table file's name
    assert {r.metric_name for r in trained_card.eval_results} == {"image SRCC", "pair SRCC", "pair sign accuracy"}
    best = summary["best"]
    assert {r.metric_name: r.metric_value for r in trained_card.eval_results}["image SRCC"] == round(
        best["image_srcc"], 4
    )


def test_unknown_layouts_and_misuse_are_named(tmp_path, capsys):
    torch.save({"model": {"w": torch.zeros(1)}, "optimizer": {}}, tmp_path / "other.pth")
    assert convert_main([str(tmp_path / "other.pth"), str(tmp_path / "out"), "--pyiqa", "topiq_fr"]) == 2
    err = capsys.readouterr().err
    assert "not in a pyiqa layout (top level: ['model', 'optimizer'])" in err and "'params'" in err
    with pytest.raises(SystemExit):
        convert_main([str(tmp_path / "other.pth"), str(tmp_path / "out"), "--backbone", "vit=x.safetensors"])
    assert "add --pyiqa" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        convert_main([str(tmp_path / "other.pth"), str(tmp_path / "out"), "--pyiqa", "ahiq", "--backbone", "vit"])
    assert "expected PART=FILE" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
