"""The frozen judge is held outside its holder's module tree: not in state dicts, not synchronised by DDP,
out of reach of an outer apply()/requires_grad_(), yet moved and cast with its holder."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from rqi_loss import RQILoss, RQIMetric

from tiny_models import make_tiny_network

WORKER = Path(__file__).resolve().parents[1] / "helpers" / "ddp_judge_worker.py"


class Holder(nn.Module):
    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.generator = nn.Conv2d(3, 3, 3, padding=1)
        self.loss = loss


def test_holder_state_dict_leaves_the_judge_out():
    holder = Holder(RQILoss("tiny-kadid-synth"))
    assert sorted(holder.state_dict()) == ["generator.bias", "generator.weight"]
    buffer = io.BytesIO()
    torch.save(holder.state_dict(), buffer)
    assert buffer.tell() < 5_000  # the generator's 336 floats, not the judge's 530 kB
    assert list(holder.parameters()) == list(holder.generator.parameters())
    assert list(holder.buffers()) == []
    metric = RQIMetric(make_tiny_network(), protocol="single-scale")
    assert metric.state_dict() == {} and list(metric.parameters()) == []


def test_old_state_dict_with_the_judge_still_loads_strictly():
    """A state dict saved with rqi_loss 0.1.0 (the judge under loss.network.*) loads with strict=True; keys
    under loss.network. that are not the judge's still fail."""
    judge = make_tiny_network(seed=3)
    holder = Holder(RQILoss(judge))
    old = {**holder.state_dict(), **{f"loss.network.{k}": v for k, v in judge.state_dict().items()}}
    fresh = Holder(RQILoss(make_tiny_network(seed=3)))
    result = fresh.load_state_dict(old, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    torch.testing.assert_close(fresh.generator.weight, holder.generator.weight)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: \"loss.network.not_a_key\""):
        fresh.load_state_dict({**old, "loss.network.not_a_key": torch.zeros(1)}, strict=True)


def test_judge_moves_and_casts_with_its_holder_but_outer_calls_cannot_unfreeze_it():
    holder = Holder(RQILoss(make_tiny_network()))
    judge = holder.loss.network
    holder.double()
    assert all(p.dtype == torch.float64 for p in judge.parameters())
    holder.to(torch.float32)
    before = [p.clone() for p in judge.parameters()]
    holder.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, (nn.Conv2d, nn.Linear)) else None)
    holder.requires_grad_(True)
    holder.train()
    assert all(torch.equal(a, b) for a, b in zip(before, judge.parameters()))
    assert not any(p.requires_grad for p in judge.parameters()) and not judge.training
    assert "network=MANIQARQI" in repr(holder.loss)


@pytest.mark.parametrize("placement", ["inside", pytest.param("outside", marks=pytest.mark.slow)])  # 11 s each
def test_ddp_neither_broadcasts_nor_reduces_the_judge(placement):
    out = subprocess.run([sys.executable, str(WORKER), placement], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    ranks = json.loads(out.stdout.strip().splitlines()[-1])["ranks"]
    assert ranks[0]["generator_weight"] == ranks[1]["generator_weight"]  # DDP broadcast the generator ...
    assert ranks[0]["judge_weight"] != ranks[1]["judge_weight"]  # ... and not the judge (seeded per rank)
    for rank in ranks:
        assert not any("network" in name for name in rank["synced_names"]), rank["synced_names"]
        assert not any(rank["judge_grads"])
        assert not any("network" in key for key in rank["state_dict_keys"])


def test_accelerate_prepare_and_save_leave_the_judge_out(tmp_path):
    accelerate = pytest.importorskip("accelerate")
    accelerator = accelerate.Accelerator(cpu=True)
    holder = Holder(RQILoss(make_tiny_network(), crop="center", seed=0))
    optimizer = torch.optim.Adam(holder.parameters(), lr=1e-3)
    model, optimizer = accelerator.prepare(holder, optimizer)
    g = torch.Generator().manual_seed(0)
    lq, gt = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    loss = model.loss(model.generator(lq).sigmoid(), gt)
    accelerator.backward(loss)
    optimizer.step()
    assert sorted(accelerator.get_state_dict(model)) == ["generator.bias", "generator.weight"]
    accelerator.save_state(str(tmp_path / "state"))
    saved = sum(f.stat().st_size for f in (tmp_path / "state").rglob("*") if f.is_file())
    assert saved < 50_000, saved
