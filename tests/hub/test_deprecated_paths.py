"""Names that moved or spellings that were replaced keep working until rqi_loss 0.3.0, each with a
DeprecationWarning that points at the user's line and names what to use instead."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
import torch

import rqi_loss
from rqi_loss._moved_modules import MOVED_MODULES


def test_every_old_module_path_gives_the_new_module_with_a_warning():
    """In a fresh interpreter (each old path warns once per process): every old path is the new module object,
    and its one DeprecationWarning names the public place and the release, at the importer's line."""
    code = (
        "import importlib, json, sys, warnings\n"
        "from rqi_loss._moved_modules import MOVED_MODULES\n"
        "warnings.simplefilter('always')\n"
        "found = {}\n"
        "for old, (new, use) in MOVED_MODULES.items():\n"
        "    with warnings.catch_warnings(record=True) as caught:\n"
        "        module = importlib.import_module(old)\n"
        "    found[old] = [module is importlib.import_module(new),\n"
        "                  [(str(w.message), w.filename) for w in caught if w.category is DeprecationWarning]]\n"
        "print(json.dumps(found))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout.splitlines()[-1])
    assert sorted(found) == sorted(MOVED_MODULES) and len(found) >= 17
    for old, (same, messages) in found.items():
        new, use = MOVED_MODULES[old]
        assert same, old
        assert len(messages) == 1 and messages[0][1] == "<string>", (old, messages)  # the importer's line
        assert f"{old} is deprecated" in messages[0][0] and use in messages[0][0] and "0.3.0" in messages[0][0]


def test_names_imported_from_an_old_path_are_the_new_objects():
    with pytest.warns(DeprecationWarning, match=r"rqi_loss\.hub is deprecated"):
        sys.modules.pop("rqi_loss.hub", None)
        from rqi_loss.hub import HubOptions
    assert HubOptions is rqi_loss.weights.HubOptions
    sys.modules.pop("rqi_loss.hub", None)  # the next test that imports it warns again


def test_the_package_itself_imports_no_old_path():
    code = (
        "import warnings\n"
        "warnings.filterwarnings('error', message='.*rqi_loss', category=DeprecationWarning)\n"
        "import rqi_loss, rqi_loss.metric, rqi_loss.training, rqi_loss.weights, rqi_loss.basicsr\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


def _scores(network) -> torch.Tensor:
    x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return network(x, x.flip(-1))


def test_a_local_folder_loads_one_way_and_the_old_spellings_warn(tmp_path):
    network = rqi_loss.create_network("tiny-kadid-synth")
    folder = network.save_pretrained(tmp_path / "judge")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the documented spelling: no warning
        documented = rqi_loss.create_network(f"local-dir:{folder}")
        as_path = rqi_loss.create_network(folder)
        loss = rqi_loss.RQILoss(f"local-dir:{folder}")
    assert torch.equal(_scores(documented), _scores(network)) and torch.equal(_scores(as_path), _scores(network))
    assert torch.equal(_scores(loss.network), _scores(network))
    with pytest.warns(DeprecationWarning, match=r"local-dir:") as caught:
        bare = rqi_loss.create_network(str(folder))
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning, match=r"load_network\(\) is deprecated.*create_network\('local-dir:"):
        old = rqi_loss.load_network(folder)
    with pytest.warns(DeprecationWarning, match=r"RQILoss.from_pretrained\(\) is deprecated.*local-dir:"):
        old_loss = rqi_loss.RQILoss.from_pretrained(folder)
    for other in (bare, old, old_loss.network):
        assert torch.equal(_scores(other), _scores(network))


def test_a_local_dir_name_that_is_not_a_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"local-dir:.*no folder .*config.json"):
        rqi_loss.create_network(f"local-dir:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"config.json is missing"):
        rqi_loss.create_network(f"local-dir:{tmp_path / 'empty'}")
    folder = rqi_loss.create_network("tiny-kadid-synth").save_pretrained(tmp_path / "judge")
    with pytest.raises(ValueError, match=r"either a 'local-dir:' name or checkpoint_path"):
        rqi_loss.create_network(f"local-dir:{folder}", checkpoint_path=folder)
