from __future__ import annotations

import importlib.util
import pathlib

import pytest
import torch
import torch.nn.functional as F


def unit(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=dtype), dim=-1)


def pair(n, d=16, dtype=torch.float32, seed=0, noise=1.0):
    a = unit(n, d, dtype=dtype, seed=seed)
    b = F.normalize(a + noise * unit(n, d, dtype=dtype, seed=seed + 1), dim=-1)
    return a.requires_grad_(), b.requires_grad_()


def grads(loss, *xs):
    return torch.autograd.grad(loss, [x for x in xs if x is not None and x.requires_grad])


def rel_err(x, y):
    x, y = x.detach().double(), y.detach().double()
    return float((x - y).norm() / y.norm().clamp_min(1e-30))


@pytest.fixture(scope="session")
def open_clip_loss():
    """open_clip's loss.py loaded by path (its package __init__ needs torchvision)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("open_clip_torch not installed (pip install --no-deps open_clip_torch)")
    path = pathlib.Path(next(iter(spec.submodule_search_locations))) / "loss.py"
    mod_spec = importlib.util.spec_from_file_location("open_clip_loss_ref", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module
