from __future__ import annotations

import math

import pytest
import torch

from xmodal.losses import SigLipLoss, siglip_loss

from . import oracles
from .conftest import grads, pair, rel_err, unit

CASES = [
    # (n, tile, m_text, m_image, groups, scale, bias, ratio, normalization)
    (1, 4, 0, 0, False, 10.0, -10.0, None, "paper"),
    (9, 4, 0, 0, False, 10.0, -10.0, None, "paper"),
    (33, 8, 0, 0, False, 100.0, -10.0, None, "pairs"),
    (33, 10, 3, 0, False, 10.0, -2.7, 1 / 7, "paper"),
    (33, 10, 2, 2, True, 100.0, -10.0, 1 / 7, "paper"),
    (21, 64, 0, 3, True, 14.3, 0.0, None, "pairs"),
    (24, 5, 3, 3, False, 10.0, -10.0, 0.0, "paper"),
]


def _inputs(n, mt, mi, with_groups, dtype=torch.float64):
    img, txt = pair(n, dtype=dtype, seed=3)
    tn = unit(n, mt, 16, dtype=dtype, seed=9).requires_grad_() if mt else None
    im = unit(n, mi, 16, dtype=dtype, seed=10).requires_grad_() if mi else None
    groups = torch.arange(n) // 4 if with_groups else None
    return img, txt, tn, im, groups


def _params(scale, bias, dtype):
    t = torch.tensor(math.log(scale), dtype=dtype, requires_grad=True)
    b = torch.tensor(bias, dtype=dtype, requires_grad=True)
    return t, b


@pytest.mark.parametrize("mode", ["direct", "tiled"])
@pytest.mark.parametrize(
    ("n", "tile", "mt", "mi", "with_groups", "scale", "bias", "ratio", "norm"), CASES
)
def test_matches_float64_formula(mode, n, tile, mt, mi, with_groups, scale, bias, ratio, norm):
    img, txt, tn, im, groups = _inputs(n, mt, mi, with_groups)
    t, b = _params(scale, bias, torch.float64)
    got = siglip_loss(img, txt, logit_scale=t.exp(), logit_bias=b, text_negatives=tn,
                      image_negatives=im, group_ids=groups, hard_negative_ratio=ratio,
                      normalization=norm, mode=mode, tile_size=tile)
    want = oracles.siglip(img, txt, t.exp(), b, tn, im, groups, ratio, norm)
    assert got.item() == pytest.approx(want.item(), rel=1e-10, abs=1e-12)
    xs = (img, txt, tn, im, t, b)
    for g_got, g_want in zip(grads(got, *xs), grads(want, *xs), strict=True):
        assert rel_err(g_got, g_want) < 1e-9


@pytest.mark.parametrize(
    ("n", "tile", "mt", "mi", "with_groups", "scale", "bias", "ratio", "norm"), CASES
)
def test_tiled_equals_direct_float32(n, tile, mt, mi, with_groups, scale, bias, ratio, norm):
    img, txt, tn, im, groups = _inputs(n, mt, mi, with_groups, dtype=torch.float32)
    t, b = _params(scale, bias, torch.float32)
    kw = {"text_negatives": tn, "image_negatives": im, "group_ids": groups,
          "hard_negative_ratio": ratio, "normalization": norm}
    direct = siglip_loss(img, txt, logit_scale=t.exp(), logit_bias=b, mode="direct", **kw)
    tiled = siglip_loss(img, txt, logit_scale=t.exp(), logit_bias=b, mode="tiled",
                        tile_size=tile, **kw)
    assert rel_err(tiled, direct) <= 1e-5
    xs = (img, txt, tn, im, t, b)
    for gt, gd in zip(grads(tiled, *xs), grads(direct, *xs), strict=True):
        assert rel_err(gt, gd) <= 1e-5


@pytest.mark.parametrize("n", [1000, 1024])
@pytest.mark.parametrize(("scale", "bias"), [(10.0, -10.0), (100.0, -10.0)])
def test_tiled_equals_direct_at_realistic_size(n, scale, bias):
    img, txt = pair(n, d=512, noise=0.5)
    t, b = _params(scale, bias, torch.float32)
    direct = siglip_loss(img, txt, logit_scale=t.exp(), logit_bias=b, mode="direct")
    tiled = siglip_loss(img, txt, logit_scale=t.exp(), logit_bias=b, mode="tiled", tile_size=256)
    assert rel_err(tiled, direct) <= 1e-5
    for gt, gd in zip(grads(tiled, img, txt, t, b), grads(direct, img, txt, t, b), strict=True):
        assert rel_err(gt, gd) <= 1e-5


@pytest.mark.parametrize("mode", ["direct", "tiled"])
def test_matches_open_clip(open_clip_loss, mode):
    img, txt = pair(300, d=64, noise=0.7)
    t, b = _params(10.0, -10.0, torch.float32)
    ours = siglip_loss(img, txt, logit_scale=t.exp(), logit_bias=b, mode=mode, tile_size=128)
    ref = open_clip_loss.SigLipLoss()(img, txt, t.exp(), b)
    assert rel_err(ours, ref) < 1e-6
    xs = (img, txt, t, b)
    for go, gr in zip(grads(ours, *xs), grads(ref, *xs), strict=True):
        assert rel_err(go, gr) < 1e-5


def test_hand_computed_identity():
    # 2 orthogonal pairs, s = 1, b = 0: 2 positives at logit 1, 2 negatives at logit 0
    eye = torch.eye(2)
    want = (2 * math.log1p(math.exp(-1)) + 2 * math.log(2)) / 2
    got = siglip_loss(eye, eye, logit_scale=1.0, logit_bias=0.0)
    assert got.item() == pytest.approx(want, rel=1e-6)
    pairs = siglip_loss(eye, eye, logit_scale=1.0, logit_bias=0.0, normalization="pairs")
    assert pairs.item() == pytest.approx(want / 2, rel=1e-6)


def test_paper_init_and_module():
    loss_fn = SigLipLoss()
    assert loss_fn.logit_scale.log_scale.item() == pytest.approx(math.log(10), rel=1e-7)
    assert loss_fn.logit_bias.item() == -10.0
    img, txt = pair(10)
    loss_fn(img, txt).backward()
    assert loss_fn.logit_bias.grad is not None
    assert loss_fn.logit_scale.log_scale.grad is not None


def test_no_grad_forward_skips_gradient_work():
    img, txt = pair(50)
    with torch.no_grad():
        v = siglip_loss(img, txt, logit_scale=10.0, logit_bias=-10.0, mode="tiled", tile_size=16)
    direct = siglip_loss(img, txt, logit_scale=10.0, logit_bias=-10.0, mode="direct")
    assert rel_err(v, direct) < 1e-6
