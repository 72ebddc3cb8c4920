"""A plain (non-editable) install carries the embedded network: build the wheel from a copy of the project, then
load ``RQILoss("tiny-kadid-synth")`` offline from the unpacked wheel alone, in a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import rqi_loss
from rqi_loss.zoo import get_model_record

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "README.md", "LICENSE")

setuptools = pytest.importorskip("setuptools")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built without build isolation (the venv's setuptools), unpacked as site-packages would hold it."""
    if int(setuptools.__version__.split(".")[0]) < 70:
        pytest.skip(f"setuptools {setuptools.__version__} cannot build wheels without the wheel package")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "rqi_loss", source / "rqi_loss", ignore=shutil.ignore_patterns("__pycache__"))
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(work),
        str(source),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    (wheel,) = work.glob("rqi_loss-*.whl")
    site = work / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def test_the_wheel_holds_the_embedded_network_files(installed):
    folder = installed / "rqi_loss" / "pretrained" / "tiny-kadid-synth"
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    shipped = Path(rqi_loss.__file__).parent / "pretrained" / "tiny-kadid-synth" / "model.safetensors"
    assert (folder / "model.safetensors").read_bytes() == shipped.read_bytes()
    assert (installed / "rqi_loss" / "training" / "data" / "kadid10k_mean_mos.csv").is_file()


def test_rqi_loss_tiny_kadid_synth_works_offline_from_the_wheel(installed, tmp_path):
    script = (
        "import torch, rqi_loss\n"
        "from rqi_loss import RQILoss\n"
        "print(rqi_loss.__file__)\n"
        "loss = RQILoss('tiny-kadid-synth')\n"
        "sr = torch.rand(1, 3, 128, 128, requires_grad=True)\n"
        "value = loss(sr, torch.rand(1, 3, 128, 128))\n"
        "value.backward()\n"
        "print(float(value), bool(sr.grad.abs().sum() > 0))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    location, outcome = result.stdout.strip().splitlines()[-2:]
    assert Path(location).is_relative_to(installed)
    value, has_gradient = outcome.split()
    assert abs(float(value)) < 2 and has_gradient == "True"
    assert get_model_record("tiny-kadid-synth").sha256  # the copy loaded above was checked against it
