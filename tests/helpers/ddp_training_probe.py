"""rqi-train with probes, for tests/training/test_ddp_training.py:
``python ddp_training_probe.py PROBE_DIR CLI_ARGS...``
runs the console script's ``main`` after wrapping three internals, and writes ``PROBE_DIR/rank<k>.json``:

- ``pairs_scored``: the validation pairs this rank's network scored (each rank should score its share only);
- ``rng_at_epoch_start``: a digest of the torch CPU random state as each epoch's training starts (dropout
  masks and adversarial random starts are drawn from it);
- ``epoch_losses``: the mean training loss of this rank's own batches, per epoch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

import rqi_loss.training.fit as fit
import rqi_loss.training.validation as validation
from rqi_loss.training.cli import main

probe = {"pairs_scored": 0, "rng_at_epoch_start": [], "epoch_losses": []}
predict_pairs, train_epoch = validation.predict_pairs, fit.train_epoch


def counting_predict_pairs(network, rows, pairs, **kwargs):
    probe["pairs_scored"] += len(pairs)
    return predict_pairs(network, rows, pairs, **kwargs)


def recording_train_epoch(learner, batches, optim, device, terms=None):
    probe["rng_at_epoch_start"].append(hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest())
    losses = train_epoch(learner, batches, optim, device, terms)
    probe["epoch_losses"].append(float(np.mean(losses)))
    return losses


validation.predict_pairs = counting_predict_pairs
fit.train_epoch = recording_train_epoch

if __name__ == "__main__":
    out = Path(sys.argv[1])
    code = main(sys.argv[2:])
    (out / f"rank{os.environ.get('RANK', '0')}.json").write_text(json.dumps(probe))
    raise SystemExit(code)
