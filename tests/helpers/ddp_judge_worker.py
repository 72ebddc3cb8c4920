"""Two gloo processes train a generator whose model holds an RQILoss (inside the DDP-wrapped module, or
outside it), then report what DDP synchronised. Each rank's judge gets its own random weights, so a judge
that DDP broadcast would come out equal on both ranks.

Usage: python ddp_judge_worker.py inside|outside. Prints one JSON line {"ranks": [...]}.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import tempfile

import torch
from torch import nn

from rqi_loss import RQILoss

from tiny_models import make_tiny_network  # the script's own folder, tests/helpers/, is on sys.path


class SRWithLoss(nn.Module):
    """A generator with the loss as a submodule, as a Lightning module or a training wrapper holds it."""

    def __init__(self, loss: RQILoss) -> None:
        super().__init__()
        self.generator = nn.Conv2d(3, 3, 3, padding=1)
        self.loss = loss

    def forward(self, lq: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        return self.loss(self.generator(lq).sigmoid(), gt)


def measure(rank: int, placement: str) -> dict:
    """One training step through DDP, then what DDP synchronised. The DDP wrapper lives only inside this
    function, so it is gone before the process group is destroyed (a reducer outliving its gloo group can abort
    the process at exit)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(100 + rank)  # different generator weights per rank: DDP must broadcast them
        generator = nn.Conv2d(3, 3, 3, padding=1)
    loss = RQILoss(make_tiny_network(seed=rank), crop="center", seed=0)
    if placement == "inside":
        model = SRWithLoss(loss)
        model.generator.load_state_dict(generator.state_dict())
        wrapped = nn.parallel.DistributedDataParallel(model)
        step = lambda lq, gt: wrapped(lq, gt)  # noqa: E731
    else:
        wrapped = nn.parallel.DistributedDataParallel(generator)
        step = lambda lq, gt: loss(wrapped(lq).sigmoid(), gt)  # noqa: E731
    g = torch.Generator().manual_seed(rank)
    lq, gt = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    step(lq, gt).backward()
    judge = loss.network
    result = {
        "synced_names": [name for name, _ in wrapped.named_parameters()]
        + [name for name, _ in wrapped.named_buffers()],
        "generator_weight": wrapped.module.generator.weight.flatten()[:4].tolist()
        if placement == "inside"
        else wrapped.module.weight.flatten()[:4].tolist(),
        "judge_weight": next(judge.parameters()).flatten()[:4].tolist(),
        "judge_grads": [p.grad is not None for p in judge.parameters()],
        "state_dict_keys": list(wrapped.module.state_dict()),
    }
    return result


def worker(rank: int, world: int, placement: str, port: int, out_dir: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    result = measure(rank, placement)
    gc.collect()  # the DDP wrapper and its reducer are released before the group they use
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(result, handle)
    torch.distributed.barrier()  # rank 0 hosts the store: no rank leaves while the other still talks to it
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out_dir = tempfile.mkdtemp()
    torch.multiprocessing.spawn(worker, args=(2, sys.argv[1], port, out_dir), nprocs=2)
    print(json.dumps({"ranks": [json.load(open(os.path.join(out_dir, f"rank{r}.json"))) for r in range(2)]}))
