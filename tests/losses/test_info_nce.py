from __future__ import annotations

import math

import pytest
import torch

from xmodal.losses import InfoNCELoss, info_nce

from . import oracles
from .conftest import grads, pair, rel_err, unit

CASES = [
    # (n, tile, M, groups, scale, ratio)
    (1, 4, 0, False, 1 / 0.07, None),
    (7, 3, 0, False, 1 / 0.07, None),
    (37, 8, 0, False, 100.0, None),
    (37, 8, 3, False, 1 / 0.07, 1 / 7),
    (37, 16, 2, True, 100.0, 1 / 7),
    (29, 64, 4, True, 20.0, None),
    (29, 5, 4, False, 20.0, 0.0),
    (30, 7, 1, True, 1 / 0.07, 2.5),
]


def _inputs(n, m, with_groups, seed=0, dtype=torch.float64):
    a, p = pair(n, dtype=dtype, seed=seed)
    negs = unit(n, m, 16, dtype=dtype, seed=seed + 5).requires_grad_() if m else None
    groups = torch.arange(n) // 3 if with_groups else None
    return a, p, negs, groups


@pytest.mark.parametrize("mode", ["direct", "tiled"])
@pytest.mark.parametrize(("n", "tile", "m", "with_groups", "scale", "ratio"), CASES)
def test_matches_float64_formula(mode, n, tile, m, with_groups, scale, ratio):
    a, p, negs, groups = _inputs(n, m, with_groups)
    s = torch.tensor(math.log(scale), dtype=torch.float64, requires_grad=True)
    got = info_nce(a, p, logit_scale=s.exp(), negatives=negs, group_ids=groups,
                   hard_negative_ratio=ratio, mode=mode, tile_size=tile)
    want = oracles.info_nce(a, p, s.exp(), negs, groups, ratio)
    assert got.item() == pytest.approx(want.item(), rel=1e-10, abs=1e-12)
    for g_got, g_want in zip(grads(got, a, p, negs, s), grads(want, a, p, negs, s), strict=True):
        assert rel_err(g_got, g_want) < 1e-9


@pytest.mark.parametrize(("n", "tile", "m", "with_groups", "scale", "ratio"), CASES)
def test_tiled_equals_direct_float32(n, tile, m, with_groups, scale, ratio):
    a, p, negs, groups = _inputs(n, m, with_groups, dtype=torch.float32)
    s = torch.tensor(math.log(scale), requires_grad=True)
    kw = {"negatives": negs, "group_ids": groups, "hard_negative_ratio": ratio}
    direct = info_nce(a, p, logit_scale=s.exp(), mode="direct", **kw)
    tiled = info_nce(a, p, logit_scale=s.exp(), mode="tiled", tile_size=tile, **kw)
    assert rel_err(tiled, direct) <= 1e-5
    for gt, gd in zip(grads(tiled, a, p, negs, s), grads(direct, a, p, negs, s), strict=True):
        assert rel_err(gt, gd) <= 1e-5


def test_hand_computed_two_pairs():
    # a = p = identity rows: logits s·I; loss_i = -s + log(e^s + e^0)
    a = torch.eye(2)
    loss = info_nce(a, a, logit_scale=2.0)
    assert loss.item() == pytest.approx(-2 + math.log(math.exp(2) + 1), rel=1e-6)


def test_better_alignment_lowers_loss():
    a, p = pair(64, noise=0.1)
    aligned = info_nce(a, p, logit_scale=20.0)
    shuffled = info_nce(a, p.roll(1, 0), logit_scale=20.0)
    assert aligned < shuffled


def test_module_learns_temperature_and_matches_function():
    a, p = pair(16)
    loss_fn = InfoNCELoss(init_scale=20.0)
    got = loss_fn(a, p)
    want = info_nce(a, p, logit_scale=20.0)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    got.backward()
    assert loss_fn.logit_scale.log_scale.grad is not None
    fixed = InfoNCELoss(init_scale=20.0, learnable=False)
    assert not list(fixed.parameters())
