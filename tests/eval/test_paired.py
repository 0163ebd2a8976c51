"""Chunked paired retrieval equals retrieval_metrics on the full score dicts, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.eval import (
    both_directions,
    exact_top_k,
    paired_retrieval_metrics,
    rank_documents,
    retrieval_metrics,
)
from xmodal.eval.metrics import KINDS
from xmodal.eval.paired import default_doc_ids

KS = (1, 3, 5, 10)


def _full_form(queries, docs, positives, doc_ids):
    """The trec dict form: every document scored (float64), positives graded 1."""
    scores = np.asarray(queries, np.float64) @ np.asarray(docs, np.float64).T  # (n, m)
    run = {f"q{i}": {doc_ids[j]: float(s) for j, s in enumerate(row)}
           for i, row in enumerate(scores)}
    qrels = {f"q{i}": {doc_ids[j]: 1 for j in p} for i, p in enumerate(positives)}
    return qrels, run


def _positives(rng, n, m):
    return [set(rng.choice(m, size=int(rng.integers(0, 4)), replace=False).tolist())
            for _ in range(n)]


@pytest.mark.parametrize("planted_ties", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 4, 16, 1000])
@pytest.mark.parametrize("named", [False, True])
def test_chunked_equals_full(planted_ties, chunk_size, named):
    rng = np.random.default_rng(chunk_size + 10 * planted_ties + 100 * named)
    n, m, d = 23, 37, 4
    if planted_ties:  # small integer vectors: many exactly equal scores, also at the k-th place
        queries = rng.integers(-1, 2, size=(n, d)).astype(np.float32)
        docs = rng.integers(-1, 2, size=(m, d)).astype(np.float32)
    else:
        queries = rng.standard_normal((n, d)).astype(np.float32)
        docs = rng.standard_normal((m, d)).astype(np.float32)
    positives = _positives(rng, n, m)
    ids = [f"d{rng.integers(0, 10**6)}_{j}" for j in range(m)] if named else None
    got = paired_retrieval_metrics(queries, docs, positives, KS, chunk_size=chunk_size,
                                   doc_ids=ids)
    qrels, run = _full_form(queries, docs, positives, ids or default_doc_ids(m))
    want = retrieval_metrics(qrels, run, [f"{kind}@{k}" for k in KS for kind in KINDS])
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64])
def test_exact_top_k_follows_the_trec_order(chunk_size):
    rng = np.random.default_rng(chunk_size)
    queries = rng.integers(0, 2, size=(9, 3)).astype(np.float32)
    docs = rng.integers(0, 2, size=(30, 3)).astype(np.float32)
    ids = [f"x{v}" for v in rng.permutation(1000)[:30]]
    idx, scores = exact_top_k(queries, docs, 6, chunk_size=chunk_size, doc_ids=ids)
    full = queries.astype(np.float64) @ docs.T.astype(np.float64)
    for i in range(9):
        want = rank_documents({ids[j]: float(full[i, j]) for j in range(30)})[:6]
        assert [ids[j] for j in idx[i]] == want
        np.testing.assert_allclose(scores[i], full[i, idx[i]])


def test_fewer_documents_than_k_and_empty_positives():
    q = np.eye(2)
    d = np.array([[1.0, 0.0]])
    idx, _ = exact_top_k(q, d, 5)
    assert idx.shape == (2, 1)
    got = paired_retrieval_metrics(q, d, {0: {0}}, ks=(5,))  # query 1 has none: skipped
    assert got["recall@5"] == 1.0 and got["precision@5"] == 0.2
    assert paired_retrieval_metrics(q, d, [set(), set()], ks=(1,))["hit@1"] == 0.0


def test_bad_inputs_are_refused():
    q, d = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="outside"):
        paired_retrieval_metrics(q, d, [{4}, set()])
    with pytest.raises(ValueError, match="entries"):
        paired_retrieval_metrics(q, d, [{0}])
    with pytest.raises(ValueError, match="finite"):
        exact_top_k(np.full((1, 3), np.nan), d, 1)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        exact_top_k(np.ones((1, 2)), d, 1)
    with pytest.raises(ValueError, match="unique"):
        exact_top_k(q, d, 1, doc_ids=["a", "a", "b", "c"])


def test_both_directions_with_groups_equals_the_two_single_directions():
    rng = np.random.default_rng(5)
    images = rng.standard_normal((6, 8))
    image_of_caption = [0, 0, 1, 2, 2, 2, 3, 4, 5, 5]  # several captions per image
    captions = images[image_of_caption] + 0.8 * rng.standard_normal((10, 8))
    got = both_directions(images, captions, KS, b_groups=image_of_caption, chunk_size=4)
    i2t = [{j for j, g in enumerate(image_of_caption) if g == i} for i in range(6)]
    t2i = [{g} for g in image_of_caption]
    assert got["i2t"] == paired_retrieval_metrics(images, captions, i2t, KS)
    assert got["t2i"] == paired_retrieval_metrics(captions, images, t2i, KS)
    # hit@k (CLIP's "R@k") >= recall@k whenever a query has several positives
    assert got["i2t"]["hit@1"] >= got["i2t"]["recall@1"]


def test_both_directions_default_is_matched_pairs():
    a = np.eye(3)
    b = np.array([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]])
    got = both_directions(a, b, (1, 3), names=("a2b", "b2a"))
    assert got["a2b"]["recall@1"] == pytest.approx(1 / 3)
    assert got["b2a"]["recall@3"] == 1.0
    with pytest.raises(ValueError, match="group label"):
        both_directions(a, b, a_groups=[0, 1])
