"""Checks that run before any store sees a batch."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.index import DuplicateIdError, VectorError, check_ids, check_vectors
from xmodal.index.filters import Filter, MatchValue
from xmodal.index.validate import check_filter, check_payloads, document_id, point_id


def test_check_vectors_accepts_unit_rows_and_returns_contiguous_float32():
    out = check_vectors([[1.0, 0.0], [0.6, 0.8]], dim=2)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (2, 2)
    assert check_vectors(np.array([0.0, 1.0]), dim=2).shape == (1, 2)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ([np.nan, 1.0], "NaN"),
        ([np.inf, 1.0], "Inf"),
        ([0.0, 0.0], "zero"),
        ([3.0, 4.0], "norm 5"),
    ],
)
def test_check_vectors_refuses_bad_rows_naming_the_id(row, problem):
    with pytest.raises(VectorError, match=rf"'bad'.*{problem}"):
        check_vectors([[1.0, 0.0], row], dim=2, ids=["ok", "bad"])


def test_check_vectors_normalize_and_dimension():
    assert np.allclose(check_vectors([[3.0, 4.0]], dim=2, normalize=True), [[0.6, 0.8]])
    with pytest.raises(VectorError, match="dimension 3, expected 2"):
        check_vectors([[1.0, 0.0, 0.0]], dim=2, ids=["x"])
    with pytest.raises(VectorError, match="'b': dimension 3"):
        check_vectors([[1.0, 0.0], [1.0, 0.0, 0.0]], dim=2, ids=["a", "b"])  # ragged


def test_check_ids():
    assert check_ids(("a", "b")) == ["a", "b"]
    with pytest.raises(DuplicateIdError, match="'a'"):
        check_ids(["a", "b", "a"])
    with pytest.raises(VectorError):
        check_ids(["a", ""])
    with pytest.raises(VectorError):
        check_ids("ab")


def test_payloads_and_filters_are_checked():
    assert check_payloads(None, ["a"]) == [{}]
    with pytest.raises(VectorError, match="reserved"):
        check_payloads([{"_id": "x"}], ["a"])
    with pytest.raises(VectorError, match="not JSON"):
        check_payloads([{"x": object()}], ["a"])
    with pytest.raises(ValueError):
        check_filter({"x": 1.5})
    assert check_filter({"x": True, "y": "s"}) == Filter(
        must=(MatchValue("x", True), MatchValue("y", "s")))
    assert not check_filter(None) and not check_filter({})


def test_ids_are_stable():
    assert point_id("doc") == point_id("doc") != point_id("doc2")
    assert len(point_id("doc")) == 36
    a = document_id("a.jpg", "f" * 64)
    assert a == document_id("a.jpg", "f" * 64) and len(a) == 16
    assert a != document_id("b.jpg", "f" * 64) and a != document_id("a.jpg", "e" * 64)


def test_float32_fast_path_equals_the_careful_path_and_still_refuses():
    import numpy as np
    import pytest

    from xmodal.index import VectorError, check_vectors

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fast = check_vectors(x.astype(np.float32), dim=16)  # float32: the fast path
    careful = check_vectors(x, dim=16)  # float64: the careful path
    assert fast.dtype == np.float32 and fast.flags.c_contiguous
    np.testing.assert_allclose(fast, careful, atol=1e-7)
    bad = x.astype(np.float32)
    bad[2, 3] = np.nan
    with pytest.raises(VectorError, match="vector #2: contains NaN"):
        check_vectors(bad, dim=16)
    with pytest.raises(VectorError, match="is not 1"):
        check_vectors(2 * x.astype(np.float32), dim=16)
