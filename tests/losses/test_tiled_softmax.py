"""The tiled autograd Functions checked directly: gradcheck in float64, and vs the direct path."""

from __future__ import annotations

import pytest
import torch

from xmodal.losses.tiled_softmax import negatives_lse_direct, negatives_lse_tiled

from .conftest import rel_err, unit


def _weighted_sum(out):
    row, col = out
    w_r = torch.linspace(0.3, 1.7, row.shape[0], dtype=row.dtype)
    total = (w_r * row.masked_fill(torch.isinf(row), 0)).sum()
    if col is not None:
        w_c = torch.linspace(-0.5, 1.1, col.shape[0], dtype=col.dtype)
        total = total + (w_c * col.masked_fill(torch.isinf(col), 0)).sum()
    return total


@pytest.mark.parametrize(
    ("n", "k", "offset", "tile", "need_cols", "with_groups"),
    [
        (7, 7, 0, 3, True, False),
        (7, 7, 0, 3, True, True),
        (5, 12, 4, 4, False, False),  # a rank's rows against the gathered batch
        (5, 12, 7, 5, False, True),
        (9, 9, 0, 20, True, True),  # one tile larger than the matrix
    ],
)
def test_gradcheck(n, k, offset, tile, need_cols, with_groups):
    a = unit(n, 6, dtype=torch.float64, seed=1).requires_grad_()
    b = unit(k, 6, dtype=torch.float64, seed=2).requires_grad_()
    scale = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ga = (torch.arange(n) + offset) % 3 if with_groups else None
    gb = torch.arange(k) % 3 if with_groups else None

    def f(a, b, scale):
        return _weighted_sum(negatives_lse_tiled(
            a, b, scale, offset=offset, groups_a=ga, groups_b=gb, need_cols=need_cols,
            tile_size=tile,
        ))

    assert torch.autograd.gradcheck(f, (a, b, scale))


@pytest.mark.parametrize("tile", [1, 4, 16, 100])
def test_tiled_equals_direct_rectangular_with_offset(tile):
    a = unit(10, 8, dtype=torch.float64, seed=3)
    b = unit(30, 8, dtype=torch.float64, seed=4)
    ga, gb = torch.arange(10) % 4, torch.arange(30) % 4
    kw = {"offset": 10, "groups_a": ga, "groups_b": gb, "need_cols": True}
    d_row, d_col = negatives_lse_direct(a, b, torch.tensor(7.0, dtype=torch.float64), **kw)
    t_row, t_col = negatives_lse_tiled(
        a, b, torch.tensor(7.0, dtype=torch.float64), tile_size=tile, **kw
    )
    assert rel_err(t_row, d_row) < 1e-12
    assert rel_err(t_col, d_col) < 1e-12


def test_empty_rows_are_minus_inf_with_zero_gradient():
    a = unit(4, 5, dtype=torch.float64).requires_grad_()
    groups = torch.tensor([0, 0, 1, 2])  # rows 0 and 1 still see rows 2, 3
    one = torch.zeros(4, dtype=torch.int64)  # nobody has a negative
    for fn in (negatives_lse_direct, negatives_lse_tiled):
        row, col = fn(a, a, torch.tensor(2.0, dtype=torch.float64), groups_a=one, groups_b=one)
        assert torch.isneginf(row).all() and torch.isneginf(col).all()
        row, _ = fn(a, a, torch.tensor(2.0, dtype=torch.float64), groups_a=groups,
                    groups_b=groups)
        assert torch.isfinite(row).all()


@pytest.mark.parametrize("need_cols", [True, False])
def test_outlier_columns_far_below_the_tile_maximum_stay_exact(need_cols):
    # At the clamp (scale 100) a caption unlike every image has logits ~ -100 while the rest
    # sit near +100: its column's terms underflow against the tile maximum in float32, which
    # the fast path must detect and redo exactly.
    g = torch.Generator().manual_seed(0)
    e1 = torch.zeros(16)
    e1[0] = 1
    a = torch.nn.functional.normalize(e1 + 0.05 * torch.randn(40, 16, generator=g), dim=-1)
    b = torch.nn.functional.normalize(e1 + 0.05 * torch.randn(40, 16, generator=g), dim=-1)
    b[[3, 17]] = -b[[3, 17]]  # two outlier columns
    a, b = a.requires_grad_(), b.requires_grad_()
    scale = torch.tensor(100.0)
    kw = {"need_cols": need_cols}
    d_row, d_col = negatives_lse_direct(a, b, scale, **kw)
    t_row, t_col = negatives_lse_tiled(a, b, scale, tile_size=16, **kw)
    assert rel_err(t_row, d_row) < 1e-6
    weights = torch.linspace(0.1, 1.0, 40)
    d_total = (weights * d_row).sum()
    t_total = (weights * t_row).sum()
    if need_cols:
        assert torch.isfinite(t_col).all()
        assert (t_col[[3, 17]] - d_col[[3, 17]]).abs().max() < 1e-3  # ≈ -93: absolute error
        d_total = d_total + (weights.flip(0) * d_col).sum()
        t_total = t_total + (weights.flip(0) * t_col).sum()
    for gt, gd in zip(torch.autograd.grad(t_total, (a, b)), torch.autograd.grad(d_total, (a, b)),
                      strict=True):
        assert rel_err(gt, gd) < 1e-5
        assert rel_err(gt[[3, 17]] if gt.shape[0] == 40 else gt, gd[[3, 17]]) < 1e-5


def test_rows_far_below_and_tiles_far_above_the_running_shift():
    # First column tile ~ -100 for every row (sets the running shift low), the next ~ +100
    # (overflow against that shift: the tile is redone), and one anchor unlike every caption
    # (its row stays far below the shift: recomputed exactly). float32 against float64.
    g = torch.Generator().manual_seed(1)
    e1 = torch.zeros(16)
    e1[0] = 1
    a = torch.nn.functional.normalize(e1 + 0.05 * torch.randn(24, 16, generator=g), dim=-1)
    b = torch.nn.functional.normalize(e1 + 0.05 * torch.randn(40, 16, generator=g), dim=-1)
    b[:8] = -b[:8]
    a[5] = -a[5]
    groups = torch.arange(24) % 6
    kw = {"offset": 16, "groups_a": groups, "groups_b": torch.arange(40) % 6, "need_cols": True}
    a, b = a.requires_grad_(), b.requires_grad_()
    a64, b64 = (x.detach().double().requires_grad_() for x in (a, b))
    scale = torch.tensor(100.0)
    t_row, t_col = negatives_lse_tiled(a, b, scale, tile_size=8, **kw)
    d_row, d_col = negatives_lse_direct(a64, b64, scale.double(), **kw)
    assert rel_err(t_row, d_row) < 1e-6
    assert rel_err(t_col, d_col) < 1e-6
    w_r, w_c = torch.linspace(0.1, 1, 24), torch.linspace(1, 0.2, 40)
    t_g = torch.autograd.grad((w_r * t_row).sum() + (w_c * t_col).sum(), (a, b))
    d_g = torch.autograd.grad((w_r.double() * d_row).sum() + (w_c.double() * d_col).sum(),
                              (a64, b64))
    for gt, gd in zip(t_g, d_g, strict=True):
        assert rel_err(gt, gd) < 1e-5
