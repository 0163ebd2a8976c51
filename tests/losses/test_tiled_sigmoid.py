from __future__ import annotations

import pytest
import torch

from xmodal.losses.tiled_sigmoid import pair_sum_direct, pair_sum_tiled

from .conftest import rel_err, unit


@pytest.mark.parametrize(
    ("n", "k", "offset", "tile", "with_groups"),
    [(7, 7, 0, 3, False), (7, 7, 0, 3, True), (5, 12, 4, 4, False), (5, 12, 7, 5, True),
     (9, 9, 0, 20, True)],
)
def test_gradcheck(n, k, offset, tile, with_groups):
    a = unit(n, 6, dtype=torch.float64, seed=1).requires_grad_()
    b = unit(k, 6, dtype=torch.float64, seed=2).requires_grad_()
    scale = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)
    ga = (torch.arange(n) + offset) % 3 if with_groups else None
    gb = torch.arange(k) % 3 if with_groups else None

    def f(a, b, scale, bias):
        return pair_sum_tiled(a, b, scale, bias, offset=offset, groups_a=ga, groups_b=gb,
                              tile_size=tile)

    assert torch.autograd.gradcheck(f, (a, b, scale, bias))


@pytest.mark.parametrize("tile", [1, 4, 16, 100])
def test_tiled_equals_direct(tile):
    a = unit(10, 8, dtype=torch.float64, seed=3)
    b = unit(30, 8, dtype=torch.float64, seed=4)
    kw = {"offset": 20, "groups_a": torch.arange(10) % 4, "groups_b": torch.arange(30) % 4}
    s, bias = torch.tensor(7.0, dtype=torch.float64), torch.tensor(-3.0, dtype=torch.float64)
    direct = pair_sum_direct(a, b, s, bias, **kw)
    tiled = pair_sum_tiled(a, b, s, bias, tile_size=tile, **kw)
    assert rel_err(tiled, direct) < 1e-12
