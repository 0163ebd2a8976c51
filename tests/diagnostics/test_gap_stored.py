"""A GapProjection as a collection stores it (``to_dict``): the arrays as one base64
safetensors blob, bit-exact; the older dicts (arrays as JSON lists) still read."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from xmodal.calibration import StoredCalibration
from xmodal.diagnostics import GapProjection
from xmodal.index import open_index


def fitted(method: str, dim: int = 24, seed: int = 0) -> GapProjection:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(300, dim)) + 1.5  # (n, d): a cone
    b = a @ np.linalg.qr(rng.normal(size=(dim, dim)))[0] + 0.2 * rng.normal(size=(300, dim))
    return GapProjection.fit(a, b, method=method)


def old_dict(p: GapProjection) -> dict[str, object]:
    """The form stored before: the metadata and the arrays as JSON lists of floats."""
    d = {k: v for k, v in p.to_dict().items() if k != "safetensors"}
    d.update(mu_a=p.mu_a.tolist(), mu_b=p.mu_b.tolist(), w_ab=p.w_ab.tolist())
    if p.method != "procrustes":
        d["w_ba"] = p.w_ba.tolist()
    return d


@pytest.mark.parametrize("method", ["procrustes", "lstsq"])
def test_the_stored_dict_holds_the_arrays_as_safetensors_bit_exact(method):
    p = fitted(method)
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))  # as a collection stores it
    assert not [k for k in d if k in ("mu_a", "mu_b", "w_ab", "w_ba")]  # no float lists
    assert base64.b64decode(d["safetensors"])[8:9] == b"{"  # a safetensors header
    q = GapProjection.from_dict(d)
    for name in ("mu_a", "mu_b", "w_ab", "w_ba"):
        assert np.array_equal(getattr(q, name), getattr(p, name)), name
    assert q.gap_after == p.gap_after and q.method == method
    x = np.random.default_rng(5).normal(size=(7, 24))
    assert np.array_equal(q.transform(x), p.transform(x))


@pytest.mark.parametrize("method", ["procrustes", "lstsq"])
def test_an_old_dict_with_json_lists_is_still_read(method):
    p = fitted(method, seed=1)
    q = GapProjection.from_dict(json.loads(json.dumps(old_dict(p))))
    x = np.random.default_rng(6).normal(size=(5, 24))
    np.testing.assert_allclose(q.transform(x), p.transform(x), rtol=0, atol=1e-12)
    assert len(json.dumps(old_dict(p))) > 1.5 * len(json.dumps(p.to_dict()))


def test_a_damaged_blob_or_missing_arrays_are_value_errors():
    d = fitted("lstsq").to_dict()
    with pytest.raises(ValueError, match="unreadable safetensors blob"):
        GapProjection.from_dict({**d, "safetensors": "not base64!"})
    with pytest.raises(ValueError, match="unreadable safetensors blob"):
        GapProjection.from_dict({**d, "safetensors": base64.b64encode(b"junk").decode()})
    only_ab = fitted("procrustes").to_dict()["safetensors"]
    with pytest.raises(ValueError, match="without w_ba"):  # an lstsq map needs both
        GapProjection.from_dict({**d, "safetensors": only_ab})
    old = old_dict(fitted("procrustes"))
    del old["w_ab"]
    with pytest.raises(ValueError, match=r"without its arrays \(w_ab\)"):
        GapProjection.from_dict(old)


@pytest.mark.parametrize("form", ["new", "old"])
def test_a_collection_reads_its_stored_projection_back(tmp_path, form):
    p = fitted("procrustes", seed=2)
    stored = p.to_dict() if form == "new" else old_dict(p)
    uri = f"exact:{tmp_path / 'idx'}"
    with open_index(uri) as index:
        col = index.create_collection("m.image", dim=24, model="m", modality="image")
        col.set_calibration({"text": {"projection": stored}})
    with open_index(uri) as index:
        got = StoredCalibration.read(index.collection("m.image").info.calibration, "text")
    assert got.projection is not None
    assert np.array_equal(got.projection.w_ab, p.w_ab)
