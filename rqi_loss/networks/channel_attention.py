"""MANIQA's channel attention: attention between the C channel rows of (N, C, L) features, with L-dim
projections (L = tokens), and the kernels that compute it.

The attention product is returned transposed, (N, L, C) contiguous: MANIQA reads that memory back as
(N, C, L) (the reference's ``out.transpose(1, 2).reshape(N, C, L)``), which is then a view, not a copy.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

_HALF = (torch.float16, torch.bfloat16)


def channel_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, store_probabilities: bool = False
) -> torch.Tensor:
    """(softmax(q k^T / sqrt(L)) v)^T for (N, C, L) q, k, v (a C x C attention matrix per sample), returned
    as (N, L, C) contiguous.

    - fp32/fp64: explicit matmuls; the backward recomputes the probabilities from q and k
      (:class:`RecomputedProbabilityAttention`, the default: no C x C matrix kept between forward and backward)
      or, with ``store_probabilities``, keeps them (:class:`StoredProbabilityAttention`: one C x C matmul fewer
      in the backward for 4 * C^2 bytes per sample). Both give the same values and gradients, bit for bit.
    - fp16/bf16 (autocast) on CUDA: :class:`HalfChannelAttention` (fp32 logits and softmax, every matmul in
      half precision on tensor cores).
    - fp16/bf16 on the CPU: the fp32 kernel on upcast inputs (faster there than bf16 matmuls;
      bench/results/cpu/channel_attention_bf16.json), the result cast back.
    """
    full = StoredProbabilityAttention if store_probabilities else RecomputedProbabilityAttention
    if q.dtype not in _HALF:
        return full.apply(q, k, v)
    if q.is_cuda:
        return HalfChannelAttention.apply(q, k, v)
    with torch.autocast(q.device.type, enabled=False):
        return full.apply(q.float(), k.float(), v.float()).to(q.dtype)


def _probabilities(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(L)), (N, C, C), scaled after the product as MANIQA does."""
    return torch.softmax(torch.bmm(q, k.transpose(1, 2)).mul_(q.shape[-1] ** -0.5), dim=-1)


def _attention_backward(ctx, probabilities, q, k, v, out_transposed, grad_out_transposed):
    """(grad q, grad k, grad v) of the transposed channel attention: four C x C-sized matmuls; the softmax
    backward takes its row sums from dO and O, (N, C, L), rather than from dP and P, (N, C, C)."""
    needs_q, needs_k, needs_v = ctx.needs_input_grad
    scale = q.shape[-1] ** -0.5
    grad_out = grad_out_transposed.transpose(1, 2)  # dO (N, C, L), a view
    grad_v = torch.bmm(probabilities.transpose(1, 2), grad_out) if needs_v else None
    grad_q = grad_k = None
    if needs_q or needs_k:
        row_sums = (grad_out_transposed * out_transposed).sum(dim=1).unsqueeze(-1)  # rowsum(dP * P), (N, C, 1)
        grad_logits = torch.bmm(grad_out, v.transpose(1, 2)).sub_(row_sums).mul_(probabilities)
        if needs_q:
            grad_q = torch.bmm(grad_logits, k).mul_(scale)
        if needs_k:
            grad_k = torch.bmm(grad_logits.transpose(1, 2), q).mul_(scale)
    return grad_q, grad_k, grad_v


