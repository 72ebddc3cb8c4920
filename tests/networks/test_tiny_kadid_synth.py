"""The shipped, trained "tiny-kadid-synth" network on photographs it never saw in training.

Colour: the source photographs held out of its training (read from the shipped config.json). Grey (repeated
to RGB, outside the colour training distribution): scikit-image's camera, brick, gravel and coins, which are
not KADID-synth sources at all. Distortions here are plain scipy/PIL operations, not the training code.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rqi_loss
from rqi_loss import RQILoss, create_network, get_model_record
from rqi_loss.training.synth import PHOTOGRAPHS

ndimage = pytest.importorskip("scipy.ndimage")
data = pytest.importorskip("skimage.data")

GREY_UNSEEN = ("camera.png", "brick.png", "gravel.png", "coins.png")
_CONFIG = Path(rqi_loss.__file__).parent / "pretrained" / "tiny-kadid-synth" / "config.json"
HELD_OUT = tuple(
    f for group in json.loads(_CONFIG.read_text())["provenance"]["held_out_groups"] for f in PHOTOGRAPHS[group]
)


@pytest.fixture(scope="module")
def network():
    return create_network("tiny-kadid-synth")


def _photo(file_name: str, size: int = 128, offset: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """(1, 3, size, size) crop in [0, 1] of a photograph shipped with scikit-image, around its centre + offset."""
    image = np.asarray(Image.open(Path(data.__file__).with_name(file_name)).convert("RGB"), dtype=np.float32) / 255
    h, w = image.shape[:2]
    top, left = (h - size) // 2 + offset[0], (w - size) // 2 + offset[1]
    return torch.from_numpy(image[top : top + size, left : left + size]).permute(2, 0, 1)[None].contiguous()


def _held_out_crops() -> list[tuple[str, torch.Tensor]]:
    return [(f"{name}{offset}", _photo(name, offset=offset)) for name in HELD_OUT for offset in ((0, 0), (150, 150))]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.from_numpy(ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect"))


def _noise(x: torch.Tensor, std: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (x + std * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    buffer = io.BytesIO()
    Image.fromarray((x[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    array = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def test_is_registered_and_loads_offline(network):
    record = get_model_record("tiny-kadid-synth")
    assert record.source == "package" and record.checkpoint_format == "hub_folder" and record.sha256
    assert network.architecture == "rqi_ensemble" and network.input_size == 128
    assert [member.architecture for member in network.members] == ["rqi_cnn", "rqi_cnn"]
    assert [member.config.get("spectrum_channels", 0) for member in network.members] == [0, 1]
    assert sum(p.numel() for p in network.parameters()) * 4 < 5 * 2**20


@pytest.mark.parametrize("name", GREY_UNSEEN + HELD_OUT)
def test_sharp_beats_blurred(network, name):
    sharp = _photo(name)
    blurred = _blur(sharp, 2.0)
    with torch.no_grad():
        forward, backward = network(sharp, blurred).item(), network(blurred, sharp).item()
    assert forward > 0 > backward


@pytest.mark.parametrize(
    "distort, strengths",
    [(_blur, (0.7, 1.5, 3.0)), (_noise, (0.03, 0.08, 0.2)), (_jpeg, (40, 15, 5))],
    ids=["blur", "noise", "jpeg"],
)
def test_scores_fall_as_strength_rises(network, distort, strengths):
    assert HELD_OUT
    for name, reference in _held_out_crops():
        with torch.no_grad():
            scores = [network(distort(reference, s), reference).item() for s in strengths]
        assert scores[0] > scores[1] > scores[2], (name, scores)


def test_gradient_descent_on_the_loss_sharpens(network):
    """20 Adam steps on RQILoss(x, reference) starting from a blurred x raise its Laplacian variance."""
    reference = _photo(HELD_OUT[0])
    start = _blur(reference, 2.0)
    x = start.clone().requires_grad_(True)
    loss = RQILoss(network, crop="center")
    optimizer = torch.optim.Adam([x], lr=0.01)
    for _ in range(20):
        optimizer.zero_grad()
        loss(x, reference).backward()
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0, 1)

    def sharpness(img: torch.Tensor) -> float:
        return float(ndimage.laplace(img.detach()[0].mean(0).numpy()).var())

    assert sharpness(x) > 1.5 * sharpness(start)
    with torch.no_grad():
        assert network(x, reference).item() > network(start, reference).item()
