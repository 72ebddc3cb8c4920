"""The documentation site: mkdocs builds it strictly, and headless Chromium renders its start page and the API
page of RQILoss with their real content (skipped where mkdocs or Debian's chromium is absent; CI builds the
site either way)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)]
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _chromium(*args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
@pytest.mark.parametrize(
    "page, expected",
    [
        ("index.html", ["rqi_loss", "Sign convention", "RQILoss", "tiny-kadid-synth", "The two commands"]),
        ("api/index.html", ["RQILoss", "loss_weight", "crop_border", "Example", "create_network"]),
    ],
    ids=["start", "api"],
)
def test_pages_render_with_their_content(site, tmp_path, page, expected):
    url = (site / page).as_uri()
    dom = _chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert all(text in dom.stdout for text in expected), [text for text in expected if text not in dom.stdout]
    shot = tmp_path / f"{page.replace('/', '_')}.png"
    _chromium(f"--screenshot={shot}", url)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (900, 1280) and pixels.std() > 20 and (pixels < 80).mean() > 0.005  # text, not blank
