"""Score SR images against their GT under torchrun: each rank scores its shard, RQIMetric gathers the scores.

    python examples/evaluate_ranks.py                             # one process
    torchrun --nproc-per-node 2 examples/evaluate_ranks.py        # two (gloo on the CPU, nccl on GPUs)

It scores the "blur" folder against "gt" of the folders that examples/rank_methods.py writes (made here when
missing) with the embedded network, and prints one JSON line on rank 0: the protocol, every image's score and
the mean, the same whatever the number of processes. The protocol is "single-scale" (one grid of crops at full
size), so its scores differ from rqi-score's table of the same folders, which uses the paper's multi-scale
"official" protocol (rank_methods.py prints that one).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from rank_methods import make_folders  # this script's folder is on sys.path
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from rqi_loss import RQIMetric
from rqi_loss.metric import read_image


class FolderPairs(Dataset):
    """(sr, gt, index) of the files of ``sr_folder`` and the same names in ``gt_folder``."""

    def __init__(self, sr_folder: Path, gt_folder: Path) -> None:
        self.names = sorted(p.name for p in sr_folder.glob("*.png"))
        self.sr_folder, self.gt_folder = sr_folder, gt_folder

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        name = self.names[index]
        return read_image(self.sr_folder / name), read_image(self.gt_folder / name), index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/rank_example"))
    args = parser.parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if distributed else 0
    if rank == 0 and not (args.out / "gt").is_dir():
        make_folders(args.out)
    if distributed:
        dist.barrier()  # the folders exist before any rank reads them
    dataset = FolderPairs(args.out / "blur", args.out / "gt")
    sampler = DistributedSampler(dataset, shuffle=False) if distributed else None
    protocol = "single-scale"
    metric = RQIMetric("tiny-kadid-synth", protocol=protocol, device="cpu")
    for sr, gt, indices in DataLoader(dataset, batch_size=2, sampler=sampler):
        metric.update(sr, gt, indices=indices)
    indices, scores = metric.per_image()  # collective: every rank calls it
    mean = metric.compute()
    if rank == 0:
        per_image = {dataset.names[i]: round(s, 6) for i, s in zip(indices.tolist(), scores.tolist())}
        print(
            json.dumps(
                {
                    "processes": dist.get_world_size() if distributed else 1,
                    "protocol": protocol,
                    "mean": round(mean.item(), 6),
                    "scores": per_image,
                }
            )
        )
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
