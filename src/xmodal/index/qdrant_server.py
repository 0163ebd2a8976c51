"""Qdrant server / cluster backend through ``qdrant-client`` (also its in-process local mode).

``open_index("http://host:6333")`` talks to a Qdrant server or cluster;
``open_index("qdrant-local::memory:")`` and ``open_index("qdrant-local:PATH")`` use
``qdrant-client``'s local mode, a pure-Python brute-force implementation of the same API (slow
above ~20k points; meant for tests and CI). The semantics match the embedded backend: named
vector ``"embedding"``, dot product on unit vectors, HNSW ``m=16, ef_construct=128``, search
``ef=128``; point ids are :func:`~xmodal.index.validate.point_id` UUIDs with the caller's id in
the payload under ``"_id"``.

Quantisation: ``quantization="scalar" | "binary"`` maps to the server's scalar / binary
quantisation of the vector (codes in RAM, originals on disk) and every search asks for
oversampling and rescoring with the original vectors (:mod:`xmodal.index.quantization`).
Local mode stores the setting and searches by brute force on the originals.

Metadata: a reserved collection ``_xmodal_meta`` (1-d vectors, never searched) holds one point
per xmodal collection, id ``point_id(name)``, payload ``{"meta": <JSON string>}``. Collections
of the server without such a point are not xmodal's and are not listed.

Hits come in the engine's order (local mode and ANN alike): equal scores are not ordered by id.

Example:
    >>> import numpy as np
    >>> with QdrantServerIndex.connect(location=":memory:") as index:
    ...     col = index.create_collection("c", dim=2, model="m", modality="audio")
    ...     _ = col.upsert(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]))
    ...     col.search(np.array([1.0, 0.0]), k=1)[0].ids
    ('a',)
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from xmodal._optional import require
from xmodal.index.base import CollectionBase, IndexBase
from xmodal.index.filter_qdrant import to_qdrant_models
from xmodal.index.filters import Filter, index_kind, leaves
from xmodal.index.quantization import server_search_params, server_vector_options
from xmodal.index.types import Record, SearchHits, UpsertResult
from xmodal.index.validate import RESERVED_PAYLOAD_KEY, point_id

VECTOR_NAME = "embedding"
META_COLLECTION = "_xmodal_meta"
HNSW_M = 16
HNSW_EF_CONSTRUCT = 128
SEARCH_EF = 128


def _models() -> Any:
    return require("qdrant_client.models", "index")


def _split_payload(payload: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    p = dict(payload or {})
    return str(p.pop(RESERVED_PAYLOAD_KEY)), p


class QdrantServerCollection(CollectionBase):
    """One collection of a Qdrant server (or of local mode)."""

    backend = "qdrant-server"

    def __init__(self, index: QdrantServerIndex, meta: dict[str, Any]) -> None:
        super().__init__(meta)
        self._index = index
        self._client = index.client
        self._params = (
            None if index.local else server_search_params(_models(), self.quantization, SEARCH_EF)
        )
        self._indexed: set[str] | None = None  # keys with a payload index (read on first filter)

    def count(self) -> int:
        """Number of stored vectors."""
        return int(self._client.count(self.name, exact=True).count)

    def _existing(self, pids: list[str]) -> set[str]:
        recs = self._client.retrieve(self.name, pids, with_payload=False, with_vectors=False)
        return {str(r.id) for r in recs}

    def _upsert(
        self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
    ) -> UpsertResult:
        m = _models()
        pids = [point_id(i) for i in ids]
        existing = self._existing(pids)
        points = [
            m.PointStruct(
                id=pid, vector={VECTOR_NAME: vec.tolist()}, payload={**pl, RESERVED_PAYLOAD_KEY: i}
            )
            for pid, i, vec, pl in zip(pids, ids, vectors, payloads, strict=True)
        ]
        self._client.upsert(self.name, points=points, wait=True)
        return UpsertResult(inserted=len(ids) - len(existing), updated=len(existing))

    def _search(self, queries: np.ndarray, k: int, flt: Filter) -> list[SearchHits]:
        m = _models()
        params = (
            self._params
            if k <= SEARCH_EF or self._params is None
            else server_search_params(m, self.quantization, k)
        )
        self._ensure_indexes(flt)
        server_filter = to_qdrant_models(flt, m)  # one mapping for every query
        requests = [
            m.QueryRequest(
                query=q.tolist(),
                using=VECTOR_NAME,
                limit=k,
                filter=server_filter,
                params=params,
                with_payload=True,
            )
            for q in queries
        ]
        out = []
        for resp in self._client.query_batch_points(self.name, requests=requests):
            split = [_split_payload(p.payload) for p in resp.points]
            out.append(
                SearchHits(
                    ids=tuple(s[0] for s in split),
                    scores=np.array([p.score for p in resp.points], dtype=np.float32),
                    payloads=tuple(s[1] for s in split),
                )
            )
        return out

    def _ensure_indexes(self, flt: Filter) -> None:
        """Create the server's payload index of each filtered key the first time it is filtered,
        of the kind the Edge backend uses (:func:`~xmodal.index.filters.index_kind`: keyword,
        float, datetime, full-text, bool). A key the collection already indexes keeps its index;
        filtering is correct without one, only slower. Local mode accepts and ignores them."""
        keys = {c.key: kind for c in leaves(flt) if (kind := index_kind(c)) is not None}
        if not keys:
            return
        if self._indexed is None:
            schema = self._client.get_collection(self.name).payload_schema or {}
            self._indexed = set(schema)
        m = _models()
        for key, kind in keys.items():
            if key not in self._indexed:
                field = (m.TextIndexParams(type=m.TextIndexType.TEXT) if kind == "text" else
                         getattr(m.PayloadSchemaType, kind.upper()))
                self._client.create_payload_index(self.name, key, field_schema=field, wait=True)
                self._indexed.add(key)

    def _get(self, ids: list[str]) -> dict[str, Record]:
        recs = self._client.retrieve(
            self.name, [point_id(i) for i in ids], with_payload=True, with_vectors=True
        )
        out = {}
        for r in recs:
            doc_id, payload = _split_payload(r.payload)
            vec = np.asarray(r.vector[VECTOR_NAME], dtype=np.float32)  # (d,)
            out[doc_id] = Record(doc_id, vec, payload)
        return out

    def _delete(self, ids: list[str]) -> int:
        present = sorted(self._existing([point_id(i) for i in ids]))
        if present:
            self._client.delete(
                self.name, points_selector=_models().PointIdsList(points=present), wait=True
            )
        return len(present)

    def _delete_where(self, flt: Filter) -> int:
        m = _models()
        server_filter = to_qdrant_models(flt, m)
        n = int(self._client.count(self.name, count_filter=server_filter, exact=True).count)
        if n:
            self._client.delete(self.name, points_selector=m.FilterSelector(filter=server_filter),
                                wait=True)
        return n

    def _save_meta(self) -> None:
        self._index._write_meta(self._meta)

    def _extra_stats(self) -> dict[str, Any]:
        info = self._client.get_collection(self.name)
        return {
            "status": str(info.status),
            "indexed_vectors": info.indexed_vectors_count,
            "hnsw": {"m": HNSW_M, "ef_construct": HNSW_EF_CONSTRUCT, "ef": SEARCH_EF},
        }


class QdrantServerIndex(IndexBase):
    """xmodal collections in a Qdrant server, cluster, or ``qdrant-client`` local mode.

    Args:
        client: A ``qdrant_client.QdrantClient``.
        owns_client: Close the client on :meth:`close`.
    """

    backend = "qdrant-server"

    def __init__(self, client: Any, *, owns_client: bool = True) -> None:
        super().__init__()
        self.client = client
        self._owns_client = owns_client
        # local mode is brute force and warns when given search params: give it none
        self.local = type(getattr(client, "_client", None)).__name__ == "QdrantLocal"
        if not client.collection_exists(META_COLLECTION):
            m = _models()
            client.create_collection(
                META_COLLECTION,
                vectors_config={"meta": m.VectorParams(size=1, distance=m.Distance.DOT)},
            )

    @classmethod
    def connect(cls, **client_options: Any) -> QdrantServerIndex:
        """Open a ``QdrantClient(**client_options)`` (``url=``, ``location=``, ``path=``, ...)."""
        qdrant_client = require("qdrant_client", "index")
        return cls(qdrant_client.QdrantClient(**client_options), owns_client=True)

    def _write_meta(self, meta: dict[str, Any]) -> None:
        m = _models()
        point = m.PointStruct(
            id=point_id(meta["name"]),
            vector={"meta": [1.0]},
            payload={"meta": json.dumps(meta, allow_nan=False)},
        )
        self.client.upsert(META_COLLECTION, points=[point], wait=True)

    def _read_all_meta(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        offset = None
        while True:
            recs, offset = self.client.scroll(
                META_COLLECTION, limit=256, offset=offset, with_payload=True
            )
            for r in recs:
                meta = json.loads(r.payload["meta"])
                out[meta["name"]] = meta
            if offset is None:
                return out

    def _names(self) -> list[str]:
        return sorted(self._read_all_meta())

    def _create(self, meta: dict[str, Any]) -> QdrantServerCollection:
        m = _models()
        name = meta["name"]
        if self.client.collection_exists(name):  # leftovers of an interrupted creation
            self.client.delete_collection(name)
        self.client.create_collection(
            name,
            vectors_config={
                VECTOR_NAME: m.VectorParams(
                    size=meta["dim"],
                    distance=m.Distance.DOT,
                    **server_vector_options(m, meta["quantization"]),
                )
            },
            hnsw_config=m.HnswConfigDiff(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT),
        )
        self._write_meta(meta)  # last: marks the collection complete
        return QdrantServerCollection(self, meta)

    def _open(self, name: str) -> QdrantServerCollection:
        return QdrantServerCollection(self, self._read_all_meta()[name])

    def _drop(self, name: str, col: CollectionBase | None) -> None:
        m = _models()
        self.client.delete(
            META_COLLECTION, points_selector=m.PointIdsList(points=[point_id(name)]), wait=True
        )
        self.client.delete_collection(name)

    def _close(self) -> None:
        if self._owns_client:
            self.client.close()
