"""The lexical collection of a Qdrant server index: the collection ``_xmodal_bm25``.

One point per document (id :func:`~xmodal.index.validate.point_id` of the document id) with the
sparse vector ``bm25`` under the IDF modifier. Against a server the vectors are inferred by the
server's own BM25: points and queries carry ``models.Document(text, model="qdrant/bm25",
options=Bm25Config(...))`` over xmodal's terms joined by spaces (whitespace tokenizer, no
lower-casing, stemming or stop words). ``qdrant-client``'s local mode has no such inference, so
there xmodal sends the sparse vectors itself (:func:`sparse_document`: the same BM25 weights,
each term hashed to a 32-bit index), and local mode applies the IDF modifier. The payload is
the document's plus ``_id`` and ``_words`` (text-indexed with phrase matching, for quoted
phrases). Filters are mapped as the dense search's are
(:func:`~xmodal.index.filter_qdrant.to_qdrant_models`).

Example:
    >>> from xmodal.index import open_index
    >>> from xmodal.index.lexical_store import open_lexical
    >>> with open_index("qdrant-local::memory:") as index:
    ...     lex = open_lexical(index, create=True)
    ...     lex.upsert(["m", "p"], ["memo qorvex-5521", "a red bicycle"])
    ...     lex.search("qorvex-5521", k=5).ids
    2
    ('m',)
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from xmodal.index.filter_qdrant import to_qdrant_models
from xmodal.index.filters import Filter
from xmodal.index.lexical import Bm25Params, term_weights
from xmodal.index.lexical_store import (
    LEXICAL_NAME,
    WORDS_KEY,
    PointLexical,
    public_payload,
)
from xmodal.index.qdrant_server import _models
from xmodal.index.types import SearchHits
from xmodal.index.validate import RESERVED_PAYLOAD_KEY, check_filter, point_id

COLLECTION = "_xmodal_bm25"
SPARSE_NAME = LEXICAL_NAME
SERVER_MODEL = "qdrant/bm25"


def bm25_options(params: Bm25Params) -> Any:
    """The server's ``Bm25Config`` for xmodal's terms: whitespace tokens taken as they are."""
    m = _models()
    return m.Bm25Config(k=params.k1, b=params.b, avg_len=params.avg_len,
                        tokenizer=m.TokenizerType.WHITESPACE, lowercase=False,
                        stemmer=m.DisabledStemmerParams(type=m.NoStemmer.NONE),
                        stopwords=m.StopwordsSet(custom=[]))


def _index_of(term: str) -> int:
    return int.from_bytes(hashlib.sha256(term.encode()).digest()[:4], "little")


def sparse_document(doc_terms: list[str], params: Bm25Params) -> Any:
    """A document's BM25 sparse vector computed here (local mode: no server inference).

    Example:
        >>> v = sparse_document(["a", "a", "b"], Bm25Params())
        >>> len(v.indices), round(max(v.values), 4)
        (2, 1.9043)
    """
    weights = term_weights(doc_terms, params)
    return _models().SparseVector(indices=[_index_of(t) for t in weights],
                                  values=list(weights.values()))


def sparse_query(query_terms: tuple[str, ...]) -> Any:
    """A query's sparse vector: weight 1 per distinct term."""
    unique = list(dict.fromkeys(query_terms))
    return _models().SparseVector(indices=[_index_of(t) for t in unique],
                                  values=[1.0] * len(unique))


def phrase_filter(base: Any, phrases: tuple[tuple[str, ...], ...]) -> Any:
    """``base`` (the caller's filter, or None) AND a ``MatchPhrase`` on ``_words`` per phrase.

    Example:
        >>> phrase_filter(None, (("red", "bicycle"),)).must[0].match.phrase
        'red bicycle'
    """
    m = _models()
    conds = [m.FieldCondition(key=WORDS_KEY, match=m.MatchPhrase(phrase=" ".join(p)))
             for p in phrases]
    if not conds:
        return base
    return m.Filter(must=[*([base] if base is not None else []), *conds])


