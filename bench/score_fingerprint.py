"""Scores, loss values, gradients and maps of the embedded network and of a randomly initialised MANIQA-RQI on
fixed inputs, saved to one file: run it before and after a change that must not alter any number, then compare.

    python bench/score_fingerprint.py before.pt   # (change the code)
    python bench/score_fingerprint.py after.pt --compare before.pt
"""

import argparse

import torch

import rqi_loss


def fingerprint() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    sr, gt = torch.rand(2, 3, 256, 256, generator=generator), torch.rand(2, 3, 256, 256, generator=generator)
    found = {}
    for name, pretrained in (("tiny-kadid-synth", True), ("maniqa-pipal", False)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # the random MANIQA-RQI weights
            network = rqi_loss.create_network(name, pretrained=pretrained)
        found[f"{name}/score"] = rqi_loss.score(sr, gt, network)
        x = sr.clone().requires_grad_()
        value = rqi_loss.RQILoss(network, crop="grid")(x, gt)
        value.backward()
        found[f"{name}/loss"], found[f"{name}/grad"] = value.detach(), x.grad
        found[f"{name}/map"] = rqi_loss.rqi_map(sr, gt, network, stride=64).values
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="where to save this checkout's numbers (.pt)")
    parser.add_argument("--compare", help="a file saved before: print whether every number is bit-identical")
    args = parser.parse_args()
    found = fingerprint()
    torch.save(found, args.output)
    if args.compare:
        before = torch.load(args.compare)
        differing = [k for k in before if k not in found or not torch.equal(before[k], found[k])]
        print(f"{len(before)} tensors compared; bit-identical: {not differing}; differing: {differing}")


if __name__ == "__main__":
    main()
