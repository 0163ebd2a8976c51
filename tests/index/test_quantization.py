"""Quantised collections: the setting's round trip, its refusals, and Qdrant Edge's quantised
search against the exact backend (the oracle)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from xmodal.index import CollectionMismatchError, open_index
from xmodal.index.qdrant_edge import EdgeIndex
from xmodal.index.qdrant_server import QdrantServerIndex
from xmodal.index.quantization import (
    OVERSAMPLING,
    check_quantization,
    server_search_params,
    server_vector_options,
)

from .conftest import clustered

ROUND_TRIP_KINDS = ("exact", "qdrant-edge", "qdrant-local-path")


def _uri(kind: str, tmp_path) -> str:
    return {"exact": f"exact:{tmp_path / 'exact'}", "qdrant-edge": str(tmp_path / "edge"),
            "qdrant-local-path": f"qdrant-local:{tmp_path / 'local'}"}[kind]


@pytest.mark.parametrize("kind", ROUND_TRIP_KINDS)
def test_setting_is_stored_and_survives_reopening(kind, tmp_path):
    with open_index(_uri(kind, tmp_path)) as index:
        index.create_collection("s", dim=4, model="m", modality="image", quantization="scalar")
        index.create_collection("b", dim=4, model="m", modality="image", quantization="binary")
        index.create_collection("n", dim=4, model="m", modality="image")
    with open_index(_uri(kind, tmp_path)) as index:
        got = {c.name: c.quantization for c in index.collections()}
        assert got == {"b": "binary", "n": "none", "s": "scalar"}
        assert index.collection("s").stats()["quantization"] == "scalar"
        # an existing collection keeps its setting when none is asked for
        again = index.create_collection("b", dim=4, model="m", modality="image", exist_ok=True)
        assert again.info.quantization == "binary"


@pytest.mark.parametrize("kind", ["exact", "qdrant-edge", "qdrant-local"])
def test_another_setting_on_an_existing_collection_is_refused(kind, open_kind):
    index = open_kind(kind)
    col = index.create_collection("c", dim=3, model="m", modality="text", quantization="scalar")
    col.upsert(["a"], np.array([1.0, 0.0, 0.0]))
    same = index.create_collection("c", dim=3, model="m", modality="text", exist_ok=True,
                                   quantization="scalar")
    assert same.info.quantization == "scalar"
    for other in ("none", "binary"):
        with pytest.raises(CollectionMismatchError, match=rf"'scalar'; asked for '{other}'"):
            index.create_collection("c", dim=3, model="m", modality="text", exist_ok=True,
                                    quantization=other)
    assert index.collection("c").count() == 1  # nothing lost
    assert index.collection("c").info.quantization == "scalar"


@pytest.mark.parametrize("kind", ["exact", "qdrant-edge", "qdrant-local"])
def test_unknown_setting_is_refused_and_nothing_created(kind, open_kind):
    index = open_kind(kind)
    with pytest.raises(ValueError, match=r"quantization 'int8': use one of 'none', 'scalar'"):
        index.create_collection("c", dim=3, model="m", modality="text", quantization="int8")
    assert index.collections() == []


def test_check_quantization_names_the_bad_value():
    assert check_quantization("binary") == "binary"
    for bad in ("Scalar", "", None, 8):
        with pytest.raises(ValueError, match="use one of 'none', 'scalar', 'binary'"):
            check_quantization(bad)


# -- Qdrant Edge: the store really quantises, and rescoring gives exact cosines ----------------
N, DIM, K = 3000, 128, 10


def _edge_and_exact(tmp_path, quantization):
    """An Edge collection whose HNSW (and codes) are built, and the exact oracle, same data."""
    rows = clustered(N + 50, DIM, centres=30, noise=0.6, seed=1)  # (N + 50, d)
    base, queries = rows[:N], rows[N:]  # queries: fresh draws around the same centres
    ids = [f"p{i}" for i in range(N)]
    edge = EdgeIndex(tmp_path / "edge", indexing_threshold_kb=1, full_scan_threshold_kb=1,
                     optimize_after=N + 1)
    col = edge.create_collection("c", dim=DIM, model="m", modality="image",
                                 quantization=quantization)
    col.upsert(ids, base)
    col.optimize()
    exact = open_index(f"exact:{tmp_path / 'exact'}")
    oracle = exact.create_collection("c", dim=DIM, model="m", modality="image",
                                     quantization=quantization)
    oracle.upsert(ids, base)
    return edge, col, exact, oracle, base, queries


@pytest.mark.parametrize(("quantization", "bytes_per_vector"), [("scalar", (DIM, DIM + 8)),
                                                                ("binary", (DIM // 8, DIM // 8))])
def test_edge_quantized_search_matches_exact(tmp_path, quantization, bytes_per_vector):
    edge, col, exact, oracle, base, queries = _edge_and_exact(tmp_path, quantization)
    try:
        stats = col.stats()
        assert stats["indexed_vectors"] == N and stats["quantization"] == quantization
        lo, hi = bytes_per_vector  # the codes Qdrant wrote, measured from its files
        assert lo * N <= stats["vector_bytes"]["quantized"] <= hi * N + 8192  # 4 KiB blocks
        assert stats["vector_bytes"]["original"] >= 4 * DIM * N  # kept on disk for rescoring
        got = col.search(queries, K)
        want = oracle.search(queries, K)
        recall = np.mean([len(set(g.ids) & set(w.ids)) / K for g, w in zip(got, want, strict=True)])
        assert recall >= 0.9, recall
        row = {f"p{i}": i for i in range(N)}
        for q, hits in zip(queries, got, strict=True):
            true = base[[row[i] for i in hits.ids]].astype(np.float64) @ q.astype(np.float64)
            np.testing.assert_allclose(hits.scores, true, atol=1e-5)  # rescored: exact cosines
        edge.close()  # reopened: the store's own config still quantises, the metadata says so
        edge = EdgeIndex(tmp_path / "edge")
        col = edge.collection("c")
        assert col.info.quantization == quantization
        assert col.stats()["vector_bytes"] == stats["vector_bytes"]
        again = col.search(queries, K)
        assert [h.ids for h in again] == [h.ids for h in got]
    finally:
        edge.close()
        exact.close()


def test_edge_unquantized_collection_writes_no_codes(tmp_path):
    edge, col, exact, _, _, _ = _edge_and_exact(tmp_path, "none")
    try:
        assert col.stats()["vector_bytes"]["quantized"] == 0
        assert col.stats()["vector_bytes"]["original"] >= 4 * DIM * N
    finally:
        edge.close()
        exact.close()


# -- Qdrant server: the objects sent (no server here: local mode stores them; a spy sees them) --
@pytest.mark.parametrize("quantization", ["scalar", "binary"])
def test_server_collection_config_and_search_params(quantization):
    from qdrant_client import models as m

    with QdrantServerIndex.connect(location=":memory:") as index:
        index.create_collection("c", dim=4, model="m", modality="image",
                                quantization=quantization)
        params = index.client.get_collection("c").config.params.vectors["embedding"]
        assert params.on_disk is True
        config = params.quantization_config
        if quantization == "scalar":
            assert isinstance(config, m.ScalarQuantization)
            assert config.scalar.type == m.ScalarType.INT8 and config.scalar.always_ram
        else:
            assert isinstance(config, m.BinaryQuantization) and config.binary.always_ram
            assert config.binary.encoding == m.BinaryQuantizationEncoding.ONE_BIT
            assert config.binary.query_encoding == m.BinaryQuantizationQueryEncoding.SCALAR8BITS
    assert server_vector_options(m, "none") == {}


def test_server_search_asks_for_rescoring(monkeypatch):
    with QdrantServerIndex.connect(location=":memory:") as index:
        index.local = False  # as against a real server: search params are sent
        col = index.create_collection("c", dim=2, model="m", modality="image",
                                      quantization="binary")
        col.upsert(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]))
        sent = []
        real = index.client.query_batch_points

        def spy(name, requests, **kw):
            sent.extend(requests)
            return real(name, requests=requests, **kw)

        monkeypatch.setattr(index.client, "query_batch_points", spy)
        with warnings.catch_warnings():  # local mode may say it ignores search params
            warnings.simplefilter("ignore")
            assert col.search(np.array([0.0, 1.0]), k=1)[0].ids == ("b",)
            col.search(np.array([0.0, 1.0]), k=300)
    q0, q1 = sent[0].params.quantization, sent[1].params
    assert (q0.rescore, q0.oversampling) == (True, OVERSAMPLING["binary"])
    assert q1.hnsw_ef == 300 and q1.quantization.rescore is True
    from qdrant_client import models as m

    assert server_search_params(m, "none", 128).quantization is None


# -- ingest: the setting of the collections a run creates; refused before anything is stored --
def test_ingest_creates_quantized_collections_and_refuses_another_setting(tmp_path, corpus):
    from tests.api.toy import toy_encoders
    from xmodal.index.ingest import ingest, load_manifest, manifest_path

    uri = f"exact:{tmp_path / 'idx'}"
    with open_index(uri) as index:
        report = ingest(index, [corpus], encoders=toy_encoders(), manifest=manifest_path(uri),
                        quantization="scalar")
        assert report.indexed > 0
        assert {c.quantization for c in index.collections()} == {"scalar"}
    (corpus / "new.md").write_text("a new memo about rain")
    before = load_manifest(manifest_path(uri))
    with open_index(uri) as index:
        counts = {c.name: c.count for c in index.collections()}
        with pytest.raises(CollectionMismatchError, match="'scalar'; asked for 'binary'"):
            ingest(index, [corpus], encoders=toy_encoders(), manifest=manifest_path(uri),
                   quantization="binary")
        assert {c.name: c.count for c in index.collections()} == counts  # nothing stored
        assert load_manifest(manifest_path(uri)) == before
        with pytest.raises(ValueError, match="quantization 'fp16'"):
            ingest(index, [corpus], encoders=toy_encoders(), quantization="fp16")
        again = ingest(index, [corpus], encoders=toy_encoders(), manifest=manifest_path(uri))
        assert again.indexed == 1  # no setting asked: the existing collections keep theirs
        assert {c.quantization for c in index.collections()} == {"scalar"}
