"""The lexical collection of an index: one BM25 sparse vector per document, beside the dense ones.

Every index may hold one lexical collection, named :data:`LEXICAL_NAME` (``"bm25"``), keyed by
the same document ids as the dense points and carrying the same payloads (so filters apply and
RRF fuses by id). It is not a dense collection: it is not in ``Index.collections()``, embeds no
query and has no model; :func:`open_lexical` opens it (``create=True`` makes it, as ingest does).
Where it lives:

- exact: ``ROOT/_lexical/`` (``lexical.json`` settings, ``data.json`` terms, words, payloads;
  rewritten atomically); BM25 computed here in float64 (:mod:`xmodal.index.lexical`);
- Qdrant Edge: ``ROOT/_lexical/shard``, a sparse vector ``bm25`` with the IDF modifier whose
  document weights ``qdrant_edge.Bm25`` computes (:mod:`xmodal.index.lexical_edge`);
- Qdrant server: the collection ``_xmodal_bm25``, BM25 inferred by the server
  (:mod:`xmodal.index.lexical_server`).

The tokenizer is xmodal's on every backend (the stores get the terms joined by spaces and a
whitespace tokenizer), so the three rank alike. A search's ``filter`` takes the same validation
and evaluation as the backend's dense search; quoted phrases are a hard filter (each must occur
as consecutive words of the document's lexical text).

Example:
    >>> import tempfile
    >>> from xmodal.index import open_index
    >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
    ...     lex = open_lexical(index, create=True)
    ...     lex.upsert(["m", "p"], ["memo qorvex-5521 shipped", "photo of a red bicycle"],
    ...                [{"modality": "text"}, {"modality": "image"}])
    ...     hits = lex.search('qorvex-5521', k=5)
    ...     phrase = lex.search('"red bicycle"', k=5)
    2
    >>> hits.ids, phrase.ids, round(float(hits.scores[0]), 3)
    (('m',), ('p',), 3.472)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.index import _meta
from xmodal.index.exact import top_k
from xmodal.index.filters import Filter, matches
from xmodal.index.lexical import (
    Bm25Params,
    bm25_idf,
    contains_phrase,
    parse_query,
    term_weights,
    terms,
    words,
)
from xmodal.index.types import Record, SearchHits
from xmodal.index.validate import (
    RESERVED_PAYLOAD_KEY,
    check_filter,
    check_ids,
    check_payloads,
)

__all__ = ["LEXICAL_DIR", "LEXICAL_NAME", "WORDS_KEY", "ExactLexical", "LexicalCollection",
           "open_lexical"]

LEXICAL_NAME = "bm25"
"""The lexical collection's name, and the name of its ranked list in search results."""

LEXICAL_DIR = "_lexical"
"""Its folder inside a local index folder (not a collection folder: never listed as one)."""

WORDS_KEY = "_words"
"""Payload key of a lexical point holding its words (for phrase filters); never returned."""

SETTINGS_FILE = "lexical.json"


