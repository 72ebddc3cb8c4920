"""The public surface: names that must not disappear, light imports, README and CI in agreement."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import rqi_loss

ROOT = Path(__file__).resolve().parents[1]


def test_public_names():
    expected = {
        "CheckpointError",
        "ChecksumError",
        "PairTransforms",
        "WeightsError",
        "prefetch",
        "PretrainedModel",
        "RQILoss",
        "RQIMetric",
        "RQINetwork",
        "ScoreProtocol",
        "create_network",
        "functional",
        "get_model_record",
        "list_models",
        "score",
    }
    assert expected <= set(rqi_loss.__all__)
    for name in expected:
        assert hasattr(rqi_loss, name), name
    assert callable(rqi_loss.functional.rqi_loss) and callable(rqi_loss.functional.rqi_score)


def test_import_is_light():
    code = (
        "import sys, rqi_loss; heavy = [m for m in ('basicsr', 'timm', 'torchvision', 'rqi', 'cv2') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"Run the tests.*?```bash\n(.+?)\n```", readme, re.S)
    assert block, "README lost its test command"
    assert block.group(1).strip() in (ROOT / ".ci" / "run").read_text()


def test_the_docs_show_the_readmes_two_commands():
    """docs/index.md includes docs/snippets/*.txt: each must be the README's command, verbatim."""
    readme = (ROOT / "README.md").read_text()
    for name in ("main-job-command.txt", "test-command.txt"):
        command = (ROOT / "docs" / "snippets" / name).read_text().strip()
        assert f"```bash\n{command}\n```" in readme, name
        assert f'--8<-- "docs/snippets/{name}"' in (ROOT / "docs" / "index.md").read_text()


def test_zoo_records_say_where_their_weights_come_from():
    from rqi_loss.zoo import PretrainedModel

    assert {rqi_loss.get_model_record(name).source for name in rqi_loss.list_models()} == {"hub", "package"}
    common = dict(name="x", description="", architecture="rqi_cnn", config={}, license="", citation="")
    with pytest.raises(ValueError, match="a Hub record needs repo_id, filename and revision"):
        PretrainedModel(**common, checkpoint_format="state_dict_pickle", repo_id="org/r")
    with pytest.raises(ValueError, match="a package record names its package_folder and no Hub fields"):
        PretrainedModel(**common, checkpoint_format="hub_folder", source="package", package_folder="p", repo_id="org/r")
    with pytest.raises(ValueError, match="source must be one of"):
        PretrainedModel(**common, checkpoint_format="hub_folder", source="disk")
