from __future__ import annotations

import pytest
import torch

from xmodal.losses import _backend, clip_loss, siglip_loss

from .conftest import pair


def test_auto_mode_tiles_large_batches(monkeypatch):
    img, txt = pair(40)
    monkeypatch.setattr(_backend, "AUTO_TILED_MIN_ENTRIES", 40 * 40)
    assert _backend.use_tiled("auto", 40, 40)
    assert not _backend.use_tiled("auto", 39, 40)
    calls = []
    real = _backend.negatives_lse_tiled
    monkeypatch.setattr(
        _backend, "negatives_lse_tiled", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    clip_loss(img, txt, logit_scale=10.0)
    assert calls == [1]


def test_default_threshold_is_1024_squared():
    assert _backend.use_tiled("auto", 1024, 1024)
    assert not _backend.use_tiled("auto", 1023, 1024)
    assert _backend.use_tiled("tiled", 2, 2) and not _backend.use_tiled("direct", 10**6, 10**6)


@pytest.mark.parametrize("mode", ["direct", "tiled"])
def test_half_precision_inputs_run(mode):
    img, txt = (x.detach().to(torch.bfloat16) for x in pair(16))
    loss = siglip_loss(img, txt, logit_scale=10.0, logit_bias=-10.0, mode=mode, tile_size=8)
    assert torch.isfinite(loss)
