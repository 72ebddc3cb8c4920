"""Training on several processes under ``torchrun``: the process group, each rank's shard of a global batch, and
validation predictions sharded over the ranks and gathered.

``torchrun --nproc_per_node=N $(which rqi-train) cfg.yaml --output DIR`` starts N ranks; ``rqi-train`` joins
the process group torchrun describes (NCCL on GPUs, gloo on CPUs). ``optim.batch_size`` stays the global batch:
each rank takes its 1/N of every batch (a disjoint shard of the epoch's pairs) and DistributedDataParallel
averages the gradients, so N ranks take the steps one process would, up to float summation order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from .tables import TrainingDataError


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``rank`` of ``world`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the rank that logs, writes the state and exports (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def seed(self, seed: int) -> int:
        """This rank's seed for its own random draws (dropout masks, adversarial random starts): ``seed`` itself
        on rank 0 (as one process), a distinct seed derived from (seed, rank) on each other rank."""
        if self.rank == 0:
            return seed
        return int(np.random.SeedSequence([seed, self.rank]).generate_state(1, np.uint64)[0] >> 1)

    def mean(self, value: float, device: torch.device) -> float:
        """The mean of ``value`` over the ranks (``value`` itself in one process); a collective."""
        if not self.distributed:
            return value
        total = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(total)
        return total.item() / self.world

    def gather(self, value: object) -> list:
        """Every rank's ``value``, in rank order (``[value]`` in one process); a collective."""
        if not self.distributed:
            return [value]
        gathered: list = [None] * self.world
        dist.all_gather_object(gathered, value)
        return gathered

    def shard(self, order: torch.Tensor, batch_size: int) -> torch.Tensor:
        """This rank's slice of every global batch of ``order`` (its length a multiple of ``batch_size``)."""
        if not self.distributed:
            return order
        per_rank = batch_size // self.world
        batches = order.view(-1, batch_size)
        return batches[:, self.rank * per_rank : (self.rank + 1) * per_rank].reshape(-1)


def join_process_group(device: str) -> tuple[Ranks, bool]:
    """(ranks, whether this call created the process group). One process: ``Ranks()``; under torchrun
    (``WORLD_SIZE`` > 1): joins, with NCCL when training on CUDA, else gloo."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Ranks(), False
    created = False
    if not dist.is_initialized():
        on_cuda = device != "cpu" and torch.cuda.is_available()
        dist.init_process_group(backend="nccl" if on_cuda else "gloo")
        created = True
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))), created


def check_batch(batch_size: int, ranks: Ranks) -> None:
    """The global batch must split evenly over the ranks (each takes the same share of every step)."""
    if batch_size % ranks.world:
        raise TrainingDataError(
            f"optim.batch_size {batch_size} (the global batch) must be a multiple of the {ranks.world} ranks; "
            f"e.g. {batch_size - batch_size % ranks.world or ranks.world}"
        )


def sharded(predict: Callable[..., np.ndarray], ranks: Ranks) -> Callable[..., np.ndarray]:
    """``predict(network, rows, pairs, **kwargs) -> (P,) array`` computed on every ``world``-th pair by each rank
    and gathered, so every rank returns all P predictions."""
    if not ranks.distributed:
        return predict

    def predict_sharded(network, rows, pairs: torch.Tensor, **kwargs) -> np.ndarray:
        mine = torch.arange(ranks.rank, len(pairs), ranks.world)
        local = predict(network, rows, pairs[mine], **kwargs)
        gathered = ranks.gather(local)
        result = np.empty(len(pairs), dtype=local.dtype)
        for rank, values in enumerate(gathered):
            result[rank :: ranks.world] = values
        return result

    return predict_sharded