class RecomputedProbabilityAttention(torch.autograd.Function):
    """Channel attention in the inputs' precision (fp32/fp64), output transposed as :func:`channel_attention`'s,
    keeping only q, k, v and the output for the backward, which recomputes P = softmax(q k^T / sqrt(L)) with the
    forward's own operations (so values and gradients equal :class:`StoredProbabilityAttention`'s bit for bit):
    five C x C-sized matmuls in the backward instead of four, no (N, C, C) matrix held between the passes."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out_transposed = torch.bmm(v.transpose(1, 2), _probabilities(q, k).transpose(1, 2))  # (N, L, C)
        ctx.save_for_backward(q, k, v, out_transposed)
        return out_transposed

    @staticmethod
    def backward(ctx, grad_out_transposed: torch.Tensor):
        q, k, v, out_transposed = ctx.saved_tensors
        return _attention_backward(ctx, _probabilities(q, k), q, k, v, out_transposed, grad_out_transposed)


class StoredProbabilityAttention(torch.autograd.Function):
    """Channel attention in the inputs' precision (fp32/fp64), output transposed as :func:`channel_attention`'s.

    The forward keeps P = softmax(q k^T / sqrt(L)), (N, C, C), for the backward, which then needs four
    C x C-sized matmuls instead of the five of :class:`RecomputedProbabilityAttention`: six for forward and
    backward instead of seven, for 4 * C^2 bytes per sample in fp32 (38 MB at MANIQA's C = 3072, per block).
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        probabilities = _probabilities(q, k)
        out_transposed = torch.bmm(v.transpose(1, 2), probabilities.transpose(1, 2))  # (N, L, C) = (P v)^T
        ctx.save_for_backward(q, k, v, probabilities, out_transposed)
        return out_transposed

    @staticmethod
    def backward(ctx, grad_out_transposed: torch.Tensor):
        q, k, v, probabilities, out_transposed = ctx.saved_tensors
        return _attention_backward(ctx, probabilities, q, k, v, out_transposed, grad_out_transposed)


def _matmul_fp32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b of half-precision batches with an fp32 result: cuBLAS' fp32 output where torch offers it (the
    products are accumulated in fp32 either way), else the operands upcast."""
    if a.is_cuda and _cuda_bmm_has_out_dtype():
        return torch.bmm(a, b, out_dtype=torch.float32)
    return torch.bmm(a.float(), b.float())


@functools.cache
def _cuda_bmm_has_out_dtype() -> bool:
    try:
        x = torch.zeros(1, 8, 8, device="cuda", dtype=torch.bfloat16)
        return torch.bmm(x, x, out_dtype=torch.float32).dtype == torch.float32
    except (TypeError, RuntimeError):
        return False


class HalfChannelAttention(torch.autograd.Function):
    """Channel attention for fp16/bf16 q, k, v (N, C, L), output transposed as :func:`channel_attention`'s:
    (N, L, C) = (P v)^T = v^T P^T, written directly by the matmul (cuBLAS takes transposed operands as they are).
    fp32 logits S = q k^T / sqrt(L) (no overflow, no rounding of the logits), fp32 softmax P, P rounded to the
    input dtype for the product with v (as flash attention does). The backward is written out (dP = dO v^T and
    dS = P (dP - rowsum(dP P)) in fp32, the products with q, k, v in half precision) so that no C x C matrix is
    stored in half precision and no fp32 matmul runs."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with torch.autocast(q.device.type, enabled=False):
            scale = q.shape[-1] ** -0.5
            probabilities = torch.softmax(_matmul_fp32(q, k.transpose(1, 2)) * scale, dim=-1)
            out_transposed = torch.bmm(v.transpose(1, 2), probabilities.to(v.dtype).transpose(1, 2))
        ctx.save_for_backward(q, k, v, probabilities)
        return out_transposed

    @staticmethod
    def backward(ctx, grad_out_transposed: torch.Tensor):
        q, k, v, probabilities = ctx.saved_tensors
        with torch.autocast(q.device.type, enabled=False):
            grad_out = grad_out_transposed.to(v.dtype).transpose(1, 2)  # dO (N, C, L), a view
            scale = q.shape[-1] ** -0.5
            grad_v = torch.bmm(probabilities.to(v.dtype).transpose(1, 2), grad_out)
            grad_p = _matmul_fp32(grad_out, v.transpose(1, 2))
            grad_logits = probabilities * (grad_p - (grad_p * probabilities).sum(dim=-1, keepdim=True))
            grad_logits = (grad_logits * scale).to(q.dtype)
            grad_q = torch.bmm(grad_logits, k)
            grad_k = torch.bmm(grad_logits.transpose(1, 2), q)
        return grad_q, grad_k, grad_v


class ChannelAttention(nn.Module):
    """MANIQA's transposed attention block on (N, C, L): x + (attention between channels)^T read as (N, C, L).

    The output keeps the reference layout step (the product transposed and read back as (N, C, L)) so trained
    weights give the published scores; :func:`channel_attention` returns the transposed product, so that step is
    a view here.

    With frozen query and key projections outside autocast (a judge inside a loss or metric) the key projection
    is folded into the query's: q k^T = (x Wq^T + bq)(x Wk^T + bk)^T equals (x (Wk^T Wq)^T + Wk^T bq) x^T plus
    terms constant along each row of the logits, which the softmax removes. One L x L projection instead of
    two, forward and backward; the probabilities agree to fp32 rounding.
    """

    def __init__(self, length: int, dropout: float) -> None:
        super().__init__()
        self.store_probabilities = False  # see channel_attention; set for a whole network by MANIQARQI
        self.c_q = nn.Linear(length, length)
        self.c_k = nn.Linear(length, length)
        self.c_v = nn.Linear(length, length)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, length = x.shape
        store = self.store_probabilities
        if self._folds_key_projection(x):
            out = channel_attention(self._key_folded_query(x), x, self.c_v(x), store_probabilities=store)
        else:  # (N, L, C) contiguous
            out = channel_attention(self.c_q(x), self.c_k(x), self.c_v(x), store_probabilities=store)
        out = out.view(n, channels, length)
        return self.proj_drop(out) + x

    def _folds_key_projection(self, x: torch.Tensor) -> bool:
        frozen = not any(p.requires_grad for p in (*self.c_q.parameters(), *self.c_k.parameters()))
        return frozen and x.dtype not in _HALF and not torch.is_autocast_enabled(x.device.type)

    def _key_folded_query(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, L) -> x (Wk^T Wq)^T + Wk^T bq, (N, C, L): the query against the raw rows of x as keys."""
        key_weight = self.c_k.weight
        return F.linear(x, key_weight.t() @ self.c_q.weight, key_weight.t() @ self.c_q.bias)
