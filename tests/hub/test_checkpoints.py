"""Local checkpoints: files and folders, safe unpickling, save_pretrained round trips, atomic writes."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from rqi_loss import create_network
from rqi_loss.weights._checkpoints import read_state_file
from rqi_loss.weights._convert import main as convert_main
from rqi_loss.zoo import _REGISTRY, PretrainedModel, register

from tiny_models import TINY_MANIQA, make_tiny_network


@pytest.fixture
def tiny_zoo_name():
    """A tiny record registered for the duration of one test."""
    register(
        PretrainedModel(
            name="tiny-local",
            description="tiny",
            architecture="maniqa_rqi",
            config=TINY_MANIQA,
            repo_id="org/unused",
            filename="w.pt",
            revision="main",
            sha256=None,
            checkpoint_format="state_dict_pickle",
            license="test",
            citation="test",
        )
    )
    yield "tiny-local"
    _REGISTRY.pop("tiny-local")


def _scores(network):
    """Scores of a fixed pair through a frozen copy: loaded networks come frozen, and a frozen MANIQA-RQI folds
    its key projections (the same function, rounded differently), so both sides are compared frozen."""
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return copy.deepcopy(network).requires_grad_(False)(x, x.flip(0))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
def test_checkpoint_path_file(tmp_path, tiny_zoo_name, suffix):
    source = make_tiny_network(seed=4)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(source.state_dict(), str(path))
    else:
        torch.save(source.state_dict(), path)
    loaded = create_network(tiny_zoo_name, checkpoint_path=path)
    assert torch.equal(_scores(loaded), _scores(source))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_pickle_carrying_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"conv1.weight": Payload()}, handle, protocol=2)
    with pytest.raises(ValueError, match="was refused: it is a pickle that needs more than tensors"):
        read_state_file(path)
    assert not (tmp_path / "pwned").exists()


def test_non_state_dict_pickle_is_explained(tmp_path):
    path = tmp_path / "train.pt"
    torch.save({"epoch": 3, "model": {"w": torch.ones(1)}}, path)
    with pytest.raises(ValueError, match=r"not a flat state dict of tensors \(top level: \['epoch', 'model'\]\)"):
        read_state_file(path)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "weights.onnx"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported file type '.onnx'"):
        read_state_file(path)


def test_missing_checkpoint_path(tmp_path, tiny_zoo_name):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_network(tiny_zoo_name, checkpoint_path=tmp_path / "nope.pt")


def test_save_pretrained_round_trip_and_layout(tmp_path):
    network = make_tiny_network(seed=6)
    folder = network.save_pretrained(tmp_path / "net", name="tiny", description="d", provenance={"data": "none"})
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    meta = json.loads((folder / "config.json").read_text())
    assert meta["architecture"] == "maniqa_rqi" and meta["config"] == network.config
    assert meta["provenance"] == {"data": "none"} and meta["storage_dtype"] == "float32"
    assert torch.equal(_scores(create_network(Path(folder))), _scores(network))


def test_folder_checkpoint_for_zoo_name(tmp_path, tiny_zoo_name):
    network = make_tiny_network(seed=7)
    folder = network.save_pretrained(tmp_path / "net")
    assert torch.equal(_scores(create_network(tiny_zoo_name, checkpoint_path=folder)), _scores(network))
    other = make_tiny_network(vit_width=16, vit_heads=2).save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match=r"config differs from model 'tiny-local' in \['vit_width'\]"):
        create_network(tiny_zoo_name, checkpoint_path=other)


def test_folder_without_config_is_an_error(tmp_path):
    folder = make_tiny_network().save_pretrained(tmp_path / "net")
    (folder / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        create_network(Path(folder))


@pytest.mark.parametrize("dtype, atol", [("float16", 5e-3), ("bfloat16", 5e-2)])
def test_half_storage(tmp_path, dtype, atol):
    network = make_tiny_network(seed=8)
    full = network.save_pretrained(tmp_path / "full")
    half = network.save_pretrained(tmp_path / "half", dtype=dtype)
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    loaded = create_network(Path(half))
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    torch.testing.assert_close(_scores(loaded), _scores(network), rtol=0, atol=atol)


def test_interrupted_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    network = make_tiny_network(seed=9)
    folder = network.save_pretrained(tmp_path / "net")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dumps", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        make_tiny_network(seed=10).save_pretrained(folder)
    with pytest.raises(OSError, match="disk full"):
        make_tiny_network(seed=10).save_pretrained(tmp_path / "fresh")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net"]  # no staging folder, no half-made "fresh"


KILLED_WRITER = """
import os, signal, sys
from rqi_loss.weights._atomic import atomic_write
with atomic_write(sys.argv[1]) as handle:
    handle.write(b"x" * 4096)
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_write_leaves_an_orphan_that_the_next_write_removes(tmp_path):
    """SIGKILL inside atomic_write leaves its temporary (nothing can remove it then); the next write to the same
    file removes it, while the temporary of a process still writing (this one) stays."""
    import os
    import subprocess
    import sys

    from rqi_loss.weights._atomic import atomic_write

    target = tmp_path / "training_state.pt"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True)
    assert killed.returncode == -9
    (orphan,) = tmp_path.glob(".training_state.pt.*.tmp")
    assert not target.exists()
    live = orphan.with_name(orphan.name.replace(orphan.name.split(".")[-3], str(os.getpid())))
    live.write_bytes(b"a write in progress")
    with atomic_write(target) as handle:
        handle.write(b"state")
    assert target.read_bytes() == b"state"
    assert sorted(tmp_path.glob(".training_state.pt.*.tmp")) == [live]


