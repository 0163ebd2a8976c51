"""Filtered search on Qdrant Edge once the HNSW graph exists: the payload indexes come after the
graph (they are made the first time a key is filtered), where Qdrant's filtered HNSW alone loses
most hits; each plan (exact over the admitted points, ACORN) must return the true top 10."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qdrant_edge")

import xmodal.index.qdrant_edge as edge
from xmodal.index.filter_qdrant import to_edge
from xmodal.index.filters import parse_filter

N, DIM = 6000, 32
FILTERS = {  # name: (filter JSON, the same condition in Python)
    "range 10 %": ({"must": [{"key": "x", "range": {"lt": 0.1}}]}, lambda p: p["x"] < 0.1),
    "range 50 %": ({"must": [{"key": "x", "range": {"gte": 0.5}}]}, lambda p: p["x"] >= 0.5),
    "int match 1 %": ({"must": [{"key": "b", "match": {"value": 7}}]}, lambda p: p["b"] == 7),
    "keyword 50 %": ({"must": [{"key": "t", "match": {"value": "a"}}]},
                     lambda p: p["t"] == "a"),
    "keyword 50 % and range 10 %": (
        {"must": [{"key": "t", "match": {"value": "a"}}, {"key": "x", "range": {"lt": 0.1}}]},
        lambda p: p["t"] == "a" and p["x"] < 0.1),
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """6,000 clustered unit vectors in a collection whose HNSW graph is built and searched
    (thresholds of 1 KB), with a float, an int and a keyword payload key."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, DIM))
    v = centres[rng.integers(0, 40, N)] + 0.5 * rng.normal(size=(N, DIM))  # (N, d)
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    payloads = [{"x": float(rng.random()), "b": i % 100, "t": "ab"[i % 2]} for i in range(N)]
    q = v[rng.integers(0, N, 20)] + 0.1 * rng.normal(size=(20, DIM))  # (20, d)
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    index = edge.EdgeIndex(str(tmp_path_factory.mktemp("edge")), indexing_threshold_kb=1,
                           full_scan_threshold_kb=1)
    col = index.create_collection("c", dim=DIM, model="m", modality="image")
    col.upsert([str(i) for i in range(N)], v, payloads)
    col.optimize()
    assert col.stats()["indexed_vectors"] == N  # the graph is what a search walks
    yield col, v, payloads, q
    index.close()


def true_top10(v, payloads, q, keep) -> list[set[str]]:
    mask = np.array([keep(p) for p in payloads])
    scores = q.astype(np.float64) @ v.T.astype(np.float64)  # (20, N)
    scores[:, ~mask] = -np.inf
    return [{str(i) for i in np.argsort(-row, kind="stable")[:10]} for row in scores]


@pytest.mark.parametrize("limit", [edge.EXACT_FILTERED_POINTS, 0], ids=["exact", "acorn"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_filtered_search_after_the_graph_finds_the_true_top_10(graph, name, limit,
                                                               monkeypatch):
    col, v, payloads, q = graph
    flt, keep = FILTERS[name]
    monkeypatch.setattr(edge, "EXACT_FILTERED_POINTS", limit)
    got = col.search(q, k=10, filter=flt)
    want = true_top10(v, payloads, q, keep)
    recall = np.mean([len(set(g.ids) & w) / 10 for g, w in zip(got, want, strict=True)])
    assert recall >= 0.95, (name, recall)
    assert all(keep(p) for g in got for p in g.payloads)


def test_the_plan_follows_the_index_and_the_admitted_count(graph, monkeypatch):
    col, *_ = graph
    def plan(flt):
        parsed = parse_filter(flt)
        col._ensure_indexes(parsed)
        return col._filtered_plan(parsed, to_edge(parsed, edge._edge(), col._indexed))
    assert plan(FILTERS["int match 1 %"][0]) == "exact"  # no index serves an int match
    monkeypatch.setattr(edge, "EXACT_FILTERED_POINTS", 0)
    assert plan(FILTERS["range 10 %"][0]) == "exact"  # ~600 points: at most a tenth of 6,000
    assert plan(FILTERS["range 50 %"][0]) == "acorn"
