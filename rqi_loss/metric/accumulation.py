"""Per-image scores kept over ``RQIMetric.update`` calls and gathered across ranks by ``compute``.

Under ``torch.distributed`` each rank scores its shard; ``DistributedSampler`` pads the shards to equal length
by repeating images, so with the images' dataset indices passed to ``update`` the gathered scores keep one
score per index (ordered by index). Without indices the ranks' scores are joined in rank order as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _check_ranks_agree(parts: list[tuple]) -> None:
    """ValueError (on every rank alike) when some ranks passed indices to update() and others did not: their
    scores could not be joined without losing some."""
    given = [rank for rank, (indexed, _, scores) in enumerate(parts) if scores and indexed]
    missing = [rank for rank, (indexed, _, scores) in enumerate(parts) if scores and not indexed]
    if given and missing:
        raise ValueError(
            f"indices: rank(s) {given} passed them to update() and rank(s) {missing} did not; pass them on every "
            "rank or on none"
        )


class ScoreAccumulator:
    """Scores (float32) and, optionally, the dataset index of each image."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._scores: list[torch.Tensor] = []
        self._indices: list[int] = []
        self._indexed: bool | None = None

    def add(self, scores: torch.Tensor, indices: Sequence[int] | torch.Tensor | None) -> None:
        """Keep (N,) ``scores``; ``indices``: N dataset indices, or None (given on every call or on none)."""
        indexed = indices is not None
        if self._indexed is not None and indexed != self._indexed:
            earlier = "gave them and this one does not" if self._indexed else "gave none and this one does"
            raise ValueError(
                f"indices: earlier update() calls {earlier}; pass them on every call or on none (or reset() first)"
            )
        if indexed:
            indices = torch.as_tensor(indices).reshape(-1).tolist()
            if len(indices) != scores.numel() or not all(isinstance(i, int) for i in indices):
                raise ValueError(
                    f"indices must hold one integer per image ({scores.numel()}); got {len(indices)} values"
                )
            self._indices += indices
        self._indexed = indexed
        self._scores.append(scores.detach().float().reshape(-1).cpu())

    def gather(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices (M,) int64, scores (M,) float32) of every rank's images; with indices one per index, in
        index order; without, rank after rank (indices 0..M-1)."""
        scores = torch.cat(self._scores).tolist() if self._scores else []
        local = (self._indexed, self._indices, scores)
        parts = [local]
        if _world_size() > 1:
            parts = [None] * _world_size()
            dist.all_gather_object(parts, local)
        if not any(part[2] for part in parts):
            raise RuntimeError("no images to compute over: call update(sr, gt) first")
        _check_ranks_agree(parts)
        if any(part[0] for part in parts):
            by_index: dict[int, float] = {}
            for _, indices, values in parts:
                for index, value in zip(indices, values):
                    by_index.setdefault(index, value)  # a padded repeat of an image keeps its first score
            ordered = sorted(by_index)
            return torch.tensor(ordered, dtype=torch.int64), torch.tensor([by_index[i] for i in ordered])
        values = [value for part in parts for value in part[2]]
        return torch.arange(len(values)), torch.tensor(values, dtype=torch.float32)
