"""The RQI training recipe: dense MOS-difference pairs inside scenes, Huber loss, best checkpoint on
held-out scenes, exported in our Hub layout (config.json + model.safetensors + model card + curves)."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..factory import load_network
from ..networks import RQIEnsemble, build_network, load_network_state
from ..networks.ensemble import member_config
from .adversarial import perturb_pair
from .config import DataConfig, TrainConfig
from .dataset import ImageCache, PairDataset
from .evaluation import predict_pairs, validation_metrics
from .export import export
from .pairs import absolute_labels, dense_pairs, reference_pairs, relative_labels, split_groups
from .synth import SynthSpec, make_kadid_synth
from .table_check import check_table_images
from .tables import ImageRow, TrainingDataError, read_csv_table, read_iqa_table

logger = logging.getLogger(__name__)


def load_rows(config: TrainConfig) -> list[ImageRow]:
    """The labelled images named by ``config.data`` (generating KADID-synth first when asked)."""
    data = config.data
    if data.synthetic is not None:
        if data.synthetic != "kadid":
            raise TrainingDataError(f"data.synthetic must be 'kadid'; got {data.synthetic!r}")
        return read_csv_table(synth_table(data), group_column="source", reference_column="reference")
    if data.format == "iqa":
        if data.image_root is None:
            raise TrainingDataError("data.image_root is required for format 'iqa' tables")
        return read_iqa_table(data.table, image_root=data.image_root, reference_mos=data.reference_mos)
    return read_csv_table(
        data.table, image_root=data.image_root, group_column=data.group_column, reference_column=data.reference_column
    )


def synth_table(data: DataConfig) -> Path:
    """The table of the KADID-synth set that ``data`` names (``root``, ``scenes_per_source``), generated first
    when missing."""
    return make_kadid_synth(data.root, SynthSpec(scenes_per_source=data.scenes_per_source))


def train_val_split(config: TrainConfig, rows: list[ImageRow]) -> tuple[list[ImageRow], list[ImageRow]]:
    """(train, val) rows: whole groups held out, seeded by ``data.split_seed`` (default: the config's seed), so
    runs that differ only in ``seed`` can keep one split; then the groups in ``data.train_exclude_groups`` are
    dropped from the training side (the split itself does not change)."""
    seed = config.seed if config.data.split_seed is None else config.data.split_seed
    train, val = split_groups(rows, val_fraction=config.data.val_fraction, seed=seed)
    excluded, groups = set(config.data.train_exclude_groups), {row.group for row in rows}
    unknown = sorted(excluded - groups)
    if unknown:
        raise TrainingDataError(f"data.train_exclude_groups names unknown groups {unknown}; the table has {sorted(groups)}")
    train = [row for row in train if row.group not in excluded]
    if not train:
        raise TrainingDataError(f"data.train_exclude_groups {sorted(excluded)} leaves no training rows; exclude fewer groups")
    return train, val


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _training_pairs(config: TrainConfig, rows: list[ImageRow], mos_range) -> tuple[list[ImageRow], torch.Tensor, torch.Tensor]:
    if config.recipe == "rqi":
        pairs = dense_pairs(rows)
        return rows, pairs, relative_labels(rows, pairs, mos_range)
    pairs, extended = reference_pairs(rows)
    return extended, pairs, absolute_labels(extended, pairs[:, 0], mos_range)


def dense_validation_pairs(
    config: TrainConfig, val_rows: list[ImageRow], mos_range: tuple[float, float], count: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """((P, 2) pairs, (P,) labels): the held-out dense pairs validation scores, a seeded sample of ``count``
    (default ``optim.val_pairs``) when there are more."""
    pairs = dense_pairs(val_rows)
    count = config.optim.val_pairs if count is None else count
    return _subsample(pairs, relative_labels(val_rows, pairs, mos_range), count, config.seed + 2)


def _subsample(pairs: torch.Tensor, labels: torch.Tensor, count: int, seed: int):
    if len(pairs) <= count:
        return pairs, labels
    keep = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[:count]
    return pairs[keep], labels[keep]


def epoch_order(available: int, needed: int, seed: int) -> torch.Tensor:
    """``needed`` pair indices: shuffled passes over all ``available`` pairs, as many as it takes."""
    g = torch.Generator().manual_seed(seed)
    passes = [torch.randperm(available, generator=g) for _ in range(-(-needed // available))]
    return torch.cat(passes)[:needed]


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def train(config: TrainConfig, output: str | os.PathLike, *, progress: bool = True) -> dict[str, Any]:
    """Train ``config`` and write the best network to ``output``; returns the history and best metrics.

    With ``members`` > 1, trains that many networks one after another (seeds ``member_seeds`` or ``seed``,
    ``seed + 1``, ...; configs ``network`` with each member's ``member_networks`` changes; one train/val split)
    and writes their ensemble, the mean of their scores. Runs inside a forked torch RNG
    (each member seeded with its own seed: initialisation, dropout, crops, pair order), so a config reproduces
    its result and the caller's RNG state is left as it was.
    """
    device = _device(config.optim.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), _cpu_threads(config.optim.threads):
        return _train(config, Path(output), device, progress)


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


@dataclass
class MemberRun:
    """One trained network: its seed, best weights (CPU), best validation record and per-epoch history."""

    seed: int
    state: dict[str, torch.Tensor]
    best: dict[str, Any]
    history: list[dict[str, float]]


class Validator:
    """The held-out side of a run, shared by all its members: ``validator(network, epoch, train_loss)`` gives
    and logs an epoch's validation record; :meth:`measure` gives the recipe's own Huber loss (``val_loss``)
    and the metrics of :func:`validation_metrics`."""

    def __init__(self, config: TrainConfig, val_rows: list[ImageRow], mos_range, cache: ImageCache, device: torch.device):
        self.config, self.rows, self.cache, self.device = config, val_rows, cache, device
        self.dense, self.dense_labels = dense_validation_pairs(config, val_rows, mos_range)
        if config.recipe == "traditional":  # the rqi recipe's own validation pairs are the dense ones
            own_rows, own_pairs, own_labels = _training_pairs(config, val_rows, mos_range)
            self.own = (own_rows, *_subsample(own_pairs, own_labels, config.optim.val_pairs, config.seed + 1))

    def __call__(self, network: torch.nn.Module, epoch: int, train_loss: float) -> dict[str, float]:
        record = {"epoch": epoch, "train_loss": train_loss, **self.measure(network)}
        logger.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
        return record

    def measure(self, network: torch.nn.Module) -> dict[str, float]:
        optim = self.config.optim
        metrics, dense_pred = validation_metrics(
            network, self.rows, self.dense, self.dense_labels, cache=self.cache, device=self.device, bf16=optim.bf16
        )
        if self.config.recipe == "rqi":
            own_pred, own_labels = dense_pred, self.dense_labels
        else:
            own_rows, own_pairs, own_labels = self.own
            own_pred = predict_pairs(network, own_rows, own_pairs, cache=self.cache, device=self.device, bf16=optim.bf16)
        val_loss = F.huber_loss(torch.from_numpy(own_pred), own_labels, delta=optim.huber_delta).item()
        return {"val_loss": val_loss, **metrics}


def _train(config: TrainConfig, output: Path, device: torch.device, progress: bool) -> dict[str, Any]:
    started = time.time()
    rows = load_rows(config)
    train_rows, val_rows = train_val_split(config, rows)
    rated = [r.mos for r in rows]
    mos_range = tuple(config.data.mos_range) if config.data.mos_range else (min(rated), max(rated))
    cache = ImageCache(keep=config.data.cache_images)
    check_table_images(rows, cache, progress=progress)
    validate = Validator(config, val_rows, mos_range, cache, device)
    seeds = config.member_seeds or [config.seed + k for k in range(config.members)]
    initial_states = _initial_states(config)
    changes = [dict(c) for c in config.member_networks] if config.member_networks else None
    runs = []
    for k, seed in enumerate(seeds):
        network_config = member_config(config.network, changes, k)
        if config.members > 1:
            logger.info("ensemble member %d of %d (seed %d): %s", k + 1, config.members, seed, network_config)
        runs.append(
            _fit(config, seed, network_config, train_rows, mos_range, validate, cache, device, progress, initial_states[k])
        )
    summary: dict[str, Any] = {
        "train_groups": sorted({r.group for r in train_rows}),
        "val_groups": sorted({r.group for r in val_rows}),
        "mos_range": list(mos_range),
    }
    if len(runs) == 1:
        network, state = build_network(config.architecture, dict(config.network)), runs[0].state
        summary.update(best=runs[0].best, history=runs[0].history)
    else:
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
    summary.update(seconds=round(time.time() - started, 1), config=asdict(config))
    export(network, state, config, summary, output)
    return summary


def _initial_states(config: TrainConfig) -> list[dict[str, torch.Tensor] | None]:
    """One starting state dict per member: from ``init_from`` (a network folder; an ensemble gives member k
    to member k), else None (random initialisation)."""
    if config.init_from is None:
        return [None] * config.members
    start = load_network(config.init_from)
    if config.members == 1:
        return [start.state_dict()]
    members = getattr(start, "members", None)
    if members is None or len(members) != config.members:
        raise TrainingDataError(
            f"init_from {config.init_from!r} holds {len(members) if members is not None else 1} network(s); "
            f"members: {config.members} needs an ensemble of as many"
        )
    return [m.state_dict() for m in members]


def _fit(
    config: TrainConfig,
    seed: int,
    network_config: dict[str, Any],
    train_rows: list[ImageRow],
    mos_range: tuple[float, float],
    validate: Validator,
    cache: ImageCache,
    device: torch.device,
    progress: bool,
    initial_state: dict[str, torch.Tensor] | None = None,
) -> MemberRun:
    """Train one network (``network_config``) with ``seed``; keep the weights of the epoch with the lowest
    validation loss."""
    optim = config.optim
    torch.manual_seed(seed)
    network = build_network(config.architecture, network_config)
    if initial_state is not None:
        load_network_state(network, initial_state, source=f"init_from {config.init_from}")
    network = network.to(device)
    # With ema_decay, validation, checkpoint choice and export use the moving average of the weights.
    averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(optim.ema_decay), use_buffers=True) if optim.ema_decay else None
    judged = averaged.module if averaged is not None else network
    images, pairs, labels = _training_pairs(config, train_rows, mos_range)
    crop = optim.crop_size or network.input_size
    dataset = PairDataset(
        [r.image for r in images], pairs, labels, crop, train=True, cache=cache, seed=seed, augment=optim.augment
    )
    steps_per_epoch = max(1, optim.pairs_per_epoch // optim.batch_size)
    total_steps = steps_per_epoch * optim.epochs
    optimizer = torch.optim.AdamW(network.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, optim.warmup_steps, total_steps))
    logger.info(
        "training %s (%s recipe, seed %d): %d train / %d val images, %d training pairs, %d steps on %s",
        config.name, config.recipe, seed, len(train_rows), len(validate.rows), len(pairs), total_steps, device,
    )
    history = [validate(judged, 0, float("nan"))]  # the untrained network, for reference
    best: dict[str, Any] = {"val_loss": float("inf")}
    state: dict[str, torch.Tensor] = {}
    for epoch in range(optim.epochs):
        dataset.set_epoch(epoch)
        order = epoch_order(len(dataset), steps_per_epoch * optim.batch_size, seed * 7919 + epoch)
        loader = DataLoader(
            torch.utils.data.Subset(dataset, order.tolist()),
            batch_size=optim.batch_size,
            num_workers=optim.num_workers,
            drop_last=True,
        )
        network.train()
        losses = []
        for a, b, target in tqdm(loader, desc=f"epoch {epoch + 1}/{optim.epochs}", disable=not progress, leave=False):
            a, b, target = a.to(device), b.to(device), target.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=optim.bf16):
                pred = network(a, b)
            loss = F.huber_loss(pred.float(), target, delta=optim.huber_delta)
            if optim.adversarial is not None:
                pair_loss = lambda p, t: F.huber_loss(p, t, delta=optim.huber_delta)  # noqa: E731
                goal = target if optim.adversarial.target == "label" else pred.detach().float()
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=optim.bf16):
                    a_adv, b_adv = perturb_pair(network, a, b, goal, pair_loss, optim.adversarial)
                    pred_adv = network(a_adv, b_adv)
                loss = loss + optim.adversarial.weight * pair_loss(pred_adv.float(), goal)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(network)
            losses.append(loss.item())
        record = validate(judged, epoch + 1, float(np.mean(losses)))
        history.append(record)
        if record["val_loss"] < best["val_loss"]:
            best = record
            state = copy.deepcopy({k: v.cpu() for k, v in judged.state_dict().items()})
    return MemberRun(seed=seed, state=state, best=best, history=history)
