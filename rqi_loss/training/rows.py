"""The rows of a run and their split: the labelled images ``config.data`` names, and the scene-group split into
training and held-out rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .config import DataConfig, TrainConfig, synthetic_sets
from .layouts import LAYOUTS, PAIRWISE_LAYOUTS, LabelledPairs, read_layout, read_pieapp
from .synth import DISTORTION_SETS, SynthSpec, make_synthetic_set
from .tables import ImageRow, TrainingDataError, read_csv_table, read_iqa_table


def load_data(config: TrainConfig) -> tuple[list[ImageRow], LabelledPairs | None]:
    """(rows, labelled pairs): the images named by ``config.data`` and, for a pairwise dataset (PieAPP), its
    labelled pairs (None for MOS-labelled data, whose pairs the recipe makes)."""
    if config.data.format in PAIRWISE_LAYOUTS:
        labelled = read_pieapp(config.data.root, split=config.data.pieapp_split)
        return labelled.rows, labelled
    return load_rows(config), None


def load_rows(config: TrainConfig) -> list[ImageRow]:
    """The labelled images named by ``config.data`` (generating KADID-synth first when asked)."""
    data = config.data
    if data.format in PAIRWISE_LAYOUTS:
        return load_data(config)[0]
    if data.format in LAYOUTS:
        return read_layout(data.format, data.root, reference_mos=data.reference_mos)
    if data.synthetic is not None:
        return synthetic_rows(data)
    if data.format == "iqa":
        if data.image_root is None:
            raise TrainingDataError("data.image_root is required for format 'iqa' tables")
        return read_iqa_table(data.table, image_root=data.image_root, reference_mos=data.reference_mos)
    return read_csv_table(
        data.table, image_root=data.image_root, group_column=data.group_column, reference_column=data.reference_column
    )


def synth_table(data: DataConfig, name: str = "kadid", root: str | Path | None = None) -> Path:
    """The table of the synthetic set ``name`` (``data.scenes_per_source`` scenes per photograph) under ``root``
    (default ``data.root``), generated first when missing."""
    spec = SynthSpec(scenes_per_source=data.scenes_per_source, distortion_set=name)
    return make_synthetic_set(data.root if root is None else root, spec)


def synthetic_rows(data: DataConfig) -> list[ImageRow]:
    """The rows of ``data.synthetic``: one set as its table rates them (in ``data.root``); several sets each in
    ``data.root/<set>``, their scenes named ``<set>/<scene>`` (so pairs never cross sets) and each set's MOS
    mapped from its own scale to [0, 1] (the config then gives ``data.mos_range: [0, 1]``)."""
    names = synthetic_sets(data)
    if len(names) == 1:
        return read_csv_table(synth_table(data, names[0]), group_column="source", reference_column="reference")
    rows = []
    for name in names:
        low, high = DISTORTION_SETS[name].mos_range
        table = synth_table(data, name, Path(data.root) / name)
        for row in read_csv_table(table, group_column="source", reference_column="reference"):
            rows.append(dataclasses.replace(row, scene=f"{name}/{row.scene}", mos=(row.mos - low) / (high - low)))
    return rows


def train_val_split(config: TrainConfig, rows: list[ImageRow]) -> tuple[list[ImageRow], list[ImageRow]]:
    """(train, val) rows: whole groups held out, seeded by ``config.held_out_seed`` (``data.split_seed``, default:
    the config's seed), so runs that differ only in ``seed`` can keep one split; then the groups in
    ``data.train_exclude_groups`` are dropped from the training side (the split itself does not change)."""
    train, val = split_groups(rows, val_fraction=config.data.val_fraction, seed=config.held_out_seed)
    excluded, groups = set(config.data.train_exclude_groups), {row.group for row in rows}
    unknown = sorted(excluded - groups)
    if unknown:
        raise TrainingDataError(
            f"data.train_exclude_groups names unknown groups {unknown}; the table has {sorted(groups)}"
        )
    train = [row for row in train if row.group not in excluded]
    if not train:
        raise TrainingDataError(
            f"data.train_exclude_groups {sorted(excluded)} leaves no training rows; exclude fewer groups"
        )
    return train, val


def split_groups(
    rows: Sequence[ImageRow], *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[ImageRow], list[ImageRow]]:
    """Split rows by ``group`` (seeded): no group appears on both sides. Returns (train, val)."""
    if not 0 < val_fraction < 1:
        raise TrainingDataError(f"val_fraction must be in (0, 1); got {val_fraction}")
    groups = sorted({row.group for row in rows})
    if len(groups) < 2:
        raise TrainingDataError(f"need at least 2 groups to split; got {groups}")
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = min(len(groups) - 1, max(1, round(val_fraction * len(groups))))
    val_groups = {groups[i] for i in order[:n_val]}
    return [r for r in rows if r.group not in val_groups], [r for r in rows if r.group in val_groups]
