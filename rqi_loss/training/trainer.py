"""The RQI training recipe: dense MOS-difference pairs inside scenes, Huber loss, best checkpoint on
held-out scenes, exported in our Hub layout (config.json + model.safetensors + model card + curves)."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..checkpoints import write_folder
from ..networks import build_network
from .config import DataConfig, TrainConfig
from .dataset import ImageCache, PairDataset
from .evaluation import predict_pairs, validation_metrics
from .pairs import absolute_labels, dense_pairs, reference_pairs, relative_labels, split_groups
from .plots import plot_history
from .synth import SynthSpec, make_kadid_synth
from .tables import ImageRow, read_csv_table, read_iqa_table

logger = logging.getLogger(__name__)

TRANSFER_NOTE = (
    "Labels of KADID-synth are the mean KADID-10k MOS of each (distortion type, level), transferred to "
    "distortions re-implemented on scikit-image photographs: a transfer of human labels, not a human study "
    "of these images."
)


def load_rows(config: TrainConfig) -> list[ImageRow]:
    """The labelled images named by ``config.data`` (generating KADID-synth first when asked)."""
    data = config.data
    if data.synthetic is not None:
        if data.synthetic != "kadid":
            raise ValueError(f"data.synthetic must be 'kadid'; got {data.synthetic!r}")
        return read_csv_table(synth_table(data), group_column="source", reference_column="reference")
    if data.format == "iqa":
        if data.image_root is None:
            raise ValueError("data.image_root is required for format 'iqa' tables")
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
    runs that differ only in ``seed`` can keep one split."""
    seed = config.seed if config.data.split_seed is None else config.data.split_seed
    return split_groups(rows, val_fraction=config.data.val_fraction, seed=seed)


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

    Runs inside a forked torch RNG seeded with ``config.seed`` (initialisation, dropout, loader seeds), so a
    config reproduces its result and the caller's RNG state is left as it was.
    """
    device = _device(config.optim.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), _cpu_threads(config.optim.threads):
        torch.manual_seed(config.seed)
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


def _train(config: TrainConfig, output: Path, device: torch.device, progress: bool) -> dict[str, Any]:
    started = time.time()
    optim, data = config.optim, config.data
    rows = load_rows(config)
    train_rows, val_rows = train_val_split(config, rows)
    rated = [r.mos for r in rows]
    mos_range = tuple(data.mos_range) if data.mos_range else (min(rated), max(rated))
    network = build_network(config.architecture, dict(config.network)).to(device)
    # With ema_decay, validation, checkpoint choice and export use the moving average of the weights.
    averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(optim.ema_decay), use_buffers=True) if optim.ema_decay else None
    judged = averaged.module if averaged is not None else network
    cache = ImageCache(keep=data.cache_images)

    images, pairs, labels = _training_pairs(config, train_rows, mos_range)
    crop = optim.crop_size or network.input_size
    dataset = PairDataset(
        [r.image for r in images], pairs, labels, crop, train=True, cache=cache, seed=config.seed, augment=optim.augment
    )
    if config.recipe == "traditional":  # the rqi recipe's own validation pairs are the dense ones below
        own_val_rows, own_val_pairs, own_val_labels = _training_pairs(config, val_rows, mos_range)
        own_val_pairs, own_val_labels = _subsample(own_val_pairs, own_val_labels, optim.val_pairs, config.seed + 1)
    dense_val, dense_val_labels = dense_validation_pairs(config, val_rows, mos_range)

    steps_per_epoch = max(1, optim.pairs_per_epoch // optim.batch_size)
    total_steps = steps_per_epoch * optim.epochs
    optimizer = torch.optim.AdamW(network.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, optim.warmup_steps, total_steps))
    logger.info(
        "training %s (%s recipe): %d train / %d val images, %d training pairs, %d steps on %s",
        config.name, config.recipe, len(train_rows), len(val_rows), len(pairs), total_steps, device,
    )
    def evaluate(epoch: int, train_loss: float) -> dict[str, float]:
        metrics, dense_pred = validation_metrics(
            judged, val_rows, dense_val, dense_val_labels, cache=cache, device=device, bf16=optim.bf16
        )
        if config.recipe == "rqi":
            own_pred, own_labels = dense_pred, dense_val_labels
        else:
            own_pred = predict_pairs(judged, own_val_rows, own_val_pairs, cache=cache, device=device, bf16=optim.bf16)
            own_labels = own_val_labels
        val_loss = F.huber_loss(torch.from_numpy(own_pred), own_labels, delta=optim.huber_delta).item()
        record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, **metrics}
        logger.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
        return record

    history = [evaluate(0, float("nan"))]  # the untrained network, for reference
    best: dict[str, Any] = {"val_loss": float("inf")}
    for epoch in range(optim.epochs):
        dataset.set_epoch(epoch)
        order = epoch_order(len(dataset), steps_per_epoch * optim.batch_size, config.seed * 7919 + epoch)
        loader = DataLoader(
            torch.utils.data.Subset(dataset, order.tolist()),
            batch_size=optim.batch_size,
            num_workers=optim.num_workers,
            drop_last=True,
        )
        network.train()
        losses = []
        for a, b, target in tqdm(loader, desc=f"epoch {epoch + 1}/{optim.epochs}", disable=not progress, leave=False):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=optim.bf16):
                pred = network(a.to(device), b.to(device))
            loss = F.huber_loss(pred.float(), target.to(device), delta=optim.huber_delta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(network)
            losses.append(loss.item())
        record = evaluate(epoch + 1, float(np.mean(losses)))
        history.append(record)
        if record["val_loss"] < best["val_loss"]:
            best = {**record, "state": copy.deepcopy({k: v.cpu() for k, v in judged.state_dict().items()})}
    state = best.pop("state")
    summary = {
        "best": best,
        "history": history,
        "train_groups": sorted({r.group for r in train_rows}),
        "val_groups": sorted({r.group for r in val_rows}),
        "mos_range": list(mos_range),
        "seconds": round(time.time() - started, 1),
        "config": asdict(config),
    }
    export(network, state, config, summary, output)
    return summary


def export(network, state: dict, config: TrainConfig, summary: dict[str, Any], output: Path) -> None:
    """Write the best weights, config, model card, history JSON and curves PNG into ``output``."""
    provenance = {
        "recipe": config.recipe,
        "training": f"rqi-train ({config.name})",
        "data": config.data.synthetic or config.data.table,
        "held_out_groups": summary["val_groups"],
        "mos_range": summary["mos_range"],
        "validation": {k: round(v, 4) for k, v in summary["best"].items() if isinstance(v, float)},
    }
    if config.data.synthetic == "kadid":
        provenance["label_note"] = TRANSFER_NOTE
    write_folder(
        output,
        architecture=network.architecture,
        config=network.config,
        state=state,
        name=config.name,
        description=config.description,
        provenance=provenance,
        card=model_card(config, summary, sum(v.numel() for v in state.values())),
    )
    staging = output / ".history.json.tmp"
    staging.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    os.replace(staging, output / "history.json")
    plot_history(summary["history"], output / "training_curves.png", title=f"{config.name} ({config.recipe} recipe)")


def model_card(config: TrainConfig, summary: dict[str, Any], parameters: int) -> str:
    """Markdown card with the measured held-out numbers."""
    best = summary["best"]
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in best.items() if isinstance(v, float))
    data = "KADID-synth (generated; see below)" if config.data.synthetic else str(config.data.table)
    weights = f"; weights: moving average (EMA decay {config.optim.ema_decay})" if config.optim.ema_decay else ""
    note = f"\n\n{TRANSFER_NOTE}" if config.data.synthetic == "kadid" else ""
    return (
        f"# {config.name}\n\n{config.description}\n\n"
        f"- architecture: `{config.architecture}` ({parameters / 1e3:.0f} k parameters)\n"
        f"- recipe: `{config.recipe}` ({'dense MOS-difference pairs, Huber loss' if config.recipe == 'rqi' else '(distorted, reference) pairs, absolute MOS'})\n"
        f"- training data: {data}; held-out groups (never seen in training): {', '.join(summary['val_groups'])}\n"
        f"- best epoch {best['epoch']} of {len(summary['history']) - 1}, chosen by the recipe's own validation loss; "
        f"training took {summary['seconds'] / 60:.1f} min{weights}\n\n"
        f"## Held-out validation (best epoch)\n\n| metric | value |\n| --- | --- |\n{rows}\n\n"
        "pair_*: f(A, B) against the normalised MOS difference on dense pairs of held-out scenes; "
        "distorted_ref_pair_*: the subset whose second image is itself distorted; image_*: f(I, reference) "
        f"against MOS.{note}\n\nReproduce: `rqi-train <config>` with the config recorded in history.json.\n"
    )
