"""The sigmoid loss's pairwise term over in-batch pairs, direct or tiled.

SigLIP scores every (image, text) pair independently: ``softplus(-l)`` for a matching pair and
``softplus(l)`` for a non-matching one, with ``l = scale · a_i·b_j + bias``. The positive pair
(column ``i + offset``) is an O(N·d) term added outside; this module sums every *other* pair
(i, j ≠ i + offset):

    softplus(-l_ij)   if i and j share a group (given ``group_ids``: multi-positive)
    softplus(l_ij)    otherwise (an in-batch negative)

* :func:`pair_sum_direct` materialises the (n × K) logits and lets autograd differentiate.
* :func:`pair_sum_tiled` walks ``tile × tile`` blocks. The gradient of a sigmoid term is local
  (σ(l) needs no normaliser), so when gradients are needed the forward accumulates
  ``da``, ``db``, ``d scale``, ``d bias`` on the same tile (two more GEMMs) and the backward only
  multiplies them by the incoming scalar: 3 GEMMs per tile in all — the FLOP floor of the
  direct formula — and O((n + K)·d + tile²) memory.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .tiled_softmax import _block, exclusion_mask


def pair_sum_direct(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
    *,
    offset: int = 0,
    groups_a: torch.Tensor | None = None,
    groups_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of the sigmoid loss over all pairs except the positive ones, from the full matrix."""
    n, k = a.shape[0], b.shape[0]
    logits = scale * (a @ b.T) + bias  # (n, K)
    diag = exclusion_mask(n, k, offset=offset, groups_a=None, groups_b=None, device=a.device)
    terms = F.softplus(logits)  # (n, K)  label -1
    if groups_a is not None and groups_b is not None:
        same = groups_a[:, None] == groups_b[None, :]  # (n, K)  label +1
        terms = torch.where(same, F.softplus(-logits), terms)
    return terms.masked_fill(diag, 0.0).sum()


def pair_sum_tiled(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
    *,
    offset: int = 0,
    groups_a: torch.Tensor | None = None,
    groups_b: torch.Tensor | None = None,
    tile_size: int = 2048,
) -> torch.Tensor:
    """Same value and gradients as :func:`pair_sum_direct`, in O((n + K)·d + tile²) memory."""
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1, got {tile_size}")
    return _TiledPairSum.apply(
        a, b, scale, bias, offset, groups_a, groups_b, int(tile_size)
    )


def _tile_value(logit: torch.Tensor, sig: torch.Tensor | None, out: torch.Tensor) -> torch.Tensor:
    """``softplus(logit)`` of a tile; from ``sig = σ(logit)`` as ``-log1p(-σ)`` when every logit
    is <= 0 (exact there, and half the cost of softplus), else softplus itself."""
    if sig is not None and float(logit.max()) <= 0.0:
        return torch.log1p(torch.neg(sig, out=out), out=out).neg_()
    return torch.nn.functional.softplus(logit)


class _TiledPairSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, scale, bias, offset, groups_a, groups_b, tile):  # type: ignore[override]
        n, k = a.shape[0], b.shape[0]
        grads = any(ctx.needs_input_grad[:4])
        opts = {"dtype": a.dtype, "device": a.device}
        a_s = a * scale  # (n, d)
        total = 0.0  # per-tile sums accumulated in float64
        g_bias = 0.0
        da = torch.zeros_like(a) if grads else None  # (n, d)  Σ_j G_ij b_j
        db = torch.zeros_like(b) if grads else None  # (K, d)  Σ_i G_ij scale·a_i
        lbuf = torch.empty(min(tile, n) * min(tile, k), **opts)
        pbuf, vbuf = torch.empty_like(lbuf), torch.empty_like(lbuf)
        grouped = groups_a is not None and groups_b is not None
        for i0 in range(0, n, tile):
            i1 = min(i0 + tile, n)
            for j0 in range(0, k, tile):
                j1 = min(j0 + tile, k)
                r, c = i1 - i0, j1 - j0
                logit = torch.addmm(bias, a_s[i0:i1], b[j0:j1].T, out=_block(lbuf, r, c))
                sig = torch.sigmoid(logit, out=_block(pbuf, r, c))  # dsoftplus(l)/dl
                diag_k = i0 + offset - j0  # tile column of row 0's positive
                has_diag = -r < diag_k < c
                if grouped:
                    same = groups_a[i0:i1, None] == groups_b[None, j0:j1]  # (r, c)
                    # label +1 for same-group pairs: softplus(-l) = softplus(l) - l
                    val = torch.where(same, F.softplus(logit) - logit, F.softplus(logit))
                else:
                    val = _tile_value(logit, sig, _block(vbuf, r, c))
                tile_sum = float(val.sum())
                if has_diag:
                    tile_sum -= float(val.diagonal(diag_k).sum())
                total += tile_sum
                if not grads:
                    continue
                g = torch.where(same, sig - 1, sig) if grouped else sig
                if has_diag:
                    g.diagonal(diag_k).zero_()
                g_bias += float(g.sum())
                da[i0:i1].addmm_(g, b[j0:j1])
                db[j0:j1].addmm_(g.T, a_s[i0:i1])
        if grads:
            g_scale = (a * da).sum()
            da.mul_(scale)
            ctx.save_for_backward(da, db, g_scale, torch.tensor(g_bias, **opts))
        return torch.tensor(total, **opts)

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out):  # type: ignore[override]
        da, db, g_scale, g_bias = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (
            da * g_out if need[0] else None,
            db * g_out if need[1] else None,
            g_scale * g_out if need[2] else None,
            g_bias * g_out if need[3] else None,
            None,
            None,
            None,
            None,
        )
