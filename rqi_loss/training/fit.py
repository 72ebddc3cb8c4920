"""The fit loop of one network: AdamW with warm-up and cosine decay, Huber loss on the recipe's pairs, an
optional adversarial term, optional weight averaging (EMA), and the weights of the best validation epoch."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from ..networks import build_network, load_network_state
from .adversarial import perturb_pair
from .backbone import load_backbone
from .config import OptimConfig, TrainConfig
from .dataset import ImageCache, PairDataset
from .distributed import Ranks
from .gradient_alignment import gradient_alignment_penalty
from .gradient_norm import gradient_norm_penalty, input_gradient
from .layouts import LabelledPairs
from .pairs import epoch_order, recipe_pairs, require_pairs
from .resume import random_states, restore_random_states
from .tables import ImageRow
from .validation import Validator

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The validation loss of a run became NaN or infinite: the weights diverged. ``rqi-train`` stops at that
    epoch with a one-line error (exit code 3) instead of training on to an export that has no best epoch."""


def check_finite(record: dict[str, Any], seed: int) -> None:
    """Raise :class:`TrainingDiverged` when an epoch's validation loss is not finite."""
    if math.isfinite(record["val_loss"]):
        return
    epoch = record["epoch"]
    trained = f" (training loss {record['train_loss']:.4g})" if "train_loss" in record else ""
    where = f"after epoch {epoch}{trained}" if epoch else "of the untrained network (epoch 0)"
    raise TrainingDiverged(
        f"the validation loss {where} is {record['val_loss']} for the member with seed {seed}: the run diverged "
        "and was stopped; nothing was exported. Start it again with a lower optim.lr, a longer "
        "optim.warmup_steps or optim.bf16: false"
    )


@dataclass
class MemberRun:
    """One trained network: its seed, best weights (CPU), best validation record and per-epoch history."""

    seed: int
    state: dict[str, torch.Tensor]
    best: dict[str, Any]
    history: list[dict[str, float]]


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up over ``warmup`` steps, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def member_network(
    config: TrainConfig, network_config: dict[str, Any], initial_state: dict[str, torch.Tensor] | None
) -> torch.nn.Module:
    """A new network of ``config.architecture`` with ``network_config``: random (from the current torch seed),
    its backbone from ``config.backbone_weights`` when given, or ``initial_state`` loaded strictly (``init_from``)."""
    network = build_network(config.architecture, network_config)
    if config.backbone_weights is not None:
        load_backbone(network, config.backbone_weights)
    if initial_state is not None:
        load_network_state(network, initial_state, source=f"init_from {config.init_from}")
    return network


@dataclass
class Learner:
    """What one member's training steps change: the network, its moving average (``optim.ema_decay``), the
    optimiser and the learning-rate schedule. ``judged`` is what validation, the best checkpoint and export use."""

    network: torch.nn.Module
    averaged: AveragedModel | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    replicated: DistributedDataParallel | None = None  # the network under DDP, on several ranks

    @property
    def judged(self) -> torch.nn.Module:
        return self.averaged.module if self.averaged is not None else self.network

    def snapshot(self) -> dict[str, Any]:
        """State dicts of all four parts (references to the live tensors: save them before the next step)."""
        return {
            "network": self.network.state_dict(),
            "averaged": self.averaged.state_dict() if self.averaged is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def restore(self, saved: dict[str, Any]) -> None:
        self.network.load_state_dict(saved["network"])
        if self.averaged is not None:
            self.averaged.load_state_dict(saved["averaged"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])


def make_learner(
    config: TrainConfig,
    network_config: dict[str, Any],
    initial_state: dict[str, torch.Tensor] | None,
    device: torch.device,
    total_steps: int,
    ranks: Ranks = Ranks(),
) -> Learner:
    """A new member's network (see :func:`member_network`) on ``device``, its moving average when configured,
    AdamW and the warm-up + cosine schedule (:func:`lr_factor`) over ``total_steps``; wrapped in DDP across
    ``ranks`` when there are several."""
    optim = config.optim
    network = member_network(config, network_config, initial_state).to(device)
    averaged = None
    if optim.ema_decay:
        averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(optim.ema_decay), use_buffers=True)
    optimizer = torch.optim.AdamW(network.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, optim.warmup_steps, total_steps))
    replicated = None
    if ranks.distributed:  # DDP broadcasts rank 0's weights and averages the gradients over the ranks
        replicated = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
    return Learner(network, averaged, optimizer, scheduler, replicated)


