"""AHIQ-RQI (``ahiq_rqi``): pyiqa's AHIQ scores to 1e-5 with the same random weights, its checkpoints loaded
strictly, the deformable convolution against torchvision's, the network contract and rqi-train."""

from __future__ import annotations

import pytest
import torch

from rqi_loss.networks import AHIQRQI, build_network, load_network_state
from rqi_loss.networks.ahiq import deform_conv3x3
from rqi_loss.training import parse_config, train

from pyiqa_reference import assert_converted_scores_as, assert_scores_equal_reference, build_ahiq, needs_pyiqa
from tiny_models import TINY_AHIQ
from tiny_training import tiny_config_values, tiny_dataset


@pytest.fixture(scope="module")
def reference_pair():
    reference = build_ahiq(seed=0)
    ours = AHIQRQI()
    load_network_state(ours, reference.state_dict(), source="pyiqa AHIQ")
    return reference, ours.eval()


@needs_pyiqa
def test_scores_equal_pyiqa_ahiq(reference_pair):
    assert_scores_equal_reference(*reference_pair, size=224)


@needs_pyiqa
def test_pyiqa_checkpoints_load_strictly(reference_pair):
    reference, _ = reference_pair
    state = reference.state_dict()
    network = AHIQRQI()
    assert network.is_unused_checkpoint_key("vit.blocks.5.attn.qkv.weight")
    assert network.is_unused_checkpoint_key("resnet50.layer4.2.conv3.weight")
    assert not network.is_unused_checkpoint_key("vit.blocks.4.attn.qkv.weight")
    with pytest.raises(ValueError, match=r"unexpected keys: extra\.weight"):
        load_network_state(network, {**state, "extra.weight": torch.zeros(1)}, source="stray")


def test_deformable_convolution_equals_torchvisions():
    ops = pytest.importorskip("torchvision.ops")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 9, 11, generator=g)
    offset = 3 * torch.randn(2, 18, 9, 11, generator=g)  # shifts past the border too: zero outside
    weight, bias = torch.randn(4, 5, 3, 3, generator=g), torch.randn(4, generator=g)
    expected = ops.deform_conv2d(x, offset, weight, bias, padding=1)
    torch.testing.assert_close(deform_conv3x3(x, offset, weight, bias), expected, rtol=1e-5, atol=1e-5)


def test_tiny_network_contract_and_training(tmp_path):
    network = build_network("ahiq_rqi", TINY_AHIQ)
    scores = network(torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32))
    assert scores.shape == (3,) and scores.dtype == torch.float32 and network.config["vit_blocks"] == 2
    table = tiny_dataset(tmp_path)
    for recipe in ("rqi", "traditional"):
        values = tiny_config_values(table, f"ahiq-{recipe}")
        values.update(architecture="ahiq_rqi", network=TINY_AHIQ, recipe=recipe)
        summary = train(parse_config(values), tmp_path / recipe, progress=False)
        assert summary["history"][-1]["epoch"] == 1 and (tmp_path / recipe / "model.safetensors").is_file()


def test_two_imagenet_backbones_from_timm_files(tmp_path):
    """backbone_weights as a mapping: timm's ViT and ResNet files fill AHIQ's two backbones, nothing else."""
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file
    from timm.models.resnet import Bottleneck, ResNet

    from rqi_loss.training.backbone import load_backbone

    config = {**TINY_AHIQ, "stem_width": 64}  # timm's stem is 64 wide whatever its stage widths
    torch.manual_seed(3)
    vit = timm.create_model("vit_base_patch8_224", pretrained=False, img_size=32, embed_dim=16, depth=3, num_heads=2)
    resnet = ResNet(block=Bottleneck, layers=[2, 1, 1, 1])  # ResNet-50's layout, fewer blocks; classifier included
    save_file(vit.state_dict(), tmp_path / "vit.safetensors")
    save_file(resnet.state_dict(), tmp_path / "resnet.safetensors")
    network = build_network("ahiq_rqi", config)
    head = {k: v.clone() for k, v in network.state_dict().items() if k.startswith(("deform_net.", "regressor."))}
    load_backbone(network, {"vit": str(tmp_path / "vit.safetensors"), "resnet": str(tmp_path / "resnet.safetensors")})
    state = network.state_dict()
    torch.testing.assert_close(state["vit.blocks.1.attn.qkv.weight"], vit.state_dict()["blocks.1.attn.qkv.weight"])
    torch.testing.assert_close(state["resnet50.layer1.1.conv2.weight"], resnet.state_dict()["layer1.1.conv2.weight"])
    assert all(torch.equal(state[k], v) for k, v in head.items())
    with pytest.raises(ValueError, match=r"has backbones \['resnet', 'vit'\]: give backbone_weights as a mapping"):
        load_backbone(network, str(tmp_path / "vit.safetensors"))
    with pytest.raises(ValueError, match=r"has no backbone 'cnn'; its backbones: \['resnet', 'vit'\]"):
        load_backbone(network, {"cnn": str(tmp_path / "resnet.safetensors")})
    values = tiny_config_values(tiny_dataset(tmp_path), "ahiq-imagenet")
    values.update(architecture="ahiq_rqi", network=config, backbone_weights={"vit": "a", "resnet": "b"})
    assert parse_config(values).backbone_weights == {"vit": "a", "resnet": "b"}  # a mapping is a valid value


@needs_pyiqa
def test_published_layout_converts_to_pyiqas_scores(reference_pair, tmp_path):
    """pyiqa's file layout (the two heads) plus its timm backbones, whole (all 12 ViT blocks, ResNet stages
    1-4, classifiers), through rqi-convert: the converted folder scores as pyiqa does."""
    from safetensors.torch import save_file

    reference, _ = reference_pair
    heads = {
        "regressor_model_state_dict": reference.regressor.state_dict(),
        "deform_net_model_state_dict": reference.deform_net.state_dict(),
    }
    torch.save(heads, tmp_path / "AHIQ_vit_p8_epoch33.pth")
    save_file(reference.vit.state_dict(), tmp_path / "vit.safetensors")
    save_file(reference.resnet50.state_dict(), tmp_path / "resnet.safetensors")
    backbones = [f"vit={tmp_path / 'vit.safetensors'}", f"resnet={tmp_path / 'resnet.safetensors'}"]
    args = [str(tmp_path / "AHIQ_vit_p8_epoch33.pth"), "--pyiqa", "ahiq", "--backbone", backbones[0]]
    assert_converted_scores_as(reference, [*args, "--backbone", backbones[1]], 224, tmp_path)
