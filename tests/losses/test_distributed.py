"""Two gloo processes on CPU give the loss and gradients of one process holding the whole batch."""

from __future__ import annotations

import math
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from xmodal.losses import clip_loss, info_nce, siglip_loss

WORLD, N_LOCAL, D_IN, D = 2, 6, 10, 8


def _model_and_data():
    g = torch.Generator().manual_seed(0)
    w_img = torch.randn(D_IN, D, generator=g, dtype=torch.float64)
    w_txt = torch.randn(D_IN, D, generator=g, dtype=torch.float64)
    x = torch.randn(WORLD * N_LOCAL, D_IN, generator=g, dtype=torch.float64)
    y = x + 0.8 * torch.randn(WORLD * N_LOCAL, D_IN, generator=g, dtype=torch.float64)
    negs = torch.randn(WORLD * N_LOCAL, 3, D_IN, generator=g, dtype=torch.float64)
    groups = torch.tensor([0, 1, 1, 2, 3, 4, 5, 5, 6, 7, 8, 1])  # duplicates across ranks too
    return w_img, w_txt, x, y, negs, groups


def _loss(kind, params, x, y, negs, groups, *, distributed, mode):
    w_img, w_txt, log_s, bias = params
    img = F.normalize(x @ w_img, dim=-1)
    txt = F.normalize(y @ w_txt, dim=-1)
    hard = F.normalize(negs @ w_txt, dim=-1)
    kw = {"group_ids": groups, "mode": mode, "tile_size": 4, "distributed": distributed}
    if kind == "clip":
        return clip_loss(img, txt, logit_scale=log_s.exp(), text_negatives=hard, **kw)
    if kind == "siglip":
        return siglip_loss(img, txt, logit_scale=log_s.exp(), logit_bias=bias,
                           text_negatives=hard, **kw)
    return info_nce(img, txt, logit_scale=log_s.exp(), negatives=hard, **kw)


def _fresh_params(w_img, w_txt):
    return [w_img.clone().requires_grad_(), w_txt.clone().requires_grad_(),
            torch.tensor(math.log(10.0), dtype=torch.float64, requires_grad=True),
            torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)]


def _worker(rank, init_file, kind, mode):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD)
    try:
        w_img, w_txt, x, y, negs, groups = _model_and_data()
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)

        params = _fresh_params(w_img, w_txt)
        local = _loss(kind, params, x[sl], y[sl], negs[sl], groups[sl], distributed=True,
                      mode=mode)
        local.backward()
        loss = local.detach().clone()
        dist.all_reduce(loss)
        loss /= WORLD  # the ranks' mean loss
        ddp_grads = []
        for p in params:  # what DDP does: average parameter gradients over ranks
            g = p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            dist.all_reduce(g)
            ddp_grads.append(g / WORLD)

        ref_params = _fresh_params(w_img, w_txt)
        full = _loss(kind, ref_params, x, y, negs, groups, distributed=False, mode=mode)
        full.backward()
        assert loss.item() == pytest.approx(full.item(), rel=1e-12), (kind, mode)
        for i in [i for i, p in enumerate(ref_params) if p.grad is not None]:
            err = (ddp_grads[i] - ref_params[i].grad).norm() / ref_params[i].grad.norm()
            assert err < 1e-10, (kind, mode, i, float(err))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("mode", ["direct", "tiled"])
def test_two_processes_equal_one(mode):
    for kind in ("clip", "siglip", "info_nce"):
        fd, init_file = tempfile.mkstemp()
        os.close(fd)
        os.unlink(init_file)
        try:
            mp.spawn(_worker, args=(init_file, kind, mode), nprocs=WORLD, join=True)
        finally:
            if os.path.exists(init_file):
                os.unlink(init_file)


def test_distributed_without_process_group_is_a_clear_error():
    x = F.normalize(torch.randn(4, 8), dim=-1)
    with pytest.raises(RuntimeError, match="init_process_group"):
        clip_loss(x, x, logit_scale=10.0, distributed=True)
