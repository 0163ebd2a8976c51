"""The lexical collection of a Qdrant Edge index: a sparse-only ``EdgeShard`` in ``ROOT/_lexical``.

Each document is one point (id :func:`~xmodal.index.validate.point_id` of the document id, as
in the dense collections) with the sparse vector ``bm25`` that ``qdrant_edge.Bm25`` computes
from xmodal's terms joined by spaces (whitespace tokenizer, no lower-casing, stemming or stop
words: :mod:`xmodal.index.lexical` did all that), stored with the IDF modifier, so a query
scores ``Σ idf(t)·weight(t, d)`` exactly as the exact backend does. The payload is the
document's, plus ``_id`` and ``_words`` (its words, under a phrase-matching text index that
``MatchPhrase`` uses for quoted phrases). Filters are mapped as the dense search's are
(:func:`~xmodal.index.filter_qdrant.to_edge`).

Example:
    >>> import tempfile
    >>> from xmodal.index import open_index
    >>> from xmodal.index.lexical_store import open_lexical
    >>> with open_index(tempfile.mkdtemp()) as index:
    ...     lex = open_lexical(index, create=True)
    ...     lex.upsert(["m", "p"], ["memo qorvex-5521", "a red bicycle"])
    ...     lex.search("qorvex-5521", k=5).ids
    2
    ('m',)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xmodal.index.filter_qdrant import to_edge
from xmodal.index.filters import Filter
from xmodal.index.lexical import Bm25Params
from xmodal.index.lexical_store import (
    LEXICAL_DIR,
    LEXICAL_NAME,
    WORDS_KEY,
    PointLexical,
    public_payload,
    read_params,
    write_params,
)
from xmodal.index.qdrant_edge import _edge, _open_shard
from xmodal.index.types import SearchHits
from xmodal.index.validate import RESERVED_PAYLOAD_KEY, point_id

SPARSE_NAME = LEXICAL_NAME


def bm25_config(params: Bm25Params) -> Any:
    """Edge's ``Bm25Config`` for xmodal's terms: whitespace tokens taken as they are."""
    qe = _edge()
    return qe.Bm25Config(k=params.k1, b=params.b, avg_len=params.avg_len,
                         tokenizer=qe.TokenizerType.Whitespace, lowercase=False,
                         stemmer=qe.DisabledStemmer(), stopwords=qe.StopwordsSet(custom=set()))


def _phrase_filter(qe: Any, base: Any, phrases: tuple[tuple[str, ...], ...]) -> Any:
    conds = [qe.FieldCondition(key=WORDS_KEY, match=qe.MatchPhrase(" ".join(p)))
             for p in phrases]
    if not conds:
        return base
    return qe.Filter(must=[*([base] if base is not None else []), *conds])


class EdgeLexical(PointLexical):
    """The lexical ``EdgeShard`` of an Edge index."""

    backend = "qdrant-edge"

    def __init__(self, shard: Any, params: Bm25Params) -> None:
        super().__init__(params)
        self._shard = shard
        self._bm25 = _edge().Bm25(bm25_config(params))
        self._closed = False

    def _upsert(self, rows: list[tuple[str, list[str], list[str], dict[str, Any]]]) -> None:
        qe = _edge()
        points = [qe.Point(point_id(i), {SPARSE_NAME: self._bm25.embed_document(" ".join(t))},
                           {**p, RESERVED_PAYLOAD_KEY: i, WORDS_KEY: " ".join(w)})
                  for i, t, w, p in rows]
        self._shard.update(qe.UpdateOperation.upsert_points(points))

    def _search(self, query_terms: tuple[str, ...], phrases: tuple[tuple[str, ...], ...],
                k: int, flt: Filter) -> SearchHits:
        qe = _edge()
        request = qe.QueryRequest(
            limit=k, with_payload=True,
            query=qe.Query.Nearest(self._bm25.embed_query(" ".join(query_terms)),
                                   using=SPARSE_NAME),
            filter=_phrase_filter(qe, to_edge(flt, qe), phrases))
        points = [p for p in self._shard.query(request) if p.score > 0]
        split = [public_payload(p.payload) for p in points]
        return SearchHits(ids=tuple(s[0] for s in split),
                          scores=np.array([p.score for p in points], dtype=np.float32),
                          payloads=tuple(s[1] for s in split))

    def _count(self, term: str, cap: int) -> int:
        qe = _edge()  # the search without payloads (a document's words are in its payload)
        request = qe.QueryRequest(limit=cap, with_payload=False, query=qe.Query.Nearest(
            self._bm25.embed_query(term), using=SPARSE_NAME))
        return sum(1 for p in self._shard.query(request) if p.score > 0)

    def _records(self, ids: list[str]) -> list[Any]:
        return self._shard.retrieve([point_id(i) for i in ids], with_payload=True,
                                    with_vector=False)

    def _delete(self, ids: list[str]) -> int:
        recs = self._shard.retrieve([point_id(i) for i in ids], with_payload=False,
                                    with_vector=False)
        present = sorted(str(r.id) for r in recs)
        if present:
            self._shard.update(_edge().UpdateOperation.delete_points(present))
        return len(present)

    def count(self) -> int:
        """Number of documents stored."""
        return int(self._shard.count(_edge().CountRequest(exact=True)))

    def close(self) -> None:
        """Flush and close the shard (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                self._shard.flush()
            finally:
                self._shard.close()


def open_edge_lexical(index: Any, create: bool, params: Bm25Params) -> EdgeLexical | None:
    """Open (or with ``create``, make) the lexical shard of an Edge index."""
    qe = _edge()
    folder = Path(index.root) / LEXICAL_DIR
    stored = read_params(folder)
    if stored is not None:
        return EdgeLexical(_open_shard(folder / "shard", None), stored)
    if not create:
        return None
    if folder.exists():  # leftovers of a creation killed before its settings were written
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    config = qe.EdgeConfig(vectors={}, sparse_vectors={
        SPARSE_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)})
    shard = _open_shard(folder / "shard", config)
    shard.update(qe.UpdateOperation.create_field_index(WORDS_KEY, qe.TextIndexParams(
        tokenizer=qe.TokenizerType.Whitespace, lowercase=False, phrase_matching=True)))
    write_params(folder, params)  # last: marks it complete
    return EdgeLexical(shard, params)
