"""Two gloo processes score 5 images through a DistributedSampler (it pads the shards to 3 + 3 by repeating
an image) with RQIMetric.update(..., indices=...), then compute. Prints one JSON line {"ranks": [...]}.

Usage: python ddp_metric_worker.py [mixed]   (mixed: rank 1 passes no indices; each rank reports its error)
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile

import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from rqi_loss import RQIMetric

from tiny_models import make_tiny_network, metric_images  # the script's own folder, tests/helpers/, is on sys.path


class IndexedImages(TensorDataset):
    def __getitem__(self, index):
        return (*super().__getitem__(index), index)


def worker(rank: int, world: int, port: int, out_dir: str, mixed: bool) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    dataset = IndexedImages(*metric_images())
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
    metric = RQIMetric(make_tiny_network(), protocol="single-scale")
    shard = []
    for sr, gt, indices in DataLoader(dataset, batch_size=2, sampler=sampler):
        metric.update(sr, gt, indices=None if mixed and rank == 1 else indices)
        shard += indices.tolist()
    try:
        indices, scores = metric.per_image()
        mean = metric.compute()
        result = {"shard": shard, "indices": indices.tolist(), "scores": scores.tolist(), "mean": mean.item()}
    except ValueError as error:
        result = {"error": str(error)}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    torch.distributed.barrier()  # no rank tears gloo down while the other still talks to it
    torch.distributed.destroy_process_group()


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as out_dir:
        mixed = sys.argv[1:] == ["mixed"]
        torch.multiprocessing.spawn(worker, args=(2, port, out_dir, mixed), nprocs=2, join=True)
        ranks = [json.load(open(os.path.join(out_dir, f"rank{r}.json"))) for r in range(2)]
    print(json.dumps({"ranks": ranks}))


if __name__ == "__main__":
    main()