class LexicalCollection:
    """What every backend's lexical collection offers (validation here, storage in subclasses).

    Args:
        params: The BM25 constants (fixed when the collection is created).
    """

    name = LEXICAL_NAME
    backend = ""

    def __init__(self, params: Bm25Params) -> None:
        self.params = params

    def upsert(self, ids: Sequence[str], texts: Sequence[str],
               payloads: Sequence[Mapping[str, Any] | None] | None = None) -> int:
        """Store (or replace) each document's lexical text; a text without any term deletes
        the document's point instead. Returns how many were stored.

        Raises:
            VectorError: bad ids or payloads (as for a dense upsert), or a count mismatch.
        """
        id_list = check_ids(ids)
        if len(texts) != len(id_list):
            raise ValueError(f"{len(texts)} texts for {len(id_list)} ids")
        pls = check_payloads(payloads, id_list)
        rows = [(i, terms(t), words(t), p) for i, t, p in zip(id_list, texts, pls, strict=True)]
        keep = [r for r in rows if r[1]]
        empty = [r[0] for r in rows if not r[1]]
        if empty:
            self.delete(empty)
        if keep:
            self._upsert(keep)
        return len(keep)

    def search(self, query: str, k: int = 10, *,
               filter: Mapping[str, Any] | None = None) -> SearchHits:
        """The top-``k`` documents by BM25 for ``query`` (its quoted phrases must occur).

        Raises:
            ValueError: a bad ``k`` or ``filter`` (the dense search's rules).
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        flt = check_filter(filter)
        parsed = parse_query(query)
        if not parsed.terms:
            return SearchHits((), np.zeros(0, np.float32), ())
        return self._search(parsed.terms, parsed.phrases, k, flt)

    def term_counts(self, query: str, *, cap: int) -> dict[str, int]:
        """How many documents hold each term of ``query`` (stop words dropped as in a search),
        counted up to ``cap`` (a term in more documents counts ``cap``: one search per term,
        never deeper than ``cap`` hits).

        Example:
            >>> import tempfile
            >>> from xmodal.index import open_index
            >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
            ...     lex = open_lexical(index, create=True)
            ...     _ = lex.upsert(["a", "b", "c"], ["the tizpud", "the cat", "a cat"])
            ...     lex.term_counts("the tizpud cat zork", cap=10)
            {'tizpud': 1, 'cat': 2, 'zork': 0}
        """
        return {t: self._count(t, cap) for t in dict.fromkeys(parse_query(query).terms)}

    def document_words(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The words of each stored id's lexical text, in order (absent ids left out)."""
        return self._words(sorted(set(ids)))

    def phrase_matches(self, ids: Sequence[str], query: str) -> set[str]:
        """The ids among ``ids`` whose lexical text holds every quoted phrase of ``query``."""
        phrases = parse_query(query).phrases
        found = self.document_words(ids)
        return {i for i, w in found.items() if all(contains_phrase(w, p) for p in phrases)}

    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """The stored payload of each id (no vector), None where absent."""
        found = self._get(sorted(set(ids))) if ids else {}
        return [found.get(i) for i in ids]

    def delete(self, ids: Sequence[str]) -> int:
        """Delete ids; returns how many were present."""
        id_list = sorted(set(ids))
        return self._delete(id_list) if id_list else 0

    def stats(self) -> dict[str, Any]:
        """Name, kind, backend, count and the BM25 constants."""
        p = self.params
        return {"name": self.name, "kind": "lexical", "backend": self.backend,
                "count": self.count(), "k1": p.k1, "b": p.b, "avg_len": p.avg_len}

    # -- backend primitives -----------------------------------------------------------------
    def _upsert(self, rows: list[tuple[str, list[str], list[str], dict[str, Any]]]) -> None:
        raise NotImplementedError

    def _search(self, query_terms: tuple[str, ...], phrases: tuple[tuple[str, ...], ...],
                k: int, flt: Filter) -> SearchHits:
        raise NotImplementedError

    def _count(self, term: str, cap: int) -> int:
        """Documents holding ``term``, up to ``cap`` (a backend may count without reading the
        payloads a search returns)."""
        return len(self._search((term,), (), cap, check_filter(None)))

    def _words(self, ids: list[str]) -> dict[str, list[str]]:
        raise NotImplementedError

    def _get(self, ids: list[str]) -> dict[str, Record]:
        raise NotImplementedError

    def _delete(self, ids: list[str]) -> int:
        raise NotImplementedError

    def count(self) -> int:
        """Number of documents stored."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the store (idempotent)."""


