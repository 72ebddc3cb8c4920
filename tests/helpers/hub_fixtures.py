"""The local Hub stand-in as pytest fixtures (``hub``: a server on 127.0.0.1; ``hf_env``: an environment
whose huggingface_hub talks only to it) and the client script run against it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hub_client import fixed_pair
from hub_server import FakeHub

CLIENT = Path(__file__).with_name("hub_client.py")


def expected_score(network) -> float:
    """The score of a fixed pair through a frozen copy of ``network``: downloaded networks come frozen, and a
    frozen MANIQA-RQI folds its key projections (the same function, rounded differently)."""
    sr, gt = fixed_pair(network.input_size)
    with torch.no_grad():
        return copy.deepcopy(network).requires_grad_(False)(sr, gt).item()


@pytest.fixture
def hub():
    server = FakeHub()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hf_env(tmp_path, hub):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_CACHE=str(tmp_path / "hf_cache"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]),
    )
    return env


def run_client(env: dict, **spec) -> dict:
    result = subprocess.run(
        [sys.executable, str(CLIENT), json.dumps(spec)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
