"""Every backend, same semantics: refusals, upsert/update, delete, get, filter, stats."""

from __future__ import annotations

import numpy as np
import pytest

from tests.index.conftest import BACKENDS, clustered, unit
from xmodal.index import (
    CollectionMismatchError,
    CollectionNotFoundError,
    DuplicateIdError,
    Record,
    UpsertResult,
    VectorError,
)


@pytest.fixture
def col(index):
    c = index.create_collection("img", dim=4, model="clip-a", modality="image", card={"v": 1})
    c.upsert(
        ["a", "b", "c"],
        unit([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]]),
        [{"kind": "cat"}, {"kind": "dog"}, {"kind": "cat", "n": 3}],
    )
    return c


def test_info_and_collections(index, col):
    info = col.info
    assert (info.name, info.dim, info.model, info.modality) == ("img", 4, "clip-a", "image")
    assert info.count == 3 and info.card == {"v": 1} and info.calibration is None
    assert [i.name for i in index.collections()] == ["img"]
    assert index.collection("img").count() == 3


def test_exist_ok_returns_the_collection_or_refuses_a_mismatch(index, col):
    again = index.create_collection("img", dim=4, model="clip-a", modality="image", exist_ok=True)
    assert again.count() == 3
    with pytest.raises(ValueError, match="exists"):
        index.create_collection("img", dim=4, model="clip-a", modality="image")
    with pytest.raises(CollectionMismatchError, match=r"clip-a.*clip-b"):
        index.create_collection("img", dim=4, model="clip-b", modality="image", exist_ok=True)
    with pytest.raises(CollectionMismatchError, match=r"dim 4.*dim 8"):
        index.create_collection("img", dim=8, model="clip-a", modality="image", exist_ok=True)


def test_other_model_or_dimension_is_refused_and_nothing_written(col):
    v = unit([[0, 1, 0, 0]])
    with pytest.raises(CollectionMismatchError, match=r"'clip-a'.*'bge'"):
        col.upsert(["z"], v, model="bge")
    with pytest.raises(CollectionMismatchError, match=r"dim 4.*dim 3"):
        col.upsert(["z"], unit([[0, 1, 0]]))
    with pytest.raises(CollectionMismatchError, match=r"'clip-a'.*'bge'"):
        col.search(v, model="bge")
    with pytest.raises(CollectionMismatchError, match=r"dim 4.*dim 5"):
        col.search(unit([1, 0, 0, 0, 0]))
    assert col.count() == 3 and col.get(["z"]) == [None]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ([np.nan, 0, 0, 1], "NaN"),
        ([np.inf, 0, 0, 1], "Inf"),
        ([0, 0, 0, 0], "zero"),
        ([2, 0, 0, 0], "norm 2"),
    ],
)
def test_bad_vectors_are_refused_naming_the_id_and_nothing_written(col, row, problem):
    vecs = np.array([[0, 1, 0, 0], row], dtype=np.float32)
    with pytest.raises(VectorError, match=rf"'bad'.*{problem}"):
        col.upsert(["good", "bad"], vecs)
    assert col.count() == 3 and col.get(["good", "bad"]) == [None, None]


def test_bad_queries_are_refused(col):
    with pytest.raises(VectorError, match="NaN"):
        col.search(np.array([np.nan, 0, 0, 1.0]))
    with pytest.raises(VectorError, match="norm"):
        col.search(np.array([2.0, 0, 0, 0]))
    assert col.search(np.array([2.0, 0, 0, 0]), k=1, normalize=True)[0].ids == ("a",)


def test_duplicate_ids_in_one_batch_are_refused_and_nothing_written(col):
    with pytest.raises(DuplicateIdError):
        col.upsert(["x", "x"], unit([[0, 1, 0, 0], [0, 0, 0, 1]]))
    assert col.count() == 3 and col.get(["x"]) == [None]


def test_normalize_option(col):
    col.upsert(["n"], np.array([[0, 0, 0, 5.0]]), normalize=True)
    (rec,) = col.get(["n"])
    np.testing.assert_allclose(rec.vector, [0, 0, 0, 1], atol=1e-6)


def test_upsert_of_an_existing_id_updates(col):
    assert col.upsert(["a", "d"], unit([[0, 0, 0, 1], [0, 1, 0, 0]])) == UpsertResult(1, 1)
    assert col.count() == 4
    (hits,) = col.search(unit([0, 0, 0, 1]), k=1)
    assert hits.ids == ("a",) and hits.scores[0] == pytest.approx(1.0, abs=1e-5)
    assert col.get(["a"])[0].payload == {}  # payload replaced with the vector


