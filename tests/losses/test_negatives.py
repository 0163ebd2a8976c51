from __future__ import annotations

import math

import pytest
import torch

from xmodal.losses import HardNegativeCurriculum, clip_loss, info_nce, siglip_loss
from xmodal.losses.negatives import random_negative_counts

from .conftest import pair, unit


def test_curriculum_values():
    sched = HardNegativeCurriculum(ratio=0.2, warmup_steps=10, ramp_steps=20)
    assert [sched(s) for s in (0, 9, 10, 20, 30, 1000)] == pytest.approx(
        [0, 0, 0, 0.1, 0.2, 0.2]
    )
    assert HardNegativeCurriculum(ratio=0.5, warmup_steps=3)(3) == 0.5


def test_ratio_zero_is_the_loss_without_hard_negatives():
    a, p = pair(20)
    negs = unit(20, 4, 16, seed=4)
    losses = {
        "info_nce": lambda **k: info_nce(a, p, logit_scale=14.0, **k),
        "clip": lambda **k: clip_loss(a, p, logit_scale=14.0, **k),
        "siglip": lambda **k: siglip_loss(a, p, logit_scale=10.0, logit_bias=-10.0, **k),
    }
    for name, fn in losses.items():
        key = "negatives" if name == "info_nce" else "text_negatives"
        with_hard = fn(**{key: negs}, hard_negative_ratio=0.0)
        assert with_hard.item() == pytest.approx(fn().item(), rel=1e-6), name


def test_natural_ratio_equals_unweighted_appending():
    # ρ = M / n_r gives every hard negative weight 1: the plain MNRL-style loss
    n, m = 16, 3
    a, p = pair(n)
    negs = unit(n, m, 16, seed=4)
    natural = info_nce(a, p, logit_scale=20.0, negatives=negs, hard_negative_ratio=m / (n - 1))
    plain = info_nce(a, p, logit_scale=20.0, negatives=negs, hard_negative_ratio=None)
    assert natural.item() == pytest.approx(plain.item(), rel=1e-6)


def test_hard_share_of_the_denominator_follows_the_ratio():
    # with all logits equal the hard negatives' share of the negative mass is exactly ρ/(1+ρ)
    n, m, ratio = 9, 2, 1 / 7
    a = torch.zeros(n, 4)
    a[:, 0] = 1  # every anchor, positive and negative is the same unit vector
    negs = a[:, None, :].expand(n, m, 4).contiguous()
    loss = info_nce(a, a, logit_scale=5.0, negatives=negs, hard_negative_ratio=ratio)
    n_r = n - 1
    want = math.log(1 + n_r + ratio * n_r)  # -log(e^s / (e^s + n_r e^s + ρ n_r e^s))
    assert loss.item() == pytest.approx(want, rel=1e-6)


def test_schedule_needs_a_step():
    a, p = pair(8)
    negs = unit(8, 2, 16, seed=4)
    sched = HardNegativeCurriculum(warmup_steps=5)
    with pytest.raises(ValueError, match="step"):
        info_nce(a, p, logit_scale=10.0, negatives=negs, hard_negative_ratio=sched)
    early = info_nce(a, p, logit_scale=10.0, negatives=negs, hard_negative_ratio=sched, step=0)
    plain = info_nce(a, p, logit_scale=10.0)
    late = info_nce(a, p, logit_scale=10.0, negatives=negs, hard_negative_ratio=sched, step=5)
    assert early.item() == pytest.approx(plain.item(), rel=1e-6)
    assert late.item() != pytest.approx(plain.item(), rel=1e-3)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "1:7"])
def test_bad_ratio_is_refused(bad):
    a, p = pair(4)
    with pytest.raises((ValueError, TypeError)):
        info_nce(a, p, logit_scale=10.0, negatives=unit(4, 1, 16), hard_negative_ratio=bad)


def test_random_negative_counts_by_hand():
    groups = torch.tensor([0, 0, 1, 2, 2, 2])
    counts = random_negative_counts(6, 6, offset=0, groups_rows=groups, groups_cols=groups,
                                    device=torch.device("cpu"))
    assert counts.tolist() == [4, 4, 5, 3, 3, 3]
    plain = random_negative_counts(3, 9, offset=3, groups_rows=None, groups_cols=None,
                                   device=torch.device("cpu"))
    assert plain.tolist() == [8, 8, 8]
