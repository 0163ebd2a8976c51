"""The softmax losses' coupling term: log-sum-exp over in-batch negatives, direct or tiled.

Every softmax loss here (InfoNCE, CLIP) needs, for each row ``i`` of the logit matrix
``S = scale · a @ b.T`` (``a`` (n, d) rows, ``b`` (K, d) columns) and optionally for each column,
the log-sum-exp over the *in-batch negatives*: all entries except the positive (column
``i + offset``) and, given ``group_ids``, except the items sharing a group (false negatives).
The positive logit and any explicit hard negatives are O(N·d) terms combined outside with
ordinary autograd (``_softmax_rows.py``), so this is the only O(N²) part of the loss.

Two implementations with the same signature:

* :func:`negatives_lse_direct` materialises ``S`` (n × K) and lets autograd do the rest; fastest
  for small batches, O(n·K) memory.
* :func:`negatives_lse_tiled` never holds more than one ``tile × tile`` block of ``S``. Forward:
  one GEMM per tile on operands augmented with one column yields ``S - K`` for a running shift
  ``K``, so a single in-place exp serves both the row and the column sums (per-tile
  log-sum-exps, combined at the end); rows or columns whose terms may have underflowed are
  recomputed exactly. Backward: each tile is recomputed as ``S - lse_r`` (one GEMM), turned into
  ``G = g_r·exp(S - lse_r) + g_c·exp(S - lse_c)`` and accumulated into ``da += scale·G @ b``
  and ``db += G.T @ (scale·a)`` (two GEMMs): 4 GEMMs per tile in all against the direct
  formula's 3, in O((n + K)·d + tile²) memory.
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


def _exact_lse(s: torch.Tensor, dim: int) -> torch.Tensor:
    """Log-sum-exp of ``s`` along ``dim`` (-inf for an all -inf slice), the slow safe way."""
    m = torch.nan_to_num(s.amax(dim=dim), neginf=0.0)
    sh = m[:, None] if dim == 1 else m[None, :]
    return m + torch.exp(s - sh).sum(dim=dim).log()


def _mask_entries(
    s: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    offset: int,
    groups_a: torch.Tensor | None,
    groups_b: torch.Tensor | None,
) -> torch.Tensor:
    """Mask the logits ``s`` of global rows ``rows`` × columns ``cols`` (any subsets), in place."""
    mask = cols[None, :] == rows[:, None] + offset
    if groups_a is not None and groups_b is not None:
        mask |= groups_a[rows][:, None] == groups_b[cols][None, :]
    return s.masked_fill_(mask, _NEG_INF)


class _ForwardStats:
    """Per-tile row and column log-sum-exps of the masked logits, one exp pass per tile.

    Each tile is computed by one GEMM on augmented operands as ``S - K``, with ``K`` a running
    scalar shift (the previous tile's estimated maximum), so ``exp`` runs in place and both the
    row sums and the column sums come from the same exponentials. A row or column whose tile
    sum falls below e^-60 (its terms may have underflowed) is recomputed exactly; a tile far
    above the shift (overflow) is redone with its own maximum.
    """

    def __init__(self, a_s, b, offset, groups_a, groups_b, need_cols, tile):
        self.a_s, self.b, self.offset, self.tile = a_s, b, offset, tile
        self.groups_a, self.groups_b = groups_a, groups_b
        n, k = a_s.shape[0], b.shape[0]
        opts = {"dtype": a_s.dtype, "device": a_s.device}
        self.b_aug = _augment(b, 1.0)  # (K, d+1)
        self.a_blk = torch.empty(min(tile, n), a_s.shape[1] + 1, **opts)
        self.sbuf = torch.empty(min(tile, n) * min(tile, k), **opts)
        self.row_parts = torch.empty(-(-k // tile), n, **opts)  # per column tile: row lse
        self.col_parts = torch.empty(-(-n // tile), k, **opts) if need_cols else None
        self.shift: float | None = None

    def run(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, k, tile = self.a_s.shape[0], self.b.shape[0], self.tile
        for it, i0 in enumerate(range(0, n, tile)):
            i1 = min(i0 + tile, n)
            self.a_blk[: i1 - i0, :-1] = self.a_s[i0:i1]
            for jt, j0 in enumerate(range(0, k, tile)):
                self._tile(it, i0, i1, jt, j0, min(j0 + tile, k))
        row = torch.logsumexp(self.row_parts, dim=0)  # (n,)
        col = torch.logsumexp(self.col_parts, dim=0) if self.col_parts is not None else None
        return row, col

    def _logits(self, i0: int, i1: int, j0: int, j1: int, shift: float) -> torch.Tensor:
        a_blk = self.a_blk[: i1 - i0]
        a_blk[:, -1] = -shift
        s = torch.mm(a_blk, self.b_aug[j0:j1].T, out=_block(self.sbuf, i1 - i0, j1 - j0))
        _mask_tile(s, i0, j0, self.offset, self.groups_a, self.groups_b)
        return s  # (r, c) S - shift

    def _tile(self, it: int, i0: int, i1: int, jt: int, j0: int, j1: int) -> None:
        if self.shift is None:  # first tile: shift by its own maximum
            s = self._logits(i0, i1, j0, j1, 0.0)
            m = float(s.amax())
            shift = m if math.isfinite(m) else 0.0
            s.sub_(shift)
        else:
            shift = self.shift
            s = self._logits(i0, i1, j0, j1, shift)
        e = s.exp_()  # (r, c) exp(S - shift)
        r_sum = e.sum(dim=1)  # (r,)
        top = float(r_sum.max())
        if not math.isfinite(top):  # far above the shift: redo with this tile's maximum
            m = float(self._logits(i0, i1, j0, j1, shift).amax()) + shift
            shift = m if math.isfinite(m) else 0.0
            e = self._logits(i0, i1, j0, j1, shift).exp_()
            r_sum = e.sum(dim=1)
            top = float(r_sum.max())
        c_sum = e.sum(dim=0) if self.col_parts is not None else None  # (c,)
        rows_out = self.row_parts[jt, i0:i1]
        torch.add(r_sum.log(), shift, out=rows_out)
        bad = r_sum < _SAFE_MASS
        if bool(bad.any()):  # rows far below the shift: exact log-sum-exp
            idx = bad.nonzero()[:, 0]
            rows_out[idx] = self._exact(i0 + idx, torch.arange(j0, j1), dim=1)
        if c_sum is not None:
            cols_out = self.col_parts[it, j0:j1]
            torch.add(c_sum.log(), shift, out=cols_out)
            bad = c_sum < _SAFE_MASS
            if bool(bad.any()):
                idx = bad.nonzero()[:, 0]
                cols_out[idx] = self._exact(torch.arange(i0, i1), j0 + idx, dim=0)
        if top > 0:  # next shift: an upper bound of this tile's maximum, within log(tile)
            self.shift = shift + math.log(top)

    def _exact(self, rows: torch.Tensor, cols: torch.Tensor, dim: int) -> torch.Tensor:
        s = self.a_s[rows] @ self.b[cols].T  # (len(rows), len(cols))
        _mask_entries(s, rows, cols, self.offset, self.groups_a, self.groups_b)
        return _exact_lse(s, dim)


def _backward_tile(
    s: torch.Tensor,
    work: torch.Tensor | None,
    r_lse: torch.Tensor,
    g_r: torch.Tensor,
    cols: tuple[torch.Tensor, torch.Tensor, torch.Tensor, float] | None,
) -> torch.Tensor:
    """``G = g_r·exp(S - lse_r) + g_c·exp(S - lse_c)`` in place of the tile ``s = S - lse_r``.

    The GEMM already subtracted ``lse_r`` (an extra column), so ``P = exp_(s)`` is one pass.
    The column term is ``P_ij · exp(lse_r_i - lse_c_j) = P_ij u_i v_j`` about the row block's
    largest finite ``lse_r`` ``K``; exact to fp32 precision for columns with
    ``lse_c >= K - 60`` (a dropped term is below e^-27), the other columns are redone exactly.
    ``cols`` is ``(lse_c, g_c, u, K)`` for this tile, or None for rows only.
    """
    if cols is None:
        return s.exp_().mul_(g_r[:, None])
    c_lse, g_c, u, k = cols
    bad = c_lse < k - _SAFE_LOG_RANGE  # (c,)
    v = (g_c * torch.exp(k - c_lse)).masked_fill_(bad, 0.0)  # (c,)
    extra = None
    if bool(bad.any()):
        idx = bad.nonzero()[:, 0]
        r_fin = torch.nan_to_num(r_lse, neginf=0.0)
        extra = g_c[idx] * torch.exp(s[:, idx] + r_fin[:, None] - c_lse[idx])  # (r, nb)
    p = s.exp_()  # (r, c) row softmax probabilities
    w = torch.mul(u[:, None], v[None, :], out=work).add_(g_r[:, None])  # (r, c) g_r_i + u_i v_j
    p.mul_(w)
    if extra is not None:
        p[:, idx] += extra
    return p


def _block(buf: torch.Tensor, r: int, c: int) -> torch.Tensor:
    return buf[: r * c].view(r, c)


def _augment(x: torch.Tensor, last: torch.Tensor | float) -> torch.Tensor:
    """``[x, last]``: (m, d) -> (m, d + 1), so a GEMM adds a per-row constant for free."""
    out = torch.empty(x.shape[0], x.shape[1] + 1, dtype=x.dtype, device=x.device)
    out[:, :-1] = x
    out[:, -1] = last
    return out


class _TiledNegativesLSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, scale, offset, groups_a, groups_b, need_cols, tile):  # type: ignore[override]
        a_s = a * scale  # (n, d)
        stats = _ForwardStats(a_s, b, offset, groups_a, groups_b, need_cols, tile)
        row_lse, col_lse = stats.run()  # (n,), (K,); -inf where there is no negative
        if col_lse is None:
            col_lse = torch.empty(0, dtype=a.dtype, device=a.device)
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
        g_r = g_row if g_row is not None else torch.zeros_like(row_lse)
        # An empty row (lse = -inf) is fully masked, so any finite shift gives P = 0 there.
        a_aug = _augment(a * scale, -torch.nan_to_num(row_lse, neginf=0.0))  # (n, d+1)
        b_aug = _augment(b, 1.0)  # (K, d+1): the GEMM yields S - lse_r
        # An empty column (lse = -inf) contributes nothing: v_j = g_c·exp(K - (+inf)) = 0.
        c_lse = col_lse.masked_fill(torch.isneginf(col_lse), math.inf) if use_cols else None
        a_s = a_aug[:, :-1]  # (n, d) scale·a
        da = torch.zeros_like(a)  # (n, d)  Σ_j G_ij b_j
        db = torch.zeros_like(b)  # (K, d)  Σ_i G_ij scale·a_i
        opts = {"dtype": a.dtype, "device": a.device}
        sbuf = torch.empty(min(tile, n) * min(tile, k), **opts)
        wbuf = torch.empty_like(sbuf) if use_cols else None
        for i0 in range(0, n, tile):
            i1 = min(i0 + tile, n)
            r_blk = row_lse[i0:i1]
            if use_cols:
                k_blk = float(r_blk.max())
                k_blk = k_blk if math.isfinite(k_blk) else 0.0
                u = torch.exp(r_blk - k_blk)  # (r,) 0 for empty rows
            for j0 in range(0, k, tile):
                j1 = min(j0 + tile, k)
                r, c = i1 - i0, j1 - j0
                s = torch.mm(a_aug[i0:i1], b_aug[j0:j1].T, out=_block(sbuf, r, c))
                _mask_tile(s, i0, j0, offset, groups_a, groups_b)
                cols = (c_lse[j0:j1], g_col[j0:j1], u, k_blk) if use_cols else None
                g = _backward_tile(
                    s, _block(wbuf, r, c) if use_cols else None, r_blk, g_r[i0:i1], cols
                )
                da[i0:i1].addmm_(g, b[j0:j1])
                db[j0:j1].addmm_(g.T, a_s[i0:i1])
        grad_scale = (a * da).sum() if ctx.needs_input_grad[2] else None
        grad_a = da.mul_(scale) if ctx.needs_input_grad[0] else None
        grad_b = db if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, grad_scale, None, None, None, None, None
