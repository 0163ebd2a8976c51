"""The softmax losses' coupling term: log-sum-exp over in-batch negatives, direct or tiled.

Every softmax loss here (InfoNCE, CLIP) needs, for each row ``i`` of the logit matrix
``S = scale · a @ b.T`` (``a`` (n, d) rows, ``b`` (K, d) columns) and optionally for each column,
the log-sum-exp over the *in-batch negatives*: all entries except the positive (column
``i + offset``) and, given ``group_ids``, except the items sharing a group (false negatives).
The positive logit and any explicit hard negatives are O(N·d) terms combined outside with
ordinary autograd (``combine.py``), so this is the only O(N²) part of the loss.

Two implementations with the same signature:

* :func:`negatives_lse_direct` materialises ``S`` (n × K) and lets autograd do the rest; fastest
  for small batches, O(n·K) memory.
* :func:`negatives_lse_tiled` never holds more than one ``tile × tile`` block of ``S``: the forward
  keeps an online (max, Σexp) pair per row and per column (one GEMM per tile serves both
  directions); the backward recomputes each tile (one GEMM) and forms
  ``G = g_r·exp(S - lse_r) + g_c·exp(S - lse_c)`` to accumulate ``da += scale·G @ b`` and
  ``db += G.T @ (scale·a)`` (two GEMMs). Peak extra memory O((n + K)·d + tile²).
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

_NEG_INF = float("-inf")


def exclusion_mask(
    n: int,
    k: int,
    *,
    offset: int,
    groups_a: torch.Tensor | None,
    groups_b: torch.Tensor | None,
    device: torch.device,
) -> torch.Tensor:
    """Boolean (n, K) mask of entries that are not in-batch negatives (positive or same group)."""
    rows = torch.arange(n, device=device)[:, None]
    cols = torch.arange(k, device=device)[None, :]
    mask = cols == rows + offset  # (n, K)
    if groups_a is not None and groups_b is not None:
        mask = mask | (groups_a[:, None] == groups_b[None, :])
    return mask


def negatives_lse_direct(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    *,
    offset: int = 0,
    groups_a: torch.Tensor | None = None,
    groups_b: torch.Tensor | None = None,
    need_cols: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Row (and column) log-sum-exp over in-batch negatives from the full (n, K) matrix.

    Returns ``(row_lse (n,), col_lse (K,) or None)``; a row with no negative gets ``-inf``.
    """
    logits = scale * (a @ b.T)  # (n, K)
    mask = exclusion_mask(
        a.shape[0], b.shape[0], offset=offset, groups_a=groups_a, groups_b=groups_b, device=a.device
    )
    logits = logits.masked_fill(mask, _NEG_INF)
    return _masked_lse(logits, mask, 1), (_masked_lse(logits, mask, 0) if need_cols else None)


