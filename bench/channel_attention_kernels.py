"""6. The channel-attention step (a C x C attention per sample, C = 3072 channels, L = 784 tokens) in half
precision: speed and accuracy of the ways to keep its logits and softmax in fp32.

    python bench/channel_attention_kernels.py [--device cuda] [--batch 16] [--dtype bf16] [--json out.json]

Candidates, forward + backward to q, k, v: "library" (what rqi_loss runs: rqi_loss.networks.maniqa.
channel_attention, whose output is the transposed product: compared here through a transposed view of it,
as MANIQA reads it), "sdpa_efficient" (the memory-efficient SDPA kernel: fp32 accumulation and softmax inside),
"fp32_explicit" (q k^T, softmax and the product with v in fp32), "half_logits" (q k^T rounded to half, then
softmax in fp32), "sdpa_default" (SDPA as torch picks it for 3-D inputs). Error: max |difference| of the
output and of the q gradient against an fp64 computation, relative to their max |value|.
"""

from __future__ import annotations

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from rqi_loss.networks.channel_attention import channel_attention

from common import base_parser, hardware, report, time_side_by_side


def sdpa_efficient(q, k, v):
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        return torch.nn.functional.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(
            1
        )


def fp32_explicit(q, k, v):
    logits = torch.matmul(q.float(), k.float().transpose(1, 2)) * q.shape[-1] ** -0.5
    return torch.matmul(torch.softmax(logits, dim=-1), v.float()).to(q.dtype)


def half_logits(q, k, v):
    logits = torch.matmul(q * q.shape[-1] ** -0.5, k.transpose(1, 2))
    return torch.matmul(torch.softmax(logits.float(), dim=-1).to(q.dtype), v)


def sdpa_default(q, k, v):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v)


def library(q, k, v):
    return channel_attention(q, k, v).transpose(1, 2)


CANDIDATES = {
    "library": library,
    "sdpa_efficient": sdpa_efficient,
    "fp32_explicit": fp32_explicit,
    "half_logits": half_logits,
    "sdpa_default": sdpa_default,
}


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--channels", type=int, default=3072)
    parser.add_argument("--tokens", type=int, default=784)
    parser.add_argument("--dtype", choices=["bf16", "fp16"], default="bf16")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    g = torch.Generator().manual_seed(0)
    shape = (args.batch, args.channels, args.tokens)
    # Features of the trained network are large (|x| up to tens); scale so that logits reach about +-30.
    q64, k64, v64 = (torch.randn(shape, generator=g, dtype=torch.float64) * 0.4 for _ in range(3))
    grad_out = torch.randn(shape, generator=g, dtype=torch.float64).to(device)
    q64, k64, v64 = (t.to(device).requires_grad_(True) for t in (q64, k64, v64))
    exact = fp32_explicit(q64, k64, v64)
    exact.backward(grad_out)
    exact_out, exact_grad = exact.detach(), q64.grad.detach()
    results = {}
    for name, fn in CANDIDATES.items():
        q, k, v = (t.detach().to(dtype).requires_grad_(True) for t in (q64, k64, v64))

        def step():
            q.grad = k.grad = v.grad = None
            fn(q, k, v).backward(grad_out.to(dtype))

        try:
            out = fn(q, k, v)
            out.backward(grad_out.to(dtype))
            error_out = ((out.double() - exact_out).abs().max() / exact_out.abs().max()).item()
            error_grad = ((q.grad.double() - exact_grad).abs().max() / exact_grad.abs().max()).item()
            seconds = time_side_by_side({name: step}, device, args.repeats, warmup=2)[name]
            results[name] = {"seconds": seconds, "relative_error_out": error_out, "relative_error_grad_q": error_grad}
        except RuntimeError as error:  # a kernel that does not support this shape/dtype on this device
            results[name] = {"error": str(error).splitlines()[0][:200]}
        print(name, results[name], flush=True)
    report(
        {
            "benchmark": "channel attention in half precision",
            "hardware": hardware(device),
            "shape": shape,
            "dtype": args.dtype,
            "results": results,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
