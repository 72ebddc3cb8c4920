"""rqi-train --resume: a run killed with SIGKILL part-way (twice: inside the first and inside the second ensemble
member), then resumed, ends with weights bit-identical to an uninterrupted run (CPU, one thread)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tiny_training import tiny_config_values, tiny_dataset

STATE = "training_state.pt"


def _command(config_path, output, *extra) -> list[str]:
    return [sys.executable, "-m", "rqi_loss.training.cli", str(config_path), "--output", str(output), "--quiet", *extra]


def _config(tmp_path) -> object:
    values = tiny_config_values(tiny_dataset(tmp_path), "resumable", epochs=5, pairs_per_epoch=512, threads=1)
    values.update(members=2, network={**values["network"], "dropout": 0.1})  # dropout: the RNG state matters
    values["optim"]["ema_decay"] = 0.9
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # after the command name: state, ppid
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    return children


def _kill_tree(root: int) -> None:
    """SIGKILL ``root`` and all its descendants at once (torchrun and its ranks), as a crashed machine would."""
    children, tree, pending = _children(), [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in tree[1:]:  # the ranks were reparented: wait until they are gone
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return "zombie" if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z" else "alive"
    except OSError:
        return "gone"


def _kill_when(output, member: int, epoch: int, process: subprocess.Popen, *, group: bool = False) -> None:
    """SIGKILL ``process`` (with ``group``: it and all its descendants, torchrun and its ranks) once its saved
    state shows member ``member`` (0-based) past epoch ``epoch``."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        try:
            saved = torch.load(output / STATE, map_location="cpu", weights_only=True)
        except (FileNotFoundError, EOFError, RuntimeError):
            time.sleep(0.02)
            continue
        progress = saved["progress"]
        if progress is not None and progress["member"] == member and progress["epoch"] >= epoch:
            if group:
                _kill_tree(process.pid)
            else:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.02)
    raise AssertionError("no saved state appeared in time")


def _run_record(output: Path) -> dict:
    """history.json of a finished run without its wall-clock time: the histories, best records and split."""
    summary = json.loads((output / "history.json").read_text())
    summary.pop("seconds")
    return summary


@pytest.mark.slow  # about 45 s: three training processes, two of them killed; run by CI with -m slow
def test_killed_twice_and_resumed_gives_the_uninterrupted_run(tmp_path):
    """Killed inside member 1 before its best epoch and inside member 2 after its best epoch: the histories, best
    records and exported best weights are those of the uninterrupted run."""
    config = _config(tmp_path)
    subprocess.run(_command(config, tmp_path / "whole"), check=True, capture_output=True, timeout=600)
    whole_record = _run_record(tmp_path / "whole")
    best_epochs = [member["best"]["epoch"] for member in whole_record["members"]]
    assert best_epochs[0] > 2 and best_epochs[1] < 5, best_epochs  # the kill points fall before / after them
    interrupted = tmp_path / "interrupted"
    _kill_when(interrupted, 0, 2, subprocess.Popen(_command(config, interrupted), stderr=subprocess.DEVNULL))
    assert not (interrupted / "model.safetensors").exists()
    again = subprocess.run(_command(config, interrupted), capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "pass --resume to continue it" in again.stderr  # no silent restart
    resumed = subprocess.Popen(_command(config, interrupted, "--resume"), stderr=subprocess.PIPE, text=True)
    _kill_when(interrupted, 1, best_epochs[1], resumed)
    assert "from member 1, after epoch" in resumed.stderr.read()
    final = subprocess.run(_command(config, interrupted, "--resume"), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert "member 2, after epoch" in final.stderr
    # it went on from there: no epoch 0 (a member's fresh start) or 1 (done before the kill) was trained again
    assert " epoch 0 (untrained baseline): " not in final.stderr
    assert f" epoch {best_epochs[1]}: " not in final.stderr and " epoch 5: " in final.stderr
    whole, pieces = ((path / "model.safetensors").read_bytes() for path in (tmp_path / "whole", interrupted))
    assert whole == pieces
    assert _run_record(interrupted) == whole_record
    assert not (interrupted / STATE).exists()  # a finished run leaves no state behind


def test_resume_needs_a_state_and_the_same_config(tmp_path):
    config = _config(tmp_path)
    missing = subprocess.run(_command(config, tmp_path / "none", "--resume"), capture_output=True, text=True)
    assert missing.returncode == 2 and "nothing to resume" in missing.stderr
    output = tmp_path / "run"
    _kill_when(output, 0, 1, subprocess.Popen(_command(config, output), stderr=subprocess.DEVNULL))
    command = _command(config, output, "--resume")
    command.insert(command.index(str(config)) + 1, "optim.lr=0.5")  # an override after the config
    changed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert changed.returncode == 2 and "the config differs from the interrupted run's in ['optim']" in changed.stderr


@pytest.mark.slow
@pytest.mark.distributed
def test_killed_and_resumed_under_torchrun(tmp_path):
    """2 gloo ranks under torchrun, the whole process group killed with SIGKILL after an epoch, resumed with
    --resume under torchrun: the weights of the uninterrupted 2-rank run, bit for bit."""
    from test_ddp_training import _free_port

    config = _config(tmp_path)

    def command(output, *extra):
        launcher = ["-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
        return [sys.executable, *launcher, *_command(config, output, *extra)[1:]]

    subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True, timeout=600)
    interrupted = tmp_path / "interrupted"
    launched = subprocess.Popen(command(interrupted), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _kill_when(interrupted, 0, 2, launched, group=True)
    final = subprocess.run(command(interrupted, "--resume"), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-2000:]
    assert "from member 1, after epoch" in final.stderr
    # member 2 starts afresh; member 1 goes on where it was
    assert final.stderr.count(" epoch 0 (untrained baseline): ") == 1
    whole, pieces = ((path / "model.safetensors").read_bytes() for path in (tmp_path / "whole", interrupted))
    assert whole == pieces


@pytest.mark.distributed
def test_resume_on_node_local_output_folders_is_refused_on_every_rank(tmp_path):
    """Multi-node --resume needs one shared --output: when rank 1 cannot see the state rank 0 sees, both ranks get
    the same one-line error (tests/helpers/ddp_output_worker.py; no rank hangs in a collective)."""
    worker = Path(__file__).resolve().parents[1] / "helpers" / "ddp_output_worker.py"
    table = tiny_dataset(tmp_path)
    done = subprocess.run(
        [sys.executable, str(worker), str(table), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    errors = json.loads(done.stdout.strip().splitlines()[-1])["errors"]
    for rank, error in enumerate(errors):  # each names the path as it sees it
        assert error.startswith(f"TrainingDataError: --output: rank(s) [1] cannot see '{tmp_path / f'node{rank}'}")
        assert "a filesystem every node shares" in error