def _masked_lse(logits: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    empty = mask.all(dim=dim)  # rows (or columns) without any negative
    if bool(empty.any()):
        fill = empty[:, None] if dim == 1 else empty[None, :]
        lse = torch.logsumexp(logits.masked_fill(fill, 0.0), dim=dim)
        return lse.masked_fill(empty, _NEG_INF)  # -inf, and no NaN in the backward
    return torch.logsumexp(logits, dim=dim)


def negatives_lse_tiled(
    a: torch.Tensor,
    b: torch.Tensor,
    scale: torch.Tensor,
    *,
    offset: int = 0,
    groups_a: torch.Tensor | None = None,
    groups_b: torch.Tensor | None = None,
    need_cols: bool = True,
    tile_size: int = 2048,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Same result as :func:`negatives_lse_direct`, in O((n + K)·d + tile²) memory."""
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1, got {tile_size}")
    row, col = _TiledNegativesLSE.apply(
        a, b, scale, offset, groups_a, groups_b, need_cols, int(tile_size)
    )
    return row, (col if need_cols else None)


def _mask_tile(
    s: torch.Tensor,
    i0: int,
    j0: int,
    offset: int,
    groups_a: torch.Tensor | None,
    groups_b: torch.Tensor | None,
) -> None:
    """Set the non-negative entries of the tile ``s`` = S[i0:, j0:] to -inf, in place."""
    r, c = s.shape
    k = i0 + offset - j0  # tile column of row 0's positive
    if -r < k < c:
        s.diagonal(k).fill_(_NEG_INF)
    if groups_a is not None and groups_b is not None:
        same = groups_a[i0 : i0 + r, None] == groups_b[None, j0 : j0 + c]  # (r, c)
        s.masked_fill_(same, _NEG_INF)


# A tile's column statistics are read off the row-shifted exponentials (one GEMV instead of a
# second exp pass) when that is exact to fp32 precision: every term that underflows is below
# e^-87 of the tile's largest logit, negligible once the column keeps >= e^-60 of it (else the
# column is redone exactly). The backward uses the same bound (see _backward_tile).
_SAFE_LOG_RANGE = 60.0
_SAFE_MASS = math.exp(-_SAFE_LOG_RANGE)


def _finite_or_zero(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


def _merge_lse(m: torch.Tensor, acc: torch.Tensor, tile_lse: torch.Tensor) -> None:
    """Fold per-tile log-sum-exps into the running (max ``m``, Σexp(· - m) ``acc``), in place."""
    new_m = torch.maximum(m, tile_lse)
    shift = _finite_or_zero(new_m)
    acc.mul_(torch.exp(m - shift)).add_(torch.exp(tile_lse - shift))
    m.copy_(new_m)


def _exact_lse(s: torch.Tensor, dim: int) -> torch.Tensor:
    """Log-sum-exp of ``s`` along ``dim`` (-inf for an all -inf slice), the slow safe way."""
    m = _finite_or_zero(s.amax(dim=dim))
    sh = m[:, None] if dim == 1 else m[None, :]
    return m + torch.exp(s - sh).sum(dim=dim).log()


def _forward_tile(s, work, row_m, row_acc, col_m, col_acc) -> None:
    """Fold the masked logit tile ``s`` (r, c) into the row (and column) statistics."""
    mr = s.amax(dim=1)  # (r,) exact row maxima of the tile
    mr0 = _finite_or_zero(mr)
    e = torch.sub(s, mr0[:, None], out=work).exp_()  # (r, c) exp(S_ij - max_i)
    _merge_lse(row_m, row_acc, mr0 + e.sum(dim=1).log())
    if col_m is None:
        return
    k = _finite_or_zero(mr.max())  # the tile's largest logit
    w = torch.exp(mr0 - k).masked_fill_(torch.isneginf(mr), 0.0)  # (r,)
    z = torch.mv(e.T, w)  # (c,) Σ_i exp(S_ij - k)
    col_lse = k + z.log()
    bad = z < _SAFE_MASS
    if bool(bad.any()):  # columns far below the tile's maximum: recompute them exactly
        idx = bad.nonzero()[:, 0]
        col_lse[idx] = _exact_lse(s[:, idx], 0)
    _merge_lse(col_m, col_acc, col_lse)


def _backward_tile(s, out, work, r_lse, g_r, c_lse, g_c) -> torch.Tensor:
    """``G = g_r·exp(S - lse_r) + g_c·exp(S - lse_c)`` for the masked tile ``s``, into ``out``.

    The column term is ``P_ij · exp(lse_r_i - lse_c_j)`` with ``P = exp(S - lse_r)``, written as
    the rank-1 factor ``u_i v_j`` about the tile's largest row lse ``K``; exact to fp32 precision
    for columns with ``lse_c >= K - 60`` (a dropped term is below e^-27), the rest are redone.
    """
    p = torch.sub(s, r_lse[:, None], out=out).exp_()  # (r, c) row softmax probabilities
    if c_lse is None:
        return p.mul_(g_r[:, None])
    finite_r = torch.isfinite(r_lse)
    k = _finite_or_zero(torch.where(finite_r, r_lse, torch.full_like(r_lse, -torch.inf)).max())
    u = torch.exp(r_lse - k).masked_fill_(~finite_r, 0.0)  # (r,)
    v = g_c * torch.exp(k - c_lse)  # (c,)  0 for empty columns (lse = +inf)
    bad = c_lse < k - _SAFE_LOG_RANGE
    v = v.masked_fill(bad, 0.0)
    w = torch.addr(g_r[:, None], u, v, out=work)  # (r, c) g_r_i + u_i v_j
    p.mul_(w)
    if bool(bad.any()):
        idx = bad.nonzero()[:, 0]
        p[:, idx] += g_c[idx] * torch.exp(s[:, idx] - c_lse[idx])
    return p


def _block(buf: torch.Tensor, r: int, c: int) -> torch.Tensor:
    return buf[: r * c].view(r, c)


class _TiledNegativesLSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, scale, offset, groups_a, groups_b, need_cols, tile):  # type: ignore[override]
        n, k = a.shape[0], b.shape[0]
        a_s = a * scale  # (n, d)
        opts = {"dtype": a.dtype, "device": a.device}
        row_m = torch.full((n,), _NEG_INF, **opts)
        row_acc = torch.zeros(n, **opts)
        col_m = torch.full((k,), _NEG_INF, **opts) if need_cols else None
        col_acc = torch.zeros(k, **opts) if need_cols else None
        sbuf = torch.empty(min(tile, n) * min(tile, k), **opts)
        wbuf = torch.empty_like(sbuf)
        for i0 in range(0, n, tile):
            i1 = min(i0 + tile, n)
            for j0 in range(0, k, tile):
                j1 = min(j0 + tile, k)
                s = torch.mm(a_s[i0:i1], b[j0:j1].T, out=_block(sbuf, i1 - i0, j1 - j0))
                _mask_tile(s, i0, j0, offset, groups_a, groups_b)
                _forward_tile(
                    s, _block(wbuf, i1 - i0, j1 - j0), row_m[i0:i1], row_acc[i0:i1],
                    col_m[j0:j1] if need_cols else None, col_acc[j0:j1] if need_cols else None,
                )
        row_lse = row_m + row_acc.log()  # (n,) -inf where a row has no negative
        col_lse = col_m + col_acc.log() if need_cols else torch.empty(0, **opts)
        ctx.save_for_backward(a, b, scale, row_lse, col_lse, groups_a, groups_b)
        ctx.offset, ctx.need_cols, ctx.tile = offset, need_cols, tile
        if not need_cols:
            ctx.mark_non_differentiable(col_lse)
        return row_lse, col_lse

    @staticmethod
    @once_differentiable
    def backward(ctx, g_row, g_col):  # type: ignore[override]
        a, b, scale, row_lse, col_lse, groups_a, groups_b = ctx.saved_tensors
        offset, need_cols, tile = ctx.offset, ctx.need_cols, ctx.tile
        n, k = a.shape[0], b.shape[0]
        use_cols = need_cols and g_col is not None
        if g_row is None and not use_cols:
            return (None,) * 8
        inf = float("inf")
        # Empty rows/columns (lse = -inf) contribute nothing: exp(S - (+inf)) = 0.
        r_lse = row_lse.masked_fill(torch.isneginf(row_lse), inf)
        g_r = g_row if g_row is not None else torch.zeros_like(row_lse)
        c_lse = col_lse.masked_fill(torch.isneginf(col_lse), inf) if use_cols else None
        a_s = a * scale  # (n, d)
        da = torch.zeros_like(a)  # (n, d)  Σ_j G_ij b_j
        db = torch.zeros_like(b)  # (K, d)  Σ_i G_ij scale·a_i
        opts = {"dtype": a.dtype, "device": a.device}
        sbuf = torch.empty(min(tile, n) * min(tile, k), **opts)
        gbuf = torch.empty_like(sbuf)
        wbuf = torch.empty_like(sbuf) if use_cols else None
        for i0 in range(0, n, tile):
            i1 = min(i0 + tile, n)
            for j0 in range(0, k, tile):
                j1 = min(j0 + tile, k)
                s = torch.mm(a_s[i0:i1], b[j0:j1].T, out=_block(sbuf, i1 - i0, j1 - j0))
                _mask_tile(s, i0, j0, offset, groups_a, groups_b)
                r, c = i1 - i0, j1 - j0
                g = _backward_tile(
                    s, _block(gbuf, r, c), _block(wbuf, r, c) if use_cols else None,
                    r_lse[i0:i1], g_r[i0:i1], c_lse[j0:j1] if use_cols else None,
                    g_col[j0:j1] if use_cols else None,
                )
                da[i0:i1].addmm_(g, b[j0:j1])
                db[j0:j1].addmm_(g.T, a_s[i0:i1])
        grad_scale = (a * da).sum() if ctx.needs_input_grad[2] else None
        grad_a = da.mul_(scale) if ctx.needs_input_grad[0] else None
        grad_b = db if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, grad_scale, None, None, None, None, None
