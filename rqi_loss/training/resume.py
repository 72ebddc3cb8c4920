"""The resumable state of a training run: ``<output>/training_state.pt``, written atomically at the end of every
epoch (and of every ensemble member), removed when the run has exported its network.

It holds the config the run was started with, the members already trained (their best weights, records and
histories) and, for the member in progress, everything its next epoch depends on: the network, optimiser,
learning-rate schedule and moving-average weights, its best record and weights so far, its history and the torch
random-number states. ``rqi-train ... --resume`` continues from there; the result is bit-identical to an
uninterrupted run on the same machine and thread count.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from ..weights._atomic import atomic_write
from .config import TrainConfig
from .distributed import Ranks
from .tables import TrainingDataError

logger = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"


def random_states() -> dict[str, Any]:
    """The torch random-number states a training step draws from (CPU, and every CUDA device if any)."""
    states: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(saved: list[dict[str, Any]] | dict[str, Any], ranks: Ranks = Ranks()) -> None:
    """Restore this rank's states from ``saved``: one entry of :func:`random_states` per rank (a single dict,
    as runs saved before rqi_loss 0.3, is rank 0's). Resumed on another number of ranks, a rank without a saved
    state keeps its fresh seed, with a warning (the run is then not bit-identical to an uninterrupted one)."""
    saved = [saved] if isinstance(saved, dict) else list(saved)
    if len(saved) != ranks.world:
        logger.warning(
            "resuming on %d rank(s) a run saved by %d: the random-number states of ranks beyond the saved ones are "
            "drawn afresh, so the result will differ from an uninterrupted run",
            ranks.world,
            len(saved),
        )
    if ranks.rank >= len(saved):
        return
    states = saved[ranks.rank]
    torch.set_rng_state(states["cpu"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _check_every_rank_sees_the_state(path: Path, ranks: Ranks) -> None:
    """TrainingDataError on every rank (a collective) when the ranks disagree about whether ``path`` exists:
    ``--output`` is then a node-local folder, which --resume cannot work with."""
    seen = ranks.gather(path.exists())
    if len(set(seen)) > 1:
        others = [rank for rank, exists in enumerate(seen) if exists != seen[0]]
        differ = "cannot see {}, which rank 0 sees" if seen[0] else "see {}, which rank 0 does not"
        raise TrainingDataError(
            f"--output: rank(s) {others} {differ.format(repr(str(path)))}: under torchrun on several machines, "
            "--output must be a folder on a filesystem every node shares (rank 0 writes the run's state, every rank "
            "reads it on --resume)"
        )


class RunState:
    """The finished members and the member in progress of one run, kept in ``<output>/training_state.pt``.

    ``finished``: one dict per trained member (``seed``, ``state``, ``best``, ``history``); ``progress``: the
    member in progress at its last epoch boundary (``member``, ``epoch`` done, and what :func:`fit` restores).
    """

    def __init__(self, output: Path, config: TrainConfig, *, writer: bool = True) -> None:
        self.path = Path(output) / STATE_FILE
        self.writer = writer  # under torchrun only rank 0 writes; every rank reads
        self.config = dataclasses.asdict(config)
        self.finished: list[dict[str, Any]] = []
        self.progress: dict[str, Any] | None = None

    @classmethod
    def start(cls, output: Path, config: TrainConfig, *, resume: bool, ranks: Ranks = Ranks()) -> RunState:
        """A fresh state, or with ``resume`` the saved one (its config must be the one given). Under torchrun
        rank 0 writes the file and every rank reads it, so ``output`` must be one folder that every node sees (a
        shared filesystem): ranks that see another state than rank 0 are an error on every rank."""
        state = cls(output, config, writer=ranks.main)
        _check_every_rank_sees_the_state(state.path, ranks)
        if not resume:
            if state.path.exists():
                raise TrainingDataError(
                    f"{str(state.path)!r} holds the state of an interrupted run: pass --resume to continue it, or "
                    "delete that file (or choose another --output) to start over"
                )
            return state
        if not state.path.exists():
            raise TrainingDataError(f"--resume: no {STATE_FILE} in {str(output)!r}; nothing to resume")
        saved = torch.load(state.path, map_location="cpu", weights_only=True)  # tensors, numbers, strings only
        if saved["config"] != state.config:
            changed = sorted(k for k in state.config if saved["config"].get(k) != state.config[k])
            raise TrainingDataError(
                f"--resume: the config differs from the interrupted run's in {changed}; resume with the same config"
            )
        state.finished, state.progress = saved["finished"], saved["progress"]
        where = (
            f"member {len(state.finished) + 1}, after epoch {state.progress['epoch']}"
            if state.progress
            else (f"member {len(state.finished) + 1}, from its start")
        )
        logger.info("resuming %s from %s (%d member(s) already trained)", output, where, len(state.finished))
        return state

    def member_progress(self, member: int) -> dict[str, Any] | None:
        """What member ``member`` (0-based) had done at its last epoch boundary, or None (start it afresh)."""
        if self.progress is not None and self.progress["member"] == member:
            return self.progress
        return None

    def end_epoch(self, member: int, progress: dict[str, Any]) -> None:
        self.progress = {"member": member, **progress}
        self._write()

    def end_member(self, run: dict[str, Any]) -> None:
        self.finished.append(run)
        self.progress = None
        self._write()

    def remove(self) -> None:
        if self.writer:
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        """Write to a temporary file beside the state, then replace it: a kill never leaves half a state."""
        if not self.writer:
            return
        payload = {"config": self.config, "finished": self.finished, "progress": self.progress}
        with atomic_write(self.path) as file:
            torch.save(payload, file)
