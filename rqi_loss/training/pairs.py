"""Pairs of a run: dense relative pairs (RQI) or (distorted, reference) pairs (traditional), their labels, the
held-out pairs validation scores, and the order in which an epoch visits the training pairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from .tables import ImageRow, TrainingDataError

if TYPE_CHECKING:
    from .config import TrainConfig
    from .layouts import LabelledPairs


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
        raise TrainingDataError(
            "the traditional recipe needs rows with a reference image (reference column / iqa table)"
        )
    return torch.tensor(pairs), rows


def labelled_subset(
    labelled: LabelledPairs, rows: Sequence[ImageRow]
) -> tuple[list[ImageRow], torch.Tensor, torch.Tensor]:
    """(rows, (P, 2) pairs indexing ``rows``, (P,) labels): the labelled pairs whose two images are in ``rows``
    (one side of the split)."""
    position = {row.image: k for k, row in enumerate(rows)}
    images = [row.image for row in labelled.rows]
    keep = [k for k, (i, j) in enumerate(labelled.pairs.tolist()) if images[i] in position and images[j] in position]
    pairs = [[position[images[i]], position[images[j]]] for i, j in labelled.pairs[keep].tolist()]
    return list(rows), torch.tensor(pairs, dtype=torch.int64).view(-1, 2), labelled.labels[keep]


def recipe_pairs(
    config: TrainConfig,
    rows: list[ImageRow],
    mos_range: tuple[float, float],
    labelled: LabelledPairs | None = None,
) -> tuple[list[ImageRow], torch.Tensor, torch.Tensor]:
    """(rows the pairs index, (P, 2) pairs, (P,) labels) of ``config.recipe``: dense relative pairs with MOS
    differences (rqi), or (distorted, reference) pairs with absolute MOS (traditional); with ``labelled``
    pairs (a pairwise dataset), those among ``rows``."""
    if labelled is not None:
        return labelled_subset(labelled, rows)
    if config.recipe == "rqi":
        pairs = dense_pairs(rows)
        return rows, pairs, relative_labels(rows, pairs, mos_range)
    pairs, extended = reference_pairs(rows)
    return extended, pairs, absolute_labels(extended, pairs[:, 0], mos_range)


def require_pairs(pairs: torch.Tensor, side: str, recipe: str) -> None:
    """TrainingDataError when ``side`` ("training" or "held-out") has no pair to train or validate on."""
    if len(pairs):
        return
    needs = "at least two rated images in one scene" if recipe == "rqi" else "rows with a reference image"
    raise TrainingDataError(
        f"the {side} side of the split has no {recipe} pairs: the recipe needs {needs}; check the table's scene "
        "column (is every image its own scene?)"
    )


def dense_validation_pairs(
    config: TrainConfig,
    val_rows: list[ImageRow],
    mos_range: tuple[float, float],
    count: int | None = None,
    labelled: LabelledPairs | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """((P, 2) pairs, (P,) labels): the held-out dense pairs validation scores (with ``labelled`` pairs, the
    held-out labelled pairs), a sample of ``count`` (default ``optim.val_pairs``) when there are more, seeded by
    ``config.held_out_seed`` like the split it is drawn from."""
    count = config.optim.val_pairs if count is None else count
    if labelled is not None:
        _, pairs, labels = labelled_subset(labelled, val_rows)
        return subsample_pairs(pairs, labels, count, config.held_out_seed + 2)
    pairs = dense_pairs(val_rows)
    return subsample_pairs(pairs, relative_labels(val_rows, pairs, mos_range), count, config.held_out_seed + 2)


def subsample_pairs(
    pairs: torch.Tensor, labels: torch.Tensor, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded sample of ``count`` (pairs, labels), or all of them when there are no more."""
    if len(pairs) <= count:
        return pairs, labels
    keep = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[:count]
    return pairs[keep], labels[keep]


def epoch_order(available: int, needed: int, seed: int) -> torch.Tensor:
    """``needed`` pair indices: shuffled passes over all ``available`` pairs, as many as it takes."""
    g = torch.Generator().manual_seed(seed)
    passes = [torch.randperm(available, generator=g) for _ in range(-(-needed // available))]
    return torch.cat(passes)[:needed]
