"""The published network end to end: a checkpoint in the authors' exact format (their MANIQA_RQI state dict,
torch.save'd, 322 keys) served by the local Hub as shaolin999/rqi rqi_weights.pt, loaded by
RQILoss("maniqa-pipal"); and rqi-convert of that file giving identical fp32 scores."""

from __future__ import annotations

import pytest
import torch

from rqi_loss import create_network
from rqi_loss.weights._convert import main as convert_main

from hub_client import fixed_pair
from hub_fixtures import run_client

pytest.importorskip("rqi.models.maniqa", reason="needs the reference package rqi-iqa (test extra)")
from authors_reference import build_reference_maniqa  # noqa: E402


@pytest.fixture(scope="module")
def authors_checkpoint(tmp_path_factory):
    """(path of rqi_weights.pt, reference score on hub_client.fixed_pair(224))."""
    reference = build_reference_maniqa(seed=3)
    path = tmp_path_factory.mktemp("authors") / "rqi_weights.pt"
    state = reference.state_dict()
    assert len(state) == 322
    torch.save(state, path)
    sr, gt = fixed_pair(224)
    with torch.no_grad():
        score = reference((sr - 0.5) / 0.5, (gt - 0.5) / 0.5).item()
    yield path, score
    path.unlink()  # 0.5 GB


def test_rqiloss_maniqa_pipal_from_local_hub(freed_tmp_path, hub, hf_env, authors_checkpoint):
    path, reference_score = authors_checkpoint
    hub.add_commit("shaolin999/rqi", {"rqi_weights.pt": path.read_bytes()})
    result = run_client(hf_env, action="loss", name="maniqa-pipal")
    assert result["ok"], result
    assert result["score"] == pytest.approx(reference_score, abs=1e-5)
    assert hub.requests_for("rqi_weights.pt") == ["HEAD", "GET"]


def test_convert_gives_identical_scores(freed_tmp_path, authors_checkpoint):
    tmp_path = freed_tmp_path
    path, reference_score = authors_checkpoint
    assert convert_main([str(path), str(tmp_path / "converted")]) == 0
    direct = create_network("maniqa-pipal", checkpoint_path=path)
    converted = create_network(tmp_path / "converted")
    sr, gt = fixed_pair(224)
    with torch.no_grad():
        a, b = direct(sr, gt), converted(sr, gt)
    assert torch.equal(a, b)
    assert a.item() == pytest.approx(reference_score, abs=1e-5)
    card = (tmp_path / "converted" / "README.md").read_text()
    assert "shaolin999/rqi" in card and "sha256" in card


def test_authors_loading_habit_on_maniqa_pipal(authors_checkpoint):
    """net.load_state_dict(torch.load("rqi_weights.pt")), as with the authors' own model: all 322 keys of their
    file, the allow-listed unused ones dropped by the network's load hook, the rest strict."""
    path, reference_score = authors_checkpoint
    network = create_network("maniqa-pipal", pretrained=False)
    network.load_state_dict(torch.load(path, weights_only=True))
    sr, gt = fixed_pair(224)
    with torch.no_grad():
        assert network(sr, gt).item() == pytest.approx(reference_score, abs=1e-5)
