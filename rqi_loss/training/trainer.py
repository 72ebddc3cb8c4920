"""The RQI training recipe end to end: rows and split, one fit per member, the ensemble of the members, best
checkpoint on held-out scenes, exported in our Hub layout (config.json + model.safetensors + model card + curves).

The parts live in their own modules: ``rows`` (the labelled images and their split), ``pairs`` (pairs, labels
and the epoch order), ``validation`` (the held-out side), ``fit`` (the loop of one network), ``export``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from ..factory import create_network
from ..networks import RQIEnsemble, build_network
from ..networks.ensemble import member_config
from .config import TrainConfig
from .dataset import ImageCache
from .distributed import Ranks, check_batch, join_process_group
from .export import export
from .fit import MemberRun, fit
from .layouts import LabelledPairs
from .resume import RunState
from .rows import load_data, train_val_split
from .table_check import check_table_images
from .tables import ImageRow, TrainingDataError
from .validation import Validator

logger = logging.getLogger(__name__)


def _device(name: str, ranks: Ranks) -> torch.device:
    """The training device: ``optim.device`` ("auto": CUDA when there is one); a CUDA rank takes its local GPU."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if device.type == "cuda" and ranks.distributed:
        return torch.device("cuda", ranks.local_rank)
    return device


def train(
    config: TrainConfig, output: str | os.PathLike, *, progress: bool = True, resume: bool = False
) -> dict[str, Any]:
    """Train ``config`` and write the best network to ``output``; returns the history and best metrics.

    The run's state is written to ``output`` at every epoch boundary (:mod:`.resume`); ``resume=True`` continues
    an interrupted run from its last one, with the same config, to the same weights bit for bit.

    With ``members`` > 1, trains that many networks one after another (seeds ``member_seeds`` or ``seed``,
    ``seed + 1``, ...; configs ``network`` with each member's ``member_networks`` changes; one train/val split)
    and writes their ensemble, the mean of their scores. Runs inside a forked torch RNG
    (each member seeded with its own seed: initialisation, dropout, crops, pair order), so a config reproduces
    its result and the caller's RNG state is left as it was.
    """
    ranks, created = join_process_group(config.optim.device)
    check_batch(config.optim.batch_size, ranks)
    device = _device(config.optim.device, ranks)
    try:
        with (
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
            _cpu_threads(config.optim.threads),
        ):
            return _train(config, Path(output), device, progress, resume, ranks)
    finally:
        if created:
            torch.distributed.destroy_process_group()


@contextlib.contextmanager
def _cpu_threads(threads: int | None):
    """Run with ``threads`` torch CPU threads (None: unchanged); the caller's setting is restored."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(
    config: TrainConfig, output: Path, device: torch.device, progress: bool, resume: bool, ranks: Ranks
) -> dict[str, Any]:
    started = time.time()
    run_state = RunState.start(output, config, resume=resume, ranks=ranks)
    rows, labelled = load_data(config)
    train_rows, val_rows = train_val_split(config, rows)
    mos_range = _mos_range(config, rows, labelled)
    cache = ImageCache(keep=config.data.cache_images)
    check_table_images(rows, cache, progress=progress and ranks.main)
    validate = Validator(config, val_rows, mos_range, cache, device, labelled, ranks)
    seeds = config.member_seeds or [config.seed + k for k in range(config.members)]
    initial_states = _initial_states(config)
    changes = [dict(c) for c in config.member_networks] if config.member_networks else None
    runs = [MemberRun(**finished) for finished in run_state.finished]
    for k, seed in list(enumerate(seeds))[len(runs) :]:
        network_config = member_config(config.network, changes, k)
        if config.members > 1:
            logger.info("ensemble member %d of %d (seed %d): %s", k + 1, config.members, seed, network_config)
        run = fit(
            *(config, seed, network_config, train_rows, mos_range, validate, cache, device, progress),
            initial_state=initial_states[k],
            labelled=labelled,
            resume_from=run_state.member_progress(k),
            on_epoch_end=lambda progress, k=k: run_state.end_epoch(k, progress),
            ranks=ranks,
        )
        run_state.end_member({"seed": run.seed, "state": run.state, "best": run.best, "history": run.history})
        runs.append(run)
    summary: dict[str, Any] = {
        "train_groups": sorted({r.group for r in train_rows}),
        "val_groups": sorted({r.group for r in val_rows}),
        "mos_range": list(mos_range),
    }
    if len(runs) == 1:
        network, state = build_network(config.architecture, dict(config.network)), runs[0].state
        summary.update(best=runs[0].best, history=runs[0].history)
    else:
        network, state = _assemble_ensemble(config, runs, changes, validate, device, summary)
    summary.update(seconds=round(time.time() - started, 1), config=asdict(config))
    if ranks.main:
        export(network, state, config, summary, output)
        run_state.remove()
    if ranks.distributed:
        torch.distributed.barrier()  # the other ranks return once the export is written
    return summary


def _mos_range(config: TrainConfig, rows: list[ImageRow], labelled: LabelledPairs | None) -> tuple[float, float]:
    """The MOS scale the labels are normalised by: ``data.mos_range``, else the rows' own range; pairwise data
    comes labelled in [-1, 1]."""
    if labelled is not None:
        return (-1.0, 1.0)
    if config.data.mos_range:
        return tuple(config.data.mos_range)
    rated = [r.mos for r in rows]
    return (min(rated), max(rated))


def _assemble_ensemble(
    config: TrainConfig,
    runs: list[MemberRun],
    changes: list[dict[str, Any]] | None,
    validate: Validator,
    device: torch.device,
    summary: dict[str, Any],
) -> tuple[RQIEnsemble, dict[str, torch.Tensor]]:
    """The ensemble of the members' best weights, validated as a whole; its record and the members' histories
    go into ``summary``. Returns (network on the CPU, its state dict)."""
    ensemble_config = {"architecture": config.architecture, "config": dict(config.network), "members": len(runs)}
    if changes:
        ensemble_config["member_configs"] = changes
    network = build_network(RQIEnsemble.architecture, ensemble_config)
    for member, run in zip(network.members, runs):
        member.load_state_dict(run.state)
    network = network.to(device)
    record = validate.measure(network)  # no epoch or training loss: the ensemble is not trained as a whole
    logger.info("ensemble of %d: %s", len(runs), ", ".join(f"{k}={v:.4f}" for k, v in record.items()))
    network = network.cpu()
    state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    summary.update(
        best=record,
        members=[
            {"seed": r.seed, "network_changes": changes[k] if changes else {}, "best": r.best, "history": r.history}
            for k, r in enumerate(runs)
        ],
    )
    return network, state


def _initial_states(config: TrainConfig) -> list[dict[str, torch.Tensor] | None]:
    """One starting state dict per member: from ``init_from`` (a network folder; an ensemble gives member k
    to member k), else None (random initialisation)."""
    if config.init_from is None:
        return [None] * config.members
    start = create_network(Path(config.init_from))
    if config.members == 1:
        return [start.state_dict()]
    members = getattr(start, "members", None)
    if members is None or len(members) != config.members:
        raise TrainingDataError(
            f"init_from {config.init_from!r} holds {len(members) if members is not None else 1} network(s); "
            f"members: {config.members} needs an ensemble of as many"
        )
    return [m.state_dict() for m in members]