def public_payload(payload: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A stored lexical point's document id and payload (less the reserved keys).

    Example:
        >>> public_payload({"_id": "m", "_words": "memo", "path": "/m.txt"})
        ('m', {'path': '/m.txt'})
    """
    p = dict(payload or {})
    doc_id = str(p.pop(RESERVED_PAYLOAD_KEY))
    p.pop(WORDS_KEY, None)
    return doc_id, p


class PointLexical(LexicalCollection):
    """A lexical collection kept as Qdrant points (Edge and the server): a document's words
    and payload are read back from its point (:meth:`_records`)."""

    def _records(self, ids: list[str]) -> list[Any]:
        raise NotImplementedError

    def _words(self, ids: list[str]) -> dict[str, list[str]]:
        return {str(r.payload[RESERVED_PAYLOAD_KEY]): str(r.payload.get(WORDS_KEY, "")).split()
                for r in self._records(ids)}

    def _get(self, ids: list[str]) -> dict[str, Record]:
        found = (public_payload(r.payload) for r in self._records(ids))
        return {doc_id: Record(doc_id, None, payload) for doc_id, payload in found}


def read_params(folder: Path) -> Bm25Params | None:
    """The settings of a local lexical collection, or None when the index has none."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return None
    data = _meta.read_json(path)
    return Bm25Params(k1=float(data["k1"]), b=float(data["b"]), avg_len=float(data["avg_len"]))


def write_params(folder: Path, params: Bm25Params) -> None:
    """Write the settings (last, when creating: they mark the collection complete)."""
    _meta.write_json_atomic(folder / SETTINGS_FILE, {
        "name": LEXICAL_NAME, "kind": "lexical", "format": 1,
        "k1": params.k1, "b": params.b, "avg_len": params.avg_len})


class ExactLexical(LexicalCollection):
    """The exact backend's lexical collection: everything in memory, mirrored to JSON."""

    backend = "exact"

    def __init__(self, folder: Path, params: Bm25Params) -> None:
        super().__init__(params)
        self._folder = folder
        path = folder / "data.json"
        data = _meta.read_json(path) if path.is_file() else {}
        self._docs: dict[str, dict[str, Any]] = data.get("docs", {})

    def _write(self, docs: dict[str, dict[str, Any]]) -> None:
        _meta.write_json_atomic(self._folder / "data.json", {"docs": docs})
        self._docs = docs

    def _upsert(self, rows: list[tuple[str, list[str], list[str], dict[str, Any]]]) -> None:
        docs = dict(self._docs)
        for doc_id, t, w, p in rows:
            docs[doc_id] = {"terms": t, "words": w, "payload": p}
        self._write(docs)

    def _search(self, query_terms: tuple[str, ...], phrases: tuple[tuple[str, ...], ...],
                k: int, flt: Filter) -> SearchHits:
        ids = sorted(self._docs)
        weights = [term_weights(self._docs[i]["terms"], self.params) for i in ids]
        n = len(ids)  # IDF over the whole collection, as Qdrant's IDF modifier does
        idf = {t: bm25_idf(sum(1 for w in weights if t in w), n) for t in query_terms}
        scores = np.full(n, -np.inf)  # (n,)
        for row, (doc_id, w) in enumerate(zip(ids, weights, strict=True)):
            doc = self._docs[doc_id]
            if flt and not matches(flt, doc["payload"]):
                continue
            if not all(contains_phrase(doc["words"], p) for p in phrases):
                continue
            s = math.fsum(idf[t] * w[t] for t in query_terms if t in w)
            if s > 0:
                scores[row] = s
        rows = top_k(scores, np.array(ids, dtype=str), k)
        return SearchHits(ids=tuple(ids[r] for r in rows),
                          scores=scores[rows].astype(np.float32),
                          payloads=tuple(dict(self._docs[ids[r]]["payload"]) for r in rows))

    def _count(self, term: str, cap: int) -> int:
        return min(cap, sum(1 for d in self._docs.values() if term in d["terms"]))

    def _words(self, ids: list[str]) -> dict[str, list[str]]:
        return {i: list(self._docs[i]["words"]) for i in ids if i in self._docs}

    def _get(self, ids: list[str]) -> dict[str, Record]:
        return {i: Record(i, None, dict(self._docs[i]["payload"])) for i in ids
                if i in self._docs}

    def _delete(self, ids: list[str]) -> int:
        gone = {i for i in ids if i in self._docs}
        if gone:
            self._write({i: d for i, d in self._docs.items() if i not in gone})
        return len(gone)

    def count(self) -> int:
        """Number of documents stored."""
        return len(self._docs)


def _open_exact(index: Any, create: bool, params: Bm25Params) -> LexicalCollection | None:
    folder = Path(index.root) / LEXICAL_DIR
    stored = read_params(folder)
    if stored is None:
        if not create:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        ExactLexical(folder, params)._write({})
        write_params(folder, params)
        stored = params
    return ExactLexical(folder, stored)


def open_lexical(index: Any, *, create: bool = False,
                 params: Bm25Params | None = None) -> LexicalCollection | None:
    """The index's lexical collection (opened once per index object), or None without one.

    Args:
        index: An open index (exact, Qdrant Edge or Qdrant server).
        create: Create it when missing (ingest does; searches never create it).
        params: BM25 constants of a new collection (default :class:`Bm25Params`); an existing
            one keeps its own.

    Returns:
        The lexical collection, or None when the index has none (and ``create`` is False) or
        its backend has no lexical support.
    """
    cached = getattr(index, "_lexical", None)
    if cached is not None:
        return cached
    params = params or Bm25Params()
    backend = getattr(index, "backend", "")
    if backend == "exact":
        got = _open_exact(index, create, params)
    elif backend == "qdrant-edge":
        from xmodal.index.lexical_edge import open_edge_lexical

        got = open_edge_lexical(index, create, params)
    elif backend == "qdrant-server":
        from xmodal.index.lexical_server import open_server_lexical

        got = open_server_lexical(index, create, params)
    else:
        return None
    if got is not None:
        index._lexical = got  # closed with the index (IndexBase.close)
    return got


def lexical_stats(index: Any) -> dict[str, Any] | None:
    """The lexical collection's :meth:`~LexicalCollection.stats`, or None without one.

    Example:
        >>> import tempfile
        >>> from xmodal.index import open_index
        >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
        ...     lexical_stats(index)
    """
    lex = open_lexical(index)
    return None if lex is None else lex.stats()

