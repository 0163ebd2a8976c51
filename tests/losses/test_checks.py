"""Bad input fails fast with a message naming the tensor and the problem."""

from __future__ import annotations

import pytest
import torch

from xmodal.losses import clip_loss, info_nce, siglip_loss

from .conftest import pair, unit


def test_unnormalised_rows_are_refused_with_the_row():
    a, p = pair(5)
    bad = a.detach().clone()
    bad[3] *= 2
    with pytest.raises(ValueError, match=r"image row 3 has L2 norm 2"):
        clip_loss(bad, p, logit_scale=10.0)


def test_nan_is_refused():
    a, p = pair(5)
    bad = p.detach().clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="positives row 1 contains NaN"):
        info_nce(a, bad, logit_scale=10.0)


@pytest.mark.parametrize(
    ("x", "y", "msg"),
    [
        (unit(4, 8), unit(5, 8), "row i of each must be a pair"),
        (unit(4, 8), unit(4, 6), "dimension 6, expected 8"),
        (unit(8), unit(8), r"shape \(N, d\)"),
        (unit(4, 8), unit(4, 8, dtype=torch.float64), "dtype"),
    ],
)
def test_shape_mismatches(x, y, msg):
    with pytest.raises(ValueError, match=msg):
        siglip_loss(x, y, logit_scale=10.0, logit_bias=-10.0)


def test_scale_must_be_positive_scale_not_log():
    a, p = pair(4)
    with pytest.raises(ValueError, match="logit_scale must be > 0"):
        clip_loss(a, p, logit_scale=-1.0)
    with pytest.raises(ValueError, match="finite"):
        clip_loss(a, p, logit_scale=float("inf"))


def test_bad_negatives_and_groups():
    a, p = pair(4)
    with pytest.raises(ValueError, match=r"negatives must have shape \(N, M, d\)"):
        info_nce(a, p, logit_scale=10.0, negatives=unit(3, 2, 16))
    with pytest.raises(ValueError, match=r"group_ids must have shape \(4,\)"):
        info_nce(a, p, logit_scale=10.0, group_ids=torch.arange(3))
    with pytest.raises(ValueError, match="integers"):
        info_nce(a, p, logit_scale=10.0, group_ids=torch.zeros(4))


def test_bad_mode_and_tile():
    a, p = pair(4)
    with pytest.raises(ValueError, match="mode must be"):
        clip_loss(a, p, logit_scale=10.0, mode="fast")
    with pytest.raises(ValueError, match="tile_size"):
        clip_loss(a, p, logit_scale=10.0, mode="tiled", tile_size=0)
