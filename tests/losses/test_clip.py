from __future__ import annotations

import math

import pytest
import torch

from xmodal.losses import ClipLoss, clip_loss

from . import oracles
from .conftest import grads, pair, rel_err, unit

CASES = [
    # (n, tile, m_text, m_image, groups, scale, ratio)
    (1, 4, 0, 0, False, 1 / 0.07, None),
    (8, 3, 0, 0, False, 1 / 0.07, None),
    (33, 8, 0, 0, False, 100.0, None),
    (33, 10, 3, 0, False, 1 / 0.07, 1 / 7),
    (33, 10, 2, 4, True, 100.0, 1 / 7),
    (21, 64, 0, 2, True, 20.0, None),
    (24, 5, 3, 3, False, 50.0, 0.0),
]


def _inputs(n, mt, mi, with_groups, dtype=torch.float64):
    img, txt = pair(n, dtype=dtype)
    tn = unit(n, mt, 16, dtype=dtype, seed=7).requires_grad_() if mt else None
    im = unit(n, mi, 16, dtype=dtype, seed=8).requires_grad_() if mi else None
    groups = torch.arange(n) % 5 if with_groups else None
    return img, txt, tn, im, groups


@pytest.mark.parametrize("mode", ["direct", "tiled"])
@pytest.mark.parametrize(("n", "tile", "mt", "mi", "with_groups", "scale", "ratio"), CASES)
def test_matches_float64_formula(mode, n, tile, mt, mi, with_groups, scale, ratio):
    img, txt, tn, im, groups = _inputs(n, mt, mi, with_groups)
    s = torch.tensor(math.log(scale), dtype=torch.float64, requires_grad=True)
    got = clip_loss(img, txt, logit_scale=s.exp(), text_negatives=tn, image_negatives=im,
                    group_ids=groups, hard_negative_ratio=ratio, mode=mode, tile_size=tile)
    want = oracles.clip(img, txt, s.exp(), tn, im, groups, ratio)
    assert got.item() == pytest.approx(want.item(), rel=1e-10, abs=1e-12)
    for g_got, g_want in zip(grads(got, img, txt, tn, im, s), grads(want, img, txt, tn, im, s),
                             strict=True):
        assert rel_err(g_got, g_want) < 1e-9


@pytest.mark.parametrize(("n", "tile", "mt", "mi", "with_groups", "scale", "ratio"), CASES)
def test_tiled_equals_direct_float32(n, tile, mt, mi, with_groups, scale, ratio):
    img, txt, tn, im, groups = _inputs(n, mt, mi, with_groups, dtype=torch.float32)
    s = torch.tensor(math.log(scale), requires_grad=True)
    kw = {"text_negatives": tn, "image_negatives": im, "group_ids": groups,
          "hard_negative_ratio": ratio}
    direct = clip_loss(img, txt, logit_scale=s.exp(), mode="direct", **kw)
    tiled = clip_loss(img, txt, logit_scale=s.exp(), mode="tiled", tile_size=tile, **kw)
    assert rel_err(tiled, direct) <= 1e-5
    for gt, gd in zip(grads(tiled, img, txt, tn, im, s), grads(direct, img, txt, tn, im, s),
                      strict=True):
        assert rel_err(gt, gd) <= 1e-5


@pytest.mark.parametrize("n", [1000, 1024])
@pytest.mark.parametrize("scale", [1 / 0.07, 100.0])
def test_tiled_equals_direct_at_realistic_size(n, scale):
    img, txt = pair(n, d=512, noise=0.5)
    s = torch.tensor(math.log(scale), requires_grad=True)
    direct = clip_loss(img, txt, logit_scale=s.exp(), mode="direct")
    tiled = clip_loss(img, txt, logit_scale=s.exp(), mode="tiled", tile_size=256)
    assert rel_err(tiled, direct) <= 1e-5
    for gt, gd in zip(grads(tiled, img, txt, s), grads(direct, img, txt, s), strict=True):
        assert rel_err(gt, gd) <= 1e-5


@pytest.mark.parametrize("mode", ["direct", "tiled"])
def test_matches_open_clip(open_clip_loss, mode):
    """open_clip's ClipLoss value; gradients as close to the float64 truth as fp32 allows."""
    img, txt = pair(300, d=64, noise=0.7)
    log_s = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    ours = clip_loss(img, txt, logit_scale=log_s.exp(), mode=mode, tile_size=128)
    ref = open_clip_loss.ClipLoss()(img, txt, log_s.exp())
    assert rel_err(ours, ref) < 1e-6
    x64 = [x.detach().double().requires_grad_() for x in (img, txt, log_s)]
    truth = grads(open_clip_loss.ClipLoss()(x64[0], x64[1], x64[2].exp()), *x64)
    for go, gr, gt in zip(grads(ours, img, txt, log_s), grads(ref, img, txt, log_s), truth,
                          strict=True):
        assert rel_err(go, gt) < 5e-5  # open_clip's own fp32 error here: ~1e-5
        assert rel_err(go, gr) < 5e-5


def test_hand_computed_identity():
    # image = text = I_2: both directions give -s + log(e^s + 1)
    eye = torch.eye(2)
    assert clip_loss(eye, eye, logit_scale=3.0).item() == pytest.approx(
        -3 + math.log(math.exp(3) + 1), rel=1e-6
    )


def test_extreme_scale_is_finite_and_exact():
    # logits up to ±100 (the clamp): the tiled online log-sum-exp must not overflow
    img, txt = pair(70, d=8, dtype=torch.float64, noise=3.0)
    kw = {"logit_scale": 100.0}
    want = oracles.clip(img, txt, torch.tensor(100.0))
    got = clip_loss(img, txt, mode="tiled", tile_size=16, **kw)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(want.item(), rel=1e-10)


def test_all_pairs_in_one_group_leave_only_positives():
    img, txt = pair(6, dtype=torch.float64)
    groups = torch.zeros(6, dtype=torch.int64)
    for mode in ("direct", "tiled"):
        loss = clip_loss(img, txt, logit_scale=10.0, group_ids=groups, mode=mode, tile_size=4)
        assert loss.item() == pytest.approx(0.0, abs=1e-12)  # nothing to contrast with
        (g,) = torch.autograd.grad(loss, img)
        assert torch.isfinite(g).all() and g.abs().max() < 1e-12


def test_module_init_and_step():
    loss_fn = ClipLoss()
    assert loss_fn.logit_scale.log_scale.item() == pytest.approx(math.log(1 / 0.07), rel=1e-7)
    img, txt = pair(12)
    loss_fn(img, txt).backward()
    assert loss_fn.logit_scale.log_scale.grad is not None
