"""This checkout's network forward and loss step beside those of another git revision, timed in one run.

    python bench/versus_revision.py --revision 59bdc68 --json bench/results/cpu/versus_revision.json
    python bench/versus_revision.py --revision 59bdc68 --model tiny-kadid-synth --batch 8 --size 256

The revision's package is taken with ``git archive`` into a temporary folder and imported under another name, so
both versions run in one process, in interleaved rounds (this, revision, this, ...). Both get the same weights
and inputs; the script also reports whether their scores and SR gradients are bit-identical. ``maniqa-pipal``
runs with seeded random weights (no download).
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import torch

import rqi_loss
from rqi_loss import RQILoss

from common import ROOT, base_parser, hardware, random_pair, report, time_side_by_side

REVISION_PACKAGE = "rqi_loss_at_revision"


def import_revision(revision: str, folder: Path) -> ModuleType:
    """The package ``rqi_loss`` as it is at ``revision``, extracted into ``folder``, as module
    ``rqi_loss_at_revision`` (its imports are relative, so it imports itself, not this checkout)."""
    archive = subprocess.run(["git", "archive", revision, "rqi_loss"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    package = folder / "rqi_loss"
    spec = importlib.util.spec_from_file_location(
        REVISION_PACKAGE, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[REVISION_PACKAGE] = module
    spec.loader.exec_module(module)
    return module


def network_pair(model: str, revision: ModuleType, device: torch.device):
    """(this checkout's network, the revision's network), with the same weights, frozen, in eval mode."""
    if model == "maniqa-pipal":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            ours = rqi_loss.create_network(model, pretrained=False)
        theirs = revision.create_network(model, pretrained=False)
        theirs.load_state_dict(ours.state_dict(), strict=True)
    else:
        ours, theirs = rqi_loss.create_network(model), revision.create_network(model)
    return ours.to(device), theirs.to(device)


def loss_step(loss: torch.nn.Module, sr: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss value, gradient with respect to sr) of one step."""
    sr = sr.detach().requires_grad_(True)
    value = loss(sr, gt)
    value.backward()
    return value.detach(), sr.grad


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--revision", required=True, help="git revision to compare with (commit, tag, branch)")
    parser.add_argument("--model", default="maniqa-pipal", help="zoo name; maniqa-pipal gets random weights")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as folder:
        revision = import_revision(args.revision, Path(folder))
        ours, theirs = network_pair(args.model, revision, device)
        losses = {"this": RQILoss(ours, crop="center", seed=0), "revision": revision.RQILoss(theirs, crop="center")}
        sr, gt = random_pair(args.batch, args.size, device)
        crop_sr, crop_gt = (x[..., : ours.input_size, : ours.input_size] for x in (sr, gt))
        nets = {"this": ours, "revision": theirs}
        with torch.inference_mode():
            forward = time_side_by_side(
                {name: (lambda net=net: net(crop_sr, crop_gt)) for name, net in nets.items()}, device, args.repeats
            )
            scores = {name: net(crop_sr, crop_gt) for name, net in nets.items()}
        step = time_side_by_side(
            {name: (lambda loss=loss: loss_step(loss, sr, gt)) for name, loss in losses.items()}, device, args.repeats
        )
        steps = {name: loss_step(loss, sr, gt) for name, loss in losses.items()}
    results = {
        "hardware": hardware(device),
        "revision": args.revision,
        "model": args.model,
        "batch": args.batch,
        "size": args.size,
        "forward_seconds": forward,
        "loss_step_seconds": step,
        "forward_ratio_this_over_revision": forward["this"] / forward["revision"],
        "loss_step_ratio_this_over_revision": step["this"] / step["revision"],
        "scores_bit_identical": torch.equal(scores["this"], scores["revision"]),
        "loss_bit_identical": torch.equal(steps["this"][0], steps["revision"][0]),
        "sr_gradient_bit_identical": torch.equal(steps["this"][1], steps["revision"][1]),
    }
    report(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
