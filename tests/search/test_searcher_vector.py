"""Searcher: raw-vector queries and ``collections=`` restriction, against numpy float64 top-k
over the exact backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.api.toy import loader, toy_encoders, write_corpus
from xmodal.index import open_index
from xmodal.index.ingest import ingest
from xmodal.index.types import CollectionMismatchError, CollectionNotFoundError, VectorError
from xmodal.search.searcher import Searcher


@pytest.fixture
def setup(tmp_path: Path):
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((200, 16))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"d{i:03d}" for i in range(200)]
    encoders = toy_encoders()
    with open_index("exact:" + str(tmp_path / "idx")) as idx:
        col = idx.create_collection("raw.image", dim=16, model="raw", modality="image",
                                    card={"family": "lit", "modalities": ["text", "image"]})
        col.upsert(ids, vecs.astype(np.float32), [{"path": f"/x/{i}.png", "modality": "image"}
                                                  for i in ids])
        ingest(idx, [write_corpus(tmp_path / "corpus")], encoders=encoders)
        yield idx, vecs, ids, Searcher(idx, load=loader(encoders), router_model=None)


def numpy_top_k(vecs: np.ndarray, ids: list[str], q: np.ndarray, k: int):
    scores = vecs.astype(np.float32).astype(np.float64) @ (q / np.linalg.norm(q))
    order = sorted(range(len(ids)), key=lambda j: (-scores[j], ids[j]))[:k]
    return [ids[j] for j in order], scores[order]


def test_vector_query_equals_numpy_cosine_top_k(setup):
    _idx, vecs, ids, searcher = setup
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = 3.0 * rng.standard_normal(16)  # not unit: a vector query is normalised
        result = searcher.search(vector=q.tolist(), collection="raw.image", k=10)
        want_ids, want_scores = numpy_top_k(vecs, ids, q, 10)
        assert [h.id for h in result.hits] == want_ids
        np.testing.assert_allclose([h.score for h in result.hits], want_scores, atol=1e-5)
        assert result.trace[0] == "vector query on raw.image" and result.errors == ()
        for rank, h in enumerate(result.hits, 1):
            assert not h.fused and h.collection == "raw.image" and h.calibrated is None
            assert h.ranks == {"raw.image": rank} and h.raw_scores["raw.image"] == h.score
            assert h.payload["path"] == f"/x/{h.id}.png"
        assert result.to_json()["hits"][0]["collection"] == "raw.image"


def test_vector_query_refusals_propagate(setup):
    _, _, _, searcher = setup
    with pytest.raises(ValueError, match="collection=NAME"):
        searcher.search(vector=np.ones(16))
    with pytest.raises(ValueError, match="exactly one"):
        searcher.search("heart", vector=np.ones(16), collection="raw.image")
    with pytest.raises(CollectionNotFoundError):
        searcher.search(vector=np.ones(16), collection="nope")
    with pytest.raises(CollectionMismatchError):  # 409: another dimension
        searcher.search(vector=np.ones(8), collection="raw.image")
    bad = np.ones(16)
    bad[3] = np.nan
    with pytest.raises(VectorError):  # 422: NaN
        searcher.search(vector=bad, collection="raw.image")
    with pytest.raises(VectorError):  # 422: zero vector
        searcher.search(vector=np.zeros(16), collection="raw.image")
    with pytest.raises(VectorError):  # 422: a batch is not one query
        searcher.search(vector=np.ones((2, 16)), collection="raw.image")


def test_collections_restricts_text_search(setup):
    _, _, _, searcher = setup
    result = searcher.search("a photo of a red heart", collections=["toy-image.image"], k=3)
    assert result.trace[0] == "collections given: ['toy-image.image']"
    lists = set().union(*(h.raw_scores for h in result.hits))
    assert lists == {"toy-image.image"} and Path(result.hits[0].payload["path"]).name == \
        "heart.png"
    same = searcher.search("a photo of a red heart", collection="toy-image.image", k=3)
    assert [h.id for h in same.hits] == [h.id for h in result.hits]
    both = searcher.search("a red heart", collections=["toy-image.image", "toy-image.text"],
                           k=3)
    assert set().union(*(h.raw_scores for h in both.hits)) <= {"toy-image.image",
                                                                 "toy-image.text[image]"}
    with pytest.raises(CollectionNotFoundError):
        searcher.search("heart", collections=["nope"])


def test_payload_filter_restricts_every_list(setup):
    idx, vecs, ids, searcher = setup
    # vector query + filter: numpy top-k over the rows whose payload matches
    col = idx.collection("raw.image")
    keep = ids[::3]
    col.upsert(keep, vecs[::3].astype(np.float32),
               [{"path": f"/x/{i}.png", "modality": "image", "album": "a"} for i in keep])
    q = np.random.default_rng(5).standard_normal(16)
    got = searcher.search(vector=q, collection="raw.image", k=10, filter={"album": "a"})
    want_ids, want_scores = numpy_top_k(vecs[::3], keep, q, 10)
    assert [h.id for h in got.hits] == want_ids
    np.testing.assert_allclose([h.score for h in got.hits], want_scores, atol=1e-5)
    # text query: the filter reaches the item and the caption lists alike
    heart = searcher.search("a red heart", k=5)
    heart_path = heart.hits[0].payload["path"]
    only = searcher.search("a red heart", k=5, filter={"path": heart_path})
    assert [h.payload["path"] for h in only.hits] == [heart_path]
    assert set(only.hits[0].raw_scores) == set(heart.hits[0].raw_scores)
    # a modality filter excludes the other document modalities' lists
    text_only = searcher.search("a red heart", k=5, mixed=True, filter={"modality": "text"})
    assert text_only.hits and {h.payload["modality"] for h in text_only.hits} == {"text"}
    with pytest.raises(ValueError, match="not a str, int or bool"):
        searcher.search("a red heart", filter={"album": 1.5})


def test_rrf_constant_and_weights_equal_the_formula(setup):
    _, _, _, searcher = setup
    plain = searcher.search("a red heart drum", k=8, mixed=True)
    assert len({n for h in plain.hits for n in h.ranks}) >= 3  # several lists fused
    weights = {"toy-image.image": 2.5, "toy-image.text[image]": 0.0, "bm25": 1.0}
    got = searcher.search("a red heart drum", k=8, mixed=True, rrf_k=10, weights=weights)
    for h in got.hits:  # each fused score is Σ w_l / (k + rank_l) over the lists holding it
        want = sum(weights.get(n, weights.get(n.split("[")[0], 1.0)) / (10 + r)
                   for n, r in h.ranks.items())
        assert h.fused and abs(h.score - want) < 1e-12
    assert [h.score for h in got.hits] == sorted((h.score for h in got.hits), reverse=True)
    assert "k=10" in got.trace[-1] and "toy-image.image ×2.5" in got.trace[-1]
    for bad, match in (({"nope": 1.0}, "no such collection"),
                       ({"toy-image.image": -1.0}, ">= 0"),
                       ({"toy-image.image": float("nan")}, ">= 0")):
        with pytest.raises(ValueError, match=match):
            searcher.search("heart", mixed=True, weights=bad)
    with pytest.raises(ValueError, match="rrf_k"):
        searcher.search("heart", mixed=True, rrf_k=-1)