class ServerLexical(PointLexical):
    """The ``_xmodal_bm25`` collection of a Qdrant server (or of local mode)."""

    backend = "qdrant-server"

    def __init__(self, client: Any, params: Bm25Params, *, local: bool) -> None:
        super().__init__(params)
        self._client, self._local = client, local

    def document_vector(self, doc_terms: list[str]) -> Any:
        """What a point's ``bm25`` vector is sent as (server: a ``Document`` to infer)."""
        if self._local:
            return sparse_document(doc_terms, self.params)
        return _models().Document(text=" ".join(doc_terms), model=SERVER_MODEL,
                                  options=bm25_options(self.params))

    def query_vector(self, query_terms: tuple[str, ...]) -> Any:
        """What a query is sent as (server: a ``Document`` to infer)."""
        if self._local:
            return sparse_query(query_terms)
        return _models().Document(text=" ".join(dict.fromkeys(query_terms)), model=SERVER_MODEL,
                                  options=bm25_options(self.params))

    def _upsert(self, rows: list[tuple[str, list[str], list[str], dict[str, Any]]]) -> None:
        m = _models()
        points = [m.PointStruct(id=point_id(i), vector={SPARSE_NAME: self.document_vector(t)},
                                payload={**p, RESERVED_PAYLOAD_KEY: i, WORDS_KEY: " ".join(w)})
                  for i, t, w, p in rows]
        self._client.upsert(COLLECTION, points=points, wait=True)

    def query_request(self, query_terms: tuple[str, ...], phrases: tuple[tuple[str, ...], ...],
                      k: int, flt: Filter) -> Any:
        """The ``QueryRequest`` a lexical search sends."""
        m = _models()
        return m.QueryRequest(query=self.query_vector(query_terms), using=SPARSE_NAME, limit=k,
                              filter=phrase_filter(to_qdrant_models(flt, m), phrases),
                              with_payload=True)

    def _search(self, query_terms: tuple[str, ...], phrases: tuple[tuple[str, ...], ...],
                k: int, flt: Filter) -> SearchHits:
        request = self.query_request(query_terms, phrases, k, flt)
        resp = self._client.query_batch_points(COLLECTION, requests=[request])[0]
        points = [p for p in resp.points if p.score > 0]
        split = [public_payload(p.payload) for p in points]
        return SearchHits(ids=tuple(s[0] for s in split),
                          scores=np.array([p.score for p in points], dtype=np.float32),
                          payloads=tuple(s[1] for s in split))

    def _count(self, term: str, cap: int) -> int:
        request = self.query_request((term,), (), cap, check_filter(None)).model_copy(
            update={"with_payload": False})  # a document's words are in its payload
        resp = self._client.query_batch_points(COLLECTION, requests=[request])[0]
        return sum(1 for p in resp.points if p.score > 0)

    def _records(self, ids: list[str]) -> list[Any]:
        return self._client.retrieve(COLLECTION, [point_id(i) for i in ids], with_payload=True,
                                     with_vectors=False)

    def _delete(self, ids: list[str]) -> int:
        present = sorted(str(r.id) for r in self._client.retrieve(
            COLLECTION, [point_id(i) for i in ids], with_payload=False, with_vectors=False))
        if present:
            self._client.delete(COLLECTION, points_selector=_models().PointIdsList(
                points=present), wait=True)
        return len(present)

    def count(self) -> int:
        """Number of documents stored."""
        return int(self._client.count(COLLECTION, exact=True).count)


def create_request(params: Bm25Params) -> dict[str, Any]:
    """The keyword arguments of ``create_collection`` for the lexical collection."""
    m = _models()
    return {"collection_name": COLLECTION, "vectors_config": {},
            "sparse_vectors_config": {SPARSE_NAME: m.SparseVectorParams(modifier=m.Modifier.IDF)},
            "metadata": {"xmodal": "lexical", "k1": params.k1, "b": params.b,
                         "avg_len": params.avg_len}}


def open_server_lexical(index: Any, create: bool, params: Bm25Params) -> ServerLexical | None:
    """Open (or with ``create``, make) the lexical collection of a server index."""
    m = _models()
    client = index.client
    if client.collection_exists(COLLECTION):
        meta = client.get_collection(COLLECTION).config.metadata or {}
        stored = Bm25Params(k1=float(meta.get("k1", params.k1)), b=float(meta.get("b", params.b)),
                            avg_len=float(meta.get("avg_len", params.avg_len)))
        return ServerLexical(client, stored, local=index.local)
    if not create:
        return None
    client.create_collection(**create_request(params))
    if not index.local:  # local mode matches phrases without an index (and warns about one)
        client.create_payload_index(COLLECTION, WORDS_KEY, field_schema=m.TextIndexParams(
            type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.WHITESPACE, lowercase=False,
            phrase_matching=True), wait=True)
    return ServerLexical(client, params, local=index.local)
