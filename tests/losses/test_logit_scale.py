from __future__ import annotations

import math

import pytest
import torch

from xmodal.losses import ClipLoss, LogitScale, SigLipLoss


def test_init_values_are_exact():
    ls = LogitScale()
    assert ls.log_scale.item() == pytest.approx(math.log(1 / 0.07), abs=1e-7)
    assert ls.temperature == pytest.approx(0.07, rel=1e-6)
    assert ls.scale == pytest.approx(1 / 0.07, rel=1e-6)
    sig = SigLipLoss()
    assert sig.logit_scale.log_scale.item() == pytest.approx(math.log(10), abs=1e-7)
    assert sig.logit_bias.item() == -10.0


@pytest.mark.parametrize("opt_cls", [torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW])
def test_clamp_holds_after_optimiser_steps(opt_cls):
    ls = LogitScale()
    opt = opt_cls(ls.parameters(), lr=5.0)
    for _ in range(5):
        opt.zero_grad()
        (-ls()).backward()  # push the scale up as hard as possible
        opt.step()
        assert ls.log_scale.item() <= math.log(100) + 1e-6  # the parameter itself
        assert ls().item() <= 100 + 1e-4
    assert ls.scale == pytest.approx(100, rel=1e-5)


def test_clamp_holds_for_a_loss_module_trained_to_sharpen():
    loss_fn = ClipLoss()
    eye = torch.eye(8)
    opt = torch.optim.SGD(loss_fn.parameters(), lr=50.0)
    for _ in range(20):
        opt.zero_grad()
        loss_fn(eye, eye).backward()  # perfectly separable: the loss wants scale → ∞
        opt.step()
    assert loss_fn.logit_scale.log_scale.item() <= math.log(100) + 1e-6


def test_forward_clamps_between_steps():
    ls = LogitScale()
    with torch.no_grad():
        ls.log_scale.fill_(10.0)  # set by hand, no optimiser step
    assert ls().item() == pytest.approx(100.0, rel=1e-6)


def test_fixed_temperature_has_no_parameters():
    ls = LogitScale(20.0, learnable=False)
    assert list(ls.parameters()) == []
    assert ls().item() == pytest.approx(20.0, rel=1e-6)


@pytest.mark.parametrize("kw", [{"init_scale": 0.0}, {"init_scale": 200.0}, {"min_scale": 0.0}])
def test_bad_configuration_is_refused(kw):
    with pytest.raises(ValueError):
        LogitScale(**kw)