def test_convert_cli_tiny(tmp_path, tiny_zoo_name, capsys):
    network = make_tiny_network(seed=11)
    state = dict(network.state_dict())
    state["vit.norm.weight"] = torch.ones(TINY_MANIQA["vit_width"])  # dropped as unused
    torch.save(state, tmp_path / "authors.pt")
    assert convert_main([str(tmp_path / "authors.pt"), str(tmp_path / "out"), "--model", tiny_zoo_name]) == 0
    assert "wrote" in capsys.readouterr().out
    assert torch.equal(_scores(create_network(tmp_path / "out")), _scores(network))
    assert "vit.norm.weight" not in read_state_file(tmp_path / "out" / "model.safetensors")


def test_convert_cli_wrong_architecture(tmp_path, tiny_zoo_name, capsys):
    torch.save({"conv1.weight": torch.ones(1)}, tmp_path / "bad.pt")
    assert convert_main([str(tmp_path / "bad.pt"), str(tmp_path / "out"), "--model", tiny_zoo_name]) == 2
    assert "missing keys" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_authors_loading_habit_drops_only_the_declared_unused_keys():
    """net.load_state_dict(torch.load(file)) works with a checkpoint in the authors' layout (unused ViT blocks,
    head and norm carried); any other extra or missing key is still an error of the strict load."""
    source = make_tiny_network(seed=6)
    state = dict(source.state_dict())
    state["vit.head.weight"] = torch.zeros(10, TINY_MANIQA["vit_width"])
    state["vit.blocks.7.norm1.weight"] = torch.ones(TINY_MANIQA["vit_width"])
    target = make_tiny_network(seed=7)
    target.load_state_dict(state)
    assert torch.equal(_scores(target), _scores(source))
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: \"fc_score.extra\""):
        target.load_state_dict({**state, "fc_score.extra": torch.zeros(1)})
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: \"fc_score"):
        target.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc_score")})


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("damage", ["truncated", "first_byte", "empty"])
def test_damaged_files_raise_checkpoint_error(tmp_path, suffix, damage):
    from safetensors.torch import save_file

    from rqi_loss import CheckpointError, WeightsError

    path = tmp_path / f"w{suffix}"
    state = make_tiny_network().state_dict()
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    data = path.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "first_byte": bytes([data[0] ^ 0xFF]) + data[1:], "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises(CheckpointError, match=r"cannot be read .*truncated or corrupt.*again") as caught:
        read_state_file(path)
    assert isinstance(caught.value, WeightsError) and isinstance(caught.value, ValueError)
    assert "could run code" not in str(caught.value)


def test_mismatched_checkpoint_is_a_weights_error(tmp_path, tiny_zoo_name):
    from rqi_loss import CheckpointError, WeightsError

    path = tmp_path / "w.pt"
    torch.save({k: v for k, v in make_tiny_network().state_dict().items() if not k.startswith("fc_score")}, path)
    with pytest.raises(WeightsError, match=r"does not fit the 'maniqa_rqi' network.*missing keys: fc_score") as caught:
        create_network(tiny_zoo_name, checkpoint_path=path)
    assert isinstance(caught.value, CheckpointError) and isinstance(caught.value, ValueError)


def test_package_data_checksum_mismatch(monkeypatch):
    import dataclasses

    from rqi_loss import ChecksumError

    record = _REGISTRY["tiny-kadid-synth"]
    monkeypatch.setitem(_REGISTRY, "tiny-kadid-synth", dataclasses.replace(record, sha256="0" * 64))
    with pytest.raises(ChecksumError, match="package data .* does not match its sha256; reinstall rqi_loss"):
        create_network("tiny-kadid-synth")
    monkeypatch.undo()
    assert create_network("tiny-kadid-synth") is not None
