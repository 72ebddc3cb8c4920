"""RQIMetric.update / compute / per_image / reset, in one process and gathered over 2 gloo processes with a
DistributedSampler's padded, uneven shards; and the direction metadata other toolboxes read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rqi_loss import RQILoss, RQIMetric

from tiny_models import make_tiny_network, metric_images

WORKER = Path(__file__).resolve().parents[1] / "helpers" / "ddp_metric_worker.py"


def test_update_compute_reset_in_one_process():
    metric = RQIMetric(make_tiny_network(), protocol="single-scale")
    sr, gt = metric_images()
    expected = metric(sr, gt)
    metric.update(sr[:2], gt[:2], indices=[3, 1])
    metric.update(sr[2:], gt[2:], indices=torch.tensor([0, 2, 4]))
    metric.update(sr[:1], gt[:1], indices=[3])  # a padded repeat: counted once
    indices, scores = metric.per_image()
    assert indices.tolist() == [0, 1, 2, 3, 4]
    torch.testing.assert_close(scores, expected[[2, 1, 3, 0, 4]])
    torch.testing.assert_close(metric.compute(), expected.mean())
    with pytest.raises(ValueError, match="indices: earlier update.. calls gave them and this one does not"):
        metric.update(sr, gt)
    metric.reset()
    with pytest.raises(RuntimeError, match=r"call update\(sr, gt\) first"):
        metric.compute()
    with pytest.raises(ValueError, match="one integer per image"):
        metric.update(sr[:2], gt[:2], indices=[1])
    metric.reset()
    metric.update(sr, gt)
    assert metric.per_image()[0].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.distributed
def test_two_gloo_ranks_give_one_process_result_without_padding_duplicates():
    out = subprocess.run([sys.executable, str(WORKER)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ranks = json.loads(out.stdout.strip().splitlines()[-1])["ranks"]
    metric = RQIMetric(make_tiny_network(), protocol="single-scale")
    expected = metric(*metric_images())
    for rank in ranks:
        assert rank["shard"] != ranks[0]["shard"] or rank is ranks[0]
        assert rank["indices"] == [0, 1, 2, 3, 4]  # 5 images on 2 ranks: the sampler repeats one; kept once
        torch.testing.assert_close(torch.tensor(rank["scores"]), expected)
        torch.testing.assert_close(torch.tensor(rank["mean"]), expected.mean())


@pytest.mark.distributed
def test_ranks_that_disagree_about_indices_are_told_so():
    """Rank 0 passes indices and rank 1 does not: every rank gets the error (scores were silently lost before)."""
    out = subprocess.run([sys.executable, str(WORKER), "mixed"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ranks = json.loads(out.stdout.strip().splitlines()[-1])["ranks"]
    for rank in ranks:
        assert rank == {
            "error": "indices: rank(s) [0] passed them to update() and rank(s) [1] did not; pass them "
            "on every rank or on none"
        }


def test_direction_and_range_metadata():
    network = make_tiny_network()
    metric, loss = RQIMetric(network), RQILoss(network, loss_weight=0.5)
    assert network.higher_is_better and not network.lower_better and network.score_range == (-1.0, 1.0)
    assert metric.higher_is_better and not metric.lower_better and metric.score_range == (-1.0, 1.0)
    assert not loss.higher_is_better and loss.lower_better and loss.score_range == (-0.5, 0.5)


@pytest.mark.slow
@pytest.mark.distributed
def test_torchrun_example_gives_the_one_process_result(tmp_path):
    """examples/evaluate_ranks.py, as the README runs it, under torchrun with 2 processes and alone."""
    script = Path(__file__).resolve().parents[2] / "examples" / "evaluate_ranks.py"
    folders = ["--out", str(tmp_path / "folders")]
    alone = subprocess.run([sys.executable, str(script), *folders], capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr[-2000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", str(script), *folders]
    ranks = subprocess.run(launcher, capture_output=True, text=True, timeout=300)
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    one, two = (json.loads(run.stdout.strip().splitlines()[-1]) for run in (alone, ranks))
    assert (one["processes"], two["processes"]) == (1, 2) and len(one["scores"]) == 5
    assert one["protocol"] == two["protocol"] == "single-scale"  # said, as rqi-score's table uses "official"
    assert two["scores"] == one["scores"] and two["mean"] == one["mean"]
