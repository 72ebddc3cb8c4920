"""The embedded network's held-out numbers, recomputed on a fixed sample in the test and checked against the
card (weights/tiny-kadid-synth.md), so a regression of the shipped weights fails CI.

The sample: one KADID-synth scene from each held-out photograph (hubble, ihc; never trained on), all 25
distortions x 5 levels plus the reference, 3,000 of the dense pairs of the two scenes (a fixed draw) and every
(image, reference) pair, scored as rqi-train validates.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

pytest.importorskip("skimage", reason="KADID-synth is cut from scikit-image's photographs")

from rqi_loss import create_network  # noqa: E402
from rqi_loss.training import dense_pairs, read_csv_table, relative_labels  # noqa: E402
from rqi_loss.training.dataset import ImageCache  # noqa: E402
from rqi_loss.training.evaluation import validation_metrics  # noqa: E402
from rqi_loss.training.synth import SynthSpec, make_kadid_synth  # noqa: E402

CARD = Path(__file__).resolve().parents[1] / "weights" / "tiny-kadid-synth.md"
SAMPLE = SynthSpec(scenes_per_source=1, sources=("hubble", "ihc"))
PAIRS = 3000
LINE = re.compile(r"fast-test sample.*?image SRCC ([\d.]+), pair SRCC ([\d.]+), sign accuracy ([\d.]+)", re.S)


def sample_metrics(root: Path) -> dict[str, float]:
    rows = read_csv_table(make_kadid_synth(root, SAMPLE), group_column="source", reference_column="reference")
    pairs = dense_pairs(rows)
    pairs = pairs[torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))[:PAIRS]]
    labels = relative_labels(rows, pairs, (1.0, 5.0))
    metrics, _ = validation_metrics(
        create_network("tiny-kadid-synth"), rows, pairs, labels, cache=ImageCache(), device=torch.device("cpu")
    )
    return metrics


def test_shipped_numbers_match_the_card(tmp_path):
    found = LINE.search(CARD.read_text())
    assert found, "the card lost its fast-test sample line"
    image_srcc, pair_srcc, sign = (float(v) for v in found.groups())
    metrics = sample_metrics(tmp_path / "sample")
    # CPUs round differently (the card's numbers come from one machine): 2e-3 covers that, not a regression
    assert metrics["image_srcc"] == pytest.approx(image_srcc, abs=2e-3)
    assert metrics["pair_srcc"] == pytest.approx(pair_srcc, abs=2e-3)
    assert metrics["pair_sign_accuracy"] == pytest.approx(sign, abs=2e-3)
