"""Scene split and pair construction: dense relative pairs (RQI) and (distorted, reference) pairs (traditional)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from .tables import ImageRow, TrainingDataError


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


def dense_pairs(rows: Sequence[ImageRow]) -> torch.Tensor:
    """(P, 2) int64 indices (i, j) into ``rows``: every ordered pair i != j inside each scene."""
    by_scene: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_scene[row.scene].append(index)
    blocks = []
    for members in by_scene.values():
        idx = torch.tensor(members)
        i, j = torch.meshgrid(idx, idx, indexing="ij")
        keep = i != j
        blocks.append(torch.stack((i[keep], j[keep]), dim=1))
    return torch.cat(blocks) if blocks else torch.zeros(0, 2, dtype=torch.int64)


def relative_labels(rows: Sequence[ImageRow], pairs: torch.Tensor, mos_range: tuple[float, float]) -> torch.Tensor:
    """(P,) float32 (q_i - q_j) / (max - min): MOS differences normalised to [-1, 1]."""
    low, high = mos_range
    mos = torch.tensor([r.mos for r in rows], dtype=torch.float64)
    return ((mos[pairs[:, 0]] - mos[pairs[:, 1]]) / (high - low)).float()


def absolute_labels(rows: Sequence[ImageRow], indices: torch.Tensor, mos_range: tuple[float, float]) -> torch.Tensor:
    """(P,) float32 MOS mapped linearly from ``mos_range`` to [-1, 1] (the traditional FR target)."""
    low, high = mos_range
    mos = torch.tensor([rows[i].mos for i in indices.tolist()], dtype=torch.float64)
    return (2 * (mos - low) / (high - low) - 1).float()


def reference_pairs(rows: Sequence[ImageRow]) -> tuple[torch.Tensor, list[ImageRow]]:
    """Traditional FR pairs (distorted, its reference). Returns (P, 2) indices into the returned row list,
    which is ``rows`` plus any reference image not rated in ``rows``."""
    rows = list(rows)
    position = {row.image: index for index, row in enumerate(rows)}
    pairs = []
    for index, row in enumerate(list(rows)):
        if row.reference is None or row.reference == row.image:
            continue
        if row.reference not in position:
            position[row.reference] = len(rows)
            rows.append(ImageRow(row.scene, row.reference, float("nan"), row.group, row.reference))
        pairs.append((index, position[row.reference]))
    if not pairs:
        raise TrainingDataError("the traditional recipe needs rows with a reference image (reference column / iqa table)")
    return torch.tensor(pairs), rows
