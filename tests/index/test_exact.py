"""The exact backend against hand-computed results."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.index.exact import ExactIndex, top_k


@pytest.fixture
def col(tmp_path):
    index = ExactIndex(tmp_path / "ix")
    c = index.create_collection("c", dim=2, model="m", modality="image")
    # cosines with the query (0.6, 0.8): d=1.0, b=0.8, a=0.8 (tie), c2=0.6, e=-1.0
    vecs = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [-0.6, -0.8]])
    payloads = [{"g": 1}, {"g": 2}, {"g": 1}, {"g": 2}, {"g": 1}]
    c.upsert(["b", "a", "c2", "d", "e"], vecs, payloads)
    yield c
    index.close()


def test_top_k_and_scores_by_hand(col):
    (hits,) = col.search(np.array([0.6, 0.8]), k=3)
    assert hits.ids == ("d", "a", "b")  # a and b tie at 0.8: by id
    np.testing.assert_allclose(hits.scores, [1.0, 0.8, 0.8], atol=1e-6)
    assert hits.scores.dtype == np.float32 and hits.scores.shape == (3,)
    (hits,) = col.search(np.array([0.6, 0.8]), k=10)
    assert hits.ids == ("d", "a", "b", "c2", "e")
    np.testing.assert_allclose(hits.scores, [1.0, 0.8, 0.8, 0.6, -1.0], atol=1e-6)


def test_tie_at_the_k_boundary_goes_to_the_smaller_id(col):
    (hits,) = col.search(np.array([0.6, 0.8]), k=2)
    assert hits.ids == ("d", "a")


def test_batch_queries_and_filter(col):
    h1, h2 = col.search(np.array([[1.0, 0.0], [0.0, 1.0]]), k=1)
    assert h1.ids == ("c2",) and h2.ids == ("a",)
    (hits,) = col.search(np.array([0.6, 0.8]), k=10, filter={"g": 1})
    assert hits.ids == ("b", "c2", "e") and all(p["g"] == 1 for p in hits.payloads)


def test_top_k_helper():
    s = np.array([0.1, 0.5, 0.5, -np.inf, 0.5])
    ids = np.array(["q", "c", "a", "z", "b"])
    assert top_k(s, ids, 2).tolist() == [2, 4]
    assert top_k(s, ids, 10).tolist() == [2, 4, 1, 0]
