"""Runs one Hub scenario in a fresh process (HF_* variables are read when huggingface_hub is imported).

Usage: python hub_client.py '<json>' with keys: register (optional zoo record fields), action ("create",
"loss", "from_pretrained", "push"), name, kwargs, ddp (world size, optional), build_ranks and prefetch (with
ddp); for "push": seed (of the tiny network pushed), via ("network" or "loss"), kwargs of push_to_hub.
Prints one JSON line: {"ok", "score"}, {"ok", "commit"} (push) or {"ok": false, "type", "message"}.
"""

from __future__ import annotations

import json
import os
import sys

import torch


def fixed_pair(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2024)
    return torch.rand(1, 3, size, size, generator=g), torch.rand(1, 3, size, size, generator=g)


def run(spec: dict) -> dict:
    import rqi_loss
    from rqi_loss.zoo import PretrainedModel, register

    if "register" in spec:
        register(PretrainedModel(**spec["register"]))
    if spec["action"] == "push":
        return push(spec)
    try:
        if spec["action"] == "loss":
            module = rqi_loss.RQILoss(spec["name"], crop="center", **spec.get("kwargs", {}))
        elif spec["action"] == "from_pretrained":
            module = rqi_loss.RQILoss.from_pretrained(spec["name"], crop="center", **spec.get("kwargs", {}))
        else:
            module = rqi_loss.RQILoss(rqi_loss.create_network(spec["name"], **spec.get("kwargs", {})), crop="center")
    except Exception as exc:  # reported to the test, which checks type and message
        return {"ok": False, "type": type(exc).__name__, "message": str(exc)}
    sr, gt = fixed_pair(module.network.input_size)
    with torch.no_grad():
        return {"ok": True, "score": -module(sr, gt).item()}


def push(spec: dict) -> dict:
    import rqi_loss
    from rqi_loss.weights._model_card import CardMetadata, HeldOutResult

    from tiny_models import make_tiny_network  # the script's own folder, tests/helpers/, is on sys.path

    kwargs = dict(spec.get("kwargs", {}))
    if "card_metadata" in kwargs:
        card = kwargs["card_metadata"]
        results = [HeldOutResult(**r) for r in card.pop("results", [])]
        kwargs["card_metadata"] = CardMetadata(**card, results=results)
    network = make_tiny_network(seed=spec["seed"])
    target = rqi_loss.RQILoss(network) if spec.get("via") == "loss" else network
    try:
        return {"ok": True, "commit": target.push_to_hub(spec["name"], **kwargs)}
    except Exception as exc:
        return {"ok": False, "type": type(exc).__name__, "message": str(exc)}


def ddp_worker(rank: int, world: int, spec: dict, port: int, out_dir: str) -> None:
    """One rank. ``spec["build_ranks"]`` (default: all) build the network, as a rank-0-only validation block
    does; ``spec["prefetch"]`` first runs the collective rqi_loss.prefetch on every rank. A final barrier with a
    60 s timeout ends the run, so a rank stuck in a collective fails the test instead of hanging it."""
    import datetime

    import rqi_loss

    os.environ.update(LOCAL_RANK=str(rank), RANK=str(rank), WORLD_SIZE=str(world))
    torch.distributed.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )
    if spec.get("prefetch"):
        from rqi_loss.zoo import PretrainedModel, register

        register(PretrainedModel(**spec.pop("register")))
        rqi_loss.prefetch(spec["name"])
    result = run(spec) if rank in spec.get("build_ranks", range(world)) else {"ok": True, "skipped": True}
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    if spec.get("ddp"):
        import socket
        import tempfile

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out_dir = tempfile.mkdtemp()
        torch.multiprocessing.spawn(ddp_worker, args=(spec["ddp"], spec, port, out_dir), nprocs=spec["ddp"])
        results = [json.load(open(os.path.join(out_dir, f"rank{r}.json"))) for r in range(spec["ddp"])]
        print(json.dumps({"ranks": results}))
    else:
        print(json.dumps(run(spec)))
