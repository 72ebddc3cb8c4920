"""The loss step (forward + backward to sr) eager against ``compile=`` modes, timed side by side in interleaved
rounds after each compiled variant has compiled (its first calls are the warm-up), with the compile time.

    python bench/compile_step.py --repeats 10 --json bench/results/cpu/compile_step.json
    python bench/compile_step.py --model maniqa-pipal --random-weights --device cuda --batch 16 --amp bf16 \\
        --modes default,max-autotune,reduce-overhead
"""

from __future__ import annotations

import time

import torch

from rqi_loss import RQILoss, create_network

from common import base_parser, hardware, random_pair, report, synchronize, time_side_by_side


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-kadid-synth")
    parser.add_argument("--random-weights", action="store_true", help="no download: random weights")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--amp", default=None, help="bf16 | fp16 (default fp32)")
    parser.add_argument("--modes", default="default", help="compile modes, comma separated (inductor)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    network = create_network(args.model, pretrained=not args.random_weights).to(device)
    sr, gt = random_pair(args.batch, args.size, device)
    losses = {"eager": RQILoss(network, seed=0, amp=args.amp, check_inputs=False)}
    for mode in args.modes.split(","):
        losses[f"compile={mode}"] = RQILoss(network, seed=0, amp=args.amp, check_inputs=False, compile=mode)

    def step(loss):
        x = sr.clone().requires_grad_(True)
        loss(x, gt).backward()

    compile_seconds = {}
    for name, loss in losses.items():  # the first two calls compile (forward, backward) or warm up
        start = time.perf_counter()
        step(loss)
        step(loss)
        synchronize(device)
        compile_seconds[name] = time.perf_counter() - start
    fallbacks = [name for name, loss in losses.items() if getattr(loss.scorer, "eager", False)]
    times = time_side_by_side(
        {name: (lambda bound=loss: step(bound)) for name, loss in losses.items()}, device, args.repeats, warmup=1
    )
    result = {
        "hardware": hardware(device),
        "model": args.model,
        "batch": args.batch,
        "size": args.size,
        "amp": args.amp,
        "seconds": times,
        "first_two_steps_seconds": compile_seconds,
        "fell_back_to_eager": fallbacks,
        "ratio_to_eager": {name: t / times["eager"] for name, t in times.items()},
    }
    report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
