"""TOPIQ-RQI (``topiq_rqi``): the scores of pyiqa's TOPIQ-FR (CFANet) to 1e-5 with the same random weights, its
checkpoints loaded strictly, the network contract, timm's ResNet-50 as backbone weights, and rqi-train."""

from __future__ import annotations

import pytest
import torch

from rqi_loss.networks import TOPIQRQI, build_network, load_network_state
from rqi_loss.networks.resnet import ResNetFeatures
from rqi_loss.training import parse_config, train

from pyiqa_reference import assert_converted_scores_as, assert_scores_equal_reference, load_cfanet, needs_pyiqa
from tiny_models import TINY_TOPIQ
from tiny_training import tiny_config_values, tiny_dataset


@pytest.fixture(scope="module")
def reference_pair():
    """pyiqa's CFANet (FR, ResNet-50, random weights) and our network with its state dict."""
    cfanet = load_cfanet()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = cfanet(
            semantic_model_name="resnet50",
            model_name="cfanet_fr_pipal_res50",
            backbone_pretrain=False,
            use_ref=True,
            pretrained=False,
        ).eval()
    ours = TOPIQRQI()
    load_network_state(ours, reference.state_dict(), source="pyiqa CFANet")
    return reference, ours.eval()


@needs_pyiqa
def test_scores_equal_pyiqa_topiq_fr(reference_pair):
    assert_scores_equal_reference(*reference_pair, size=256)


@needs_pyiqa
def test_pyiqa_checkpoints_load_strictly(reference_pair):
    reference, ours = reference_pair
    state = reference.state_dict()
    unused = [k for k in state if ".self_attn." in k and k.startswith("attn_blks.")]
    assert unused and all(ours.is_unused_checkpoint_key(k) for k in unused)  # built by pyiqa, never called
    with pytest.raises(ValueError, match=r"unexpected keys: extra\.weight"):
        load_network_state(TOPIQRQI(), {**state, "extra.weight": torch.zeros(1)}, source="stray")


def test_resnet_features_equal_timms():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet50", pretrained=False, features_only=True).eval()
    ours = ResNetFeatures().eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    for expected, got in zip(reference(x), ours(x), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    ours.train()
    assert not any(m.training for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d))  # frozen statistics


def test_timm_resnet50_is_a_backbone_file(tmp_path):
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    from rqi_loss.training.backbone import load_backbone

    source = timm.create_model("resnet50", pretrained=False).state_dict()  # with its classifier, fc.*
    save_file(source, tmp_path / "resnet50.safetensors")
    network = TOPIQRQI()
    load_backbone(network, str(tmp_path / "resnet50.safetensors"))
    torch.testing.assert_close(
        network.state_dict()["semantic_model.layer3.2.conv2.weight"], source["layer3.2.conv2.weight"]
    )


def test_tiny_network_contract_and_training(tmp_path):
    network = build_network("topiq_rqi", TINY_TOPIQ)
    a, b = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    scores = network(a, b)
    assert scores.shape == (3,) and scores.dtype == torch.float32 and network.config["depths"] == [1, 1, 1, 1]
    table = tiny_dataset(tmp_path)
    for recipe in ("rqi", "traditional"):
        values = tiny_config_values(table, f"topiq-{recipe}")
        values.update(architecture="topiq_rqi", network=TINY_TOPIQ, recipe=recipe)
        summary = train(parse_config(values), tmp_path / recipe, progress=False)
        assert summary["history"][-1]["epoch"] == 1 and (tmp_path / recipe / "model.safetensors").is_file()


@needs_pyiqa
def test_published_layout_converts_to_pyiqas_scores(reference_pair, tmp_path):
    """pyiqa's file layout ({"params": state_dict}, DataParallel prefixes) through rqi-convert: the converted
    folder scores as pyiqa does."""
    reference, _ = reference_pair
    source = tmp_path / "cfanet_fr_pipal_res50.pth"
    torch.save({"params": {f"module.{k}": v for k, v in reference.state_dict().items()}}, source)
    assert_converted_scores_as(reference, [str(source), "--pyiqa", "topiq_fr"], 256, tmp_path)
