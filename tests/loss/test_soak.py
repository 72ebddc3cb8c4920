"""A short soak of the loss in a training loop (bench/soak.py, 300 steps): resident memory must not creep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


@pytest.mark.slow  # 20 s of steps; run by CI with -m slow
def test_loss_steps_do_not_grow_peak_memory(tmp_path):
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "300", "--warmup", "60", "--sample-every", "30", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["steps"] == 300 and len(result["rss_samples"]) == 10
    assert result["peak_rss_growth_mb"] < 50, result