def fit(
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
    labelled: LabelledPairs | None = None,
    resume_from: dict[str, Any] | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    ranks: Ranks = Ranks(),
) -> MemberRun:
    """Train one network (``network_config``) with ``seed``; keep the weights of the epoch with the lowest
    validation loss (of the moving average with ``optim.ema_decay``). ``resume_from``: what ``on_epoch_end``
    was given at an epoch boundary of an interrupted run; training goes on from there, bit for bit. Under
    torchrun (``ranks``), each rank trains on its shard of every batch through DistributedDataParallel."""
    optim = config.optim
    steps_per_epoch = max(1, optim.pairs_per_epoch // (optim.batch_size * optim.accumulate))  # optimiser steps
    torch.manual_seed(seed)
    learner = make_learner(config, network_config, initial_state, device, steps_per_epoch * optim.epochs, ranks)
    torch.manual_seed(ranks.seed(seed))  # the same initial weights everywhere; each rank's own dropout and noise
    dataset = training_dataset(config, seed, train_rows, mos_range, cache, learner.network.input_size, labelled)
    sizes = (len(train_rows), len(validate.rows), len(dataset), steps_per_epoch * optim.epochs, device)
    logger.info(
        "training %s (%s recipe, seed %d): %d train / %d val images, %d training pairs, %d steps on %s",
        *(config.name, config.recipe, seed, *sizes),
    )
    if resume_from is None:
        history, best, state, start = [validate(learner.judged, 0, None)], {"val_loss": float("inf")}, {}, 0
        check_finite(history[0], seed)
    else:
        learner.restore(resume_from)
        history, best, state, start = (resume_from[k] for k in ("history", "best", "state", "epoch"))
        restore_random_states(resume_from["random"], ranks)
    for epoch in range(start, optim.epochs):
        dataset.set_epoch(epoch)
        order = epoch_order(len(dataset), steps_per_epoch * optim.batch_size * optim.accumulate, seed * 7919 + epoch)
        loader = epoch_loader(dataset, ranks.shard(order, optim.batch_size), optim, ranks, device)
        shown = progress and ranks.main
        progress_bar = tqdm(loader, desc=f"epoch {epoch + 1}/{optim.epochs}", disable=not shown, leave=False)
        terms: dict[str, list[float]] | None = {} if has_extra_terms(optim) else None
        losses = train_epoch(learner, progress_bar, optim, device, terms)
        parts = {f"train_{name}": ranks.mean(float(np.mean(values)), device) for name, values in (terms or {}).items()}
        record = validate(learner.judged, epoch + 1, ranks.mean(float(np.mean(losses)), device), parts)
        check_finite(record, seed)  # before the state is saved: a resume starts from the last finite epoch
        history.append(record)
        if record["val_loss"] < best["val_loss"]:
            best = record
            state = copy.deepcopy({k: v.cpu() for k, v in learner.judged.state_dict().items()})
        if on_epoch_end is not None:
            randomness = ranks.gather(random_states())  # every rank's own states, restored rank by rank
            kept = {"epoch": epoch + 1, "history": history, "best": best, "state": state, "random": randomness}
            on_epoch_end({**kept, **learner.snapshot()})
    return MemberRun(seed=seed, state=state, best=best, history=history)


def training_dataset(
    config: TrainConfig,
    seed: int,
    train_rows: list[ImageRow],
    mos_range: tuple[float, float],
    cache: ImageCache,
    input_size: int,
    labelled: LabelledPairs | None,
) -> PairDataset:
    """The recipe's training pairs as aligned crops (``optim.crop_size``, default the network's input size)."""
    images, pairs, labels = recipe_pairs(config, train_rows, mos_range, labelled)
    require_pairs(pairs, "training", config.recipe)
    crop = config.optim.crop_size or input_size
    augment = config.optim.augment
    return PairDataset(
        [r.image for r in images], pairs, labels, crop, train=True, cache=cache, seed=seed, augment=augment
    )


def epoch_loader(
    dataset: PairDataset, order: torch.Tensor, optim: OptimConfig, ranks: Ranks, device: torch.device
) -> DataLoader:
    """Batches of this rank's share (``batch_size / world`` pairs) of the global batches, in ``order``."""
    return DataLoader(
        Subset(dataset, order.tolist()),
        batch_size=optim.batch_size // ranks.world,
        num_workers=optim.num_workers,
        drop_last=True,
        pin_memory=device.type == "cuda",  # page-locked batches: the copies to the GPU overlap the step
    )


def train_epoch(
    learner: Learner,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    optim: OptimConfig,
    device: torch.device,
    terms: dict[str, list[float]] | None = None,
) -> list[float]:
    """One pass over ``batches`` of (a, b, target) in training mode: an optimiser step every ``optim.accumulate``
    batches (their mean gradient), the moving average updated after each step. Returns every batch's loss;
    ``terms``, when given, receives every batch's value of each term of the loss (see ``training_loss``)."""
    learner.network.train()
    losses = []
    for index, (a, b, target) in enumerate(batches, 1):
        synced = index % optim.accumulate == 0  # DDP all-reduces the gradients of the step's last pass only
        batch_terms: dict[str, float] | None = None if terms is None else {}
        with contextlib.nullcontext() if synced or learner.replicated is None else learner.replicated.no_sync():
            loss = training_loss(learner, a.to(device), b.to(device), target.to(device), optim, batch_terms)
            if optim.accumulate == 1:
                learner.optimizer.zero_grad(set_to_none=True)
                loss.backward()
            else:
                (loss / optim.accumulate).backward()
        if terms is not None and batch_terms is not None:
            for name, value in batch_terms.items():
                terms.setdefault(name, []).append(value)
        if synced:
            learner.optimizer.step()
            learner.scheduler.step()
            if learner.averaged is not None:
                learner.averaged.update_parameters(learner.network)
            if optim.accumulate > 1:
                learner.optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def has_extra_terms(optim: OptimConfig) -> bool:
    """Whether the training loss is more than the Huber loss (a penalty or an adversarial term)."""
    return any(term is not None for term in (optim.gradient_norm, optim.gradient_alignment, optim.adversarial))


def training_loss(
    learner: Learner,
    a: torch.Tensor,
    b: torch.Tensor,
    target: torch.Tensor,
    optim: OptimConfig,
    terms: dict[str, float] | None = None,
) -> torch.Tensor:
    """0-dim Huber loss of the network's (N,) predictions for (N, 3, S, S) pairs ``a``, ``b`` against
    ``target``, plus ``optim.gradient_norm``'s and ``optim.gradient_alignment``'s penalties (one input gradient
    for both) and ``optim.adversarial``'s weighted term on a perturbed copy of the pairs where configured.
    ``terms``, when given, receives each term's value as it enters the sum (``huber``, ``gradient_norm``,
    ``gradient_alignment``, ``adversarial``). The clean pass goes through the DDP wrapper when there is one (it
    readies the gradient all-reduce); the perturbation search and the perturbed pass use the module itself."""
    device_type, network = a.device.type, learner.network
    parts: dict[str, torch.Tensor] = {}
    penalised = optim.gradient_norm is not None or optim.gradient_alignment is not None
    if penalised:
        a = a.requires_grad_(True)  # the penalties differentiate the prediction with respect to the judged image
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=optim.bf16):
        pred = (learner.replicated or network)(a, b)
    parts["huber"] = F.huber_loss(pred.float(), target, delta=optim.huber_delta)
    if penalised:
        gradient = input_gradient(pred, a)
        if optim.gradient_norm is not None:
            parts["gradient_norm"] = gradient_norm_penalty(pred, a, optim.gradient_norm, gradient)
        if optim.gradient_alignment is not None:
            parts["gradient_alignment"] = gradient_alignment_penalty(gradient, a, b, target, optim.gradient_alignment)
    if optim.adversarial is not None:
        pair_loss = lambda p, t: F.huber_loss(p, t, delta=optim.huber_delta)  # noqa: E731
        goal = target if optim.adversarial.target == "label" else pred.detach().float()
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=optim.bf16):
            a_adv, b_adv = perturb_pair(network, a, b, goal, pair_loss, optim.adversarial)
            pred_adv = network(a_adv, b_adv)
        parts["adversarial"] = optim.adversarial.weight * pair_loss(pred_adv.float(), goal)
    if terms is not None:
        terms.update({name: value.item() for name, value in parts.items()})
    loss = parts["huber"]
    for name in ("gradient_norm", "gradient_alignment", "adversarial"):
        if name in parts:
            loss = loss + parts[name]
    return loss