def test_search_returns_one_hits_per_query_best_first(col):
    hits = col.search(unit([[1, 0, 0, 0], [0, 0, 1, 0]]), k=2)
    assert len(hits) == 2
    assert hits[0].ids == ("a", "b") and hits[1].ids[0] == "c"
    np.testing.assert_allclose(hits[0].scores, [1.0, 1 / np.sqrt(2)], atol=1e-5)
    assert hits[0].payloads == ({"kind": "cat"}, {"kind": "dog"})
    assert len(col.search(unit([1, 0, 0, 0]), k=10)[0]) == 3
    with pytest.raises(ValueError):
        col.search(unit([1, 0, 0, 0]), k=0)


def test_filter(col):
    (hits,) = col.search(unit([1, 0, 0, 0]), k=10, filter={"kind": "cat"})
    assert hits.ids == ("a", "c")
    (hits,) = col.search(unit([1, 0, 0, 0]), k=10, filter={"kind": "cat", "n": 3})
    assert hits.ids == ("c",)
    (hits,) = col.search(unit([1, 0, 0, 0]), k=10, filter={"kind": "cow"})
    assert hits.ids == () and hits.scores.shape == (0,)


def test_get_and_delete(col):
    a, missing = col.get(["a", "nope"])
    assert isinstance(a, Record) and missing is None
    assert a.id == "a" and a.payload == {"kind": "cat"}
    np.testing.assert_allclose(a.vector, [1, 0, 0, 0], atol=1e-6)
    assert col.delete(["a", "nope"]) == 1
    assert col.count() == 2 and col.get(["a"]) == [None]
    assert "a" not in col.search(unit([1, 0, 0, 0]), k=10)[0].ids
    assert col.delete([]) == 0


def test_stats_and_calibration(col):
    s = col.stats()
    assert s["count"] == 3 and s["dim"] == 4 and s["model"] == "clip-a" and s["backend"]
    col.set_calibration({"a": 1.5, "b": -0.2})
    assert col.info.calibration == {"a": 1.5, "b": -0.2}


def test_drop_and_missing(index, col):
    index.drop_collection("img")
    assert index.collections() == []
    with pytest.raises(CollectionNotFoundError):
        index.collection("img")
    with pytest.raises(CollectionNotFoundError):
        index.drop_collection("img")
    with pytest.raises(ValueError):
        index.create_collection("_reserved", dim=2, model="m", modality="text")


def test_empty_collection_search(index):
    c = index.create_collection("e", dim=3, model="m", modality="text")
    (hits,) = c.search(unit([1, 0, 0]), k=5)
    assert hits.ids == () and c.count() == 0


@pytest.mark.parametrize("kind", BACKENDS)
def test_recall_against_exact(kind, open_kind, request):
    x = clustered(2100, 128, noise=3.0, seed=1)
    base, queries = x[:2000], x[2000:]  # (2000, 128), (100, 128)
    ids = [f"d{i:05d}" for i in range(2000)]
    payloads = [{"g": i % 3} for i in range(2000)]
    oracle = open_kind("exact").create_collection("c", dim=128, model="m", modality="text")
    oracle.upsert(ids, base, payloads)
    # Edge: build HNSW and use it even at this small size (Qdrant would search it exactly)
    options = {"indexing_threshold_kb": 1, "full_scan_threshold_kb": 1}
    options = options if kind == "qdrant-edge" else {}
    col = oracle  # the exact backend is its own oracle
    if kind != "exact":
        col = open_kind(kind, **options).create_collection("c", dim=128, model="m", modality="t")
        col.upsert(ids, base, payloads)
    if kind == "qdrant-edge":
        col.optimize()
        assert col.stats()["indexed_vectors"] == 2000  # HNSW was built
    for flt in (None, {"g": 1}):
        want = oracle.search(queries, k=10, filter=flt)
        got = col.search(queries, k=10, filter=flt)
        recall = np.mean(
            [len(set(w.ids) & set(g.ids)) / 10 for w, g in zip(want, got, strict=True)]
        )
        print(f"{kind} filter={flt} recall@10={recall:.3f}")
        assert recall >= (0.95 if kind == "qdrant-edge" else 1.0)
        for w, g in zip(want, got, strict=True):  # same scores for the ids both found
            common = {i: s for i, s in zip(g.ids, g.scores, strict=True) if i in w.ids}
            for i, s in zip(w.ids, w.scores, strict=True):
                if i in common:
                    assert common[i] == pytest.approx(float(s), abs=1e-4)


def test_edge_optimizes_after_large_upserts(open_kind):
    index = open_kind("qdrant-edge", optimize_after=300, indexing_threshold_kb=1)
    col = index.create_collection("c", dim=16, model="m", modality="text")
    x = clustered(400, 16)
    col.upsert([f"a{i}" for i in range(200)], x[:200])
    assert col.stats()["indexed_vectors"] == 0  # 200 < 300: not yet
    col.upsert([f"b{i}" for i in range(200)], x[200:])
    assert col.stats()["indexed_vectors"] == 400
