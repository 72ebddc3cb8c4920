"""Two gloo ranks resume a run whose --output each sees as its own folder, as node-local disks of two machines
would give them: rank 0's folder holds the interrupted run's state, rank 1's is empty. Each rank reports the
error it got. Prints one JSON line {"errors": [...]}.

Usage: python ddp_output_worker.py TABLE_CSV WORK_DIR
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import torch

from rqi_loss.training import parse_config, train
from rqi_loss.training.resume import RunState

from tiny_training import tiny_config_values  # the script's own folder, tests/helpers/, is on sys.path


def worker(rank: int, world: int, port: int, table: str, work: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    config = parse_config(tiny_config_values(table, "node-local", threads=1, device="cpu"))
    try:
        train(config, Path(work) / f"node{rank}", progress=False, resume=True)
        message = None
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
    (Path(work) / f"rank{rank}.json").write_text(json.dumps(message))


def main() -> None:
    table, work = sys.argv[1:3]
    config = parse_config(tiny_config_values(table, "node-local", threads=1, device="cpu"))
    RunState(Path(work) / "node0", config)._write()  # an interrupted run's state, on "node 0" only
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(worker, args=(2, port, table, work), nprocs=2, join=True)
    print(json.dumps({"errors": [json.loads((Path(work) / f"rank{k}.json").read_text()) for k in range(2)]}))


if __name__ == "__main__":
    main()
