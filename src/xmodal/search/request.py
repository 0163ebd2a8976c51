"""One search, as every front end asks for it: a frozen :class:`SearchRequest`, checked once.

:meth:`Searcher.search <xmodal.search.searcher.Searcher.search>` takes it; the served search
(:class:`~xmodal.api.service.SearchService`), the HTTP body, the MCP ``search`` tool and
``xmodal search`` each build one from their own input, so a search option is defined here and
nowhere else (``tests/api/test_search_fields.py`` fails when a front end lacks a field).

What is checked here needs nothing but the request: exactly one query kind, ``k``, the fusion
name, the modality names, ``rrf_k``, the weights' values, the payload filter, a vector's shape and
its collection, and that a ``rerank`` comes with a text query. What needs the index (collection
names, a vector's dimension) is checked when the search runs; what a server adds (its own ``k``
bound, upload sizes) is checked by the service.

Example:
    >>> req = SearchRequest("a dog barking", k=5, modalities=["audio"])
    >>> req.kind, req.k, req.modalities
    ('text', 5, ('audio',))
    >>> SearchRequest("a dog", image="dog.png")
    Traceback (most recent call last):
    ...
    ValueError: give exactly one of query, image, audio, vector (got query, image)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

import numpy as np

from xmodal.index.types import VectorError
from xmodal.index.validate import check_filter
from xmodal.modalities import MODALITIES, Modality

__all__ = ["MAX_K", "PIVOT_HELP", "RERANK_DEPTH", "RERANK_HELP", "Fusion", "QueryKind",
           "SearchRequest"]

Fusion = Literal["rrf", "calibrated"]
"""How several ranked lists become one: by rank (RRF) or by calibrated probability."""

QueryKind = Literal[Modality, "vector"]
"""What a request searches with: a text query, an example file, or a raw vector."""

MAX_K = 1000
"""The most hits one search returns (a server may allow fewer)."""
RERANK_DEPTH = 50
"""How many text-bearing hits a cross-encoder rescores by default: a few pages of results, at
one cross-encoder pass per (query, hit) pair (:mod:`xmodal.search.rerank`)."""
RERANK_HELP = ("A cross-encoder (a local folder, or a Hub id ORG/NAME[@REVISION] from the Hugging "
               "Face cache) that rescores the top rerank_depth text-bearing hits of a text "
               "query; its list rerank:NAME leads the fusion, the other lists break its ties. "
               "Text queries only.")
"""The front ends' description of ``rerank``."""
PIVOT_HELP = ("Let an image or audio query reach documents no model embeds with it (image → "
              "audio) through text: its nearest captions in its own model's space, searched by "
              "the other model, as one list pivot:MODEL→COLLECTION fused by rank (its scores are "
              "not the query's cosines). Only where no direct route exists; false: off.")
"""The front ends' description of ``pivot``."""

_QUERY_FIELDS: tuple[tuple[str, QueryKind], ...] = (
    ("query", "text"), ("image", "image"), ("audio", "audio"), ("vector", "vector"))


@dataclass(frozen=True, eq=False)
class SearchRequest:
    """A search: one query (text, an example file, or a raw vector) and how to search.

    Built once and checked in ``__post_init__`` (``ValueError`` naming the problem; a vector
    that is not one numeric row raises :class:`~xmodal.index.types.VectorError`). Sequences
    are stored as tuples and mappings read-only. Compared by identity (it may hold an image or
    an array).

    Attributes:
        query: Text query (routed to document modalities unless ``modalities`` / ``mixed``).
        image: An image (path, bytes or PIL image) to find similar documents for.
        audio: An audio clip (path, bytes or array) likewise.
        vector: A raw query vector ``(dim,)`` of ``collection``'s model: searches that one
            collection (normalised to unit length there); its hits carry raw cosines only.
        collection: The collection a ``vector`` searches (required with it); with the other
            query kinds, the same as ``collections=[collection]``.
        collections: Search only these collections (query / image / audio).
        k: Hits wanted, 1..:data:`MAX_K`.
        modalities: Document modalities to search (overrides the router).
        mixed: Search every reachable collection and fuse (all modalities).
        route: Let the router pick document modalities for text queries (else: all).
        fusion: ``"rrf"`` (by rank) or ``"calibrated"`` (by each list's calibrated
            probability; RRF, said in the trace, unless every list has a calibration).
        project: Apply a collection's stored gap projection to the query vector before
            searching it (for comparing raw scores across modalities; rank fusion never needs
            it).
        filter: A payload filter in Qdrant's filter JSON (must / should / must_not, match
            value / any / except / text, range over numbers or ISO-8601 datetimes, nested;
            :mod:`xmodal.index.filters`) or the shorthand ``{"key": value}``, applied in every
            collection searched. A malformed one raises
            :class:`~xmodal.index.filters.FilterError` naming the condition.
        rrf_k: RRF's rank constant (``Σ w / (rrf_k + rank)``; 60 as in the paper).
        weights: RRF weight (>= 0, default 1) per collection name (all its lists) or per list
            name (``"COLLECTION[modality]"``: a text collection filtered to one document
            modality); the names must exist in the index searched.
        per_segment: Return the time segments of long recordings as separate hits (each with
            its own ``t_start`` / ``t_end``), instead of one hit per document carrying its best
            segments (:mod:`xmodal.search.segments`).
        rerank: A cross-encoder (a local folder or a Hub id ``ORG/NAME[@REVISION]``) that
            rescores the top ``rerank_depth`` text-bearing hits of a text query; its list
            ``rerank:NAME`` is fused with the others (:mod:`xmodal.search.rerank`). Text
            queries only: refused with an image, audio or vector query.
        rerank_depth: How many text-bearing hits of the first-stage fusion the cross-encoder
            rescores, 1..:data:`MAX_K` (the lists are searched this deep).
        pivot: Let an image / audio query reach document modalities no model embeds with it
            (image → audio) through text: its nearest captions, searched by the other model
            (:mod:`xmodal.search.pivot`). On by default; only where no direct route exists.
    """

    query: str | None = None
    _: KW_ONLY
    image: Any = None
    audio: Any = None
    vector: np.ndarray | Sequence[float] | None = None
    collection: str | None = None
    collections: Sequence[str] = ()
    k: int = 10
    modalities: Sequence[Modality] = ()
    mixed: bool = False
    route: bool = True
    fusion: Fusion = "rrf"
    project: bool = False
    filter: Mapping[str, Any] | None = None
    rrf_k: float = 60.0
    weights: Mapping[str, float] | None = None
    per_segment: bool = False
    rerank: str | None = None
    rerank_depth: int = RERANK_DEPTH
    pivot: bool = True

    def __post_init__(self) -> None:
        given = [name for name, _ in _QUERY_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, image, audio, vector"
                             + (f" (got {', '.join(given)})" if given else ""))
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise ValueError(f"k must be in [1, {MAX_K}], got {self.k!r}")
        if not isinstance(self.per_segment, bool):
            raise ValueError(f"per_segment must be true or false, got {self.per_segment!r}")
        if not isinstance(self.pivot, bool):
            raise ValueError(f"pivot must be true or false, got {self.pivot!r}")
        if self.fusion not in get_args(Fusion):
            raise ValueError(f"fusion must be 'rrf' or 'calibrated', got {self.fusion!r}")
        _check_rerank(self.rerank, self.rerank_depth, self.kind)
        self._set("collections", _names(self.collections, "collections"))
        self._set("modalities", _modalities(self.modalities))
        if not (isinstance(self.rrf_k, int | float) and math.isfinite(self.rrf_k)
                and self.rrf_k >= 0):
            raise ValueError(f"rrf_k must be a finite number >= 0, got {self.rrf_k}")
        self._set("rrf_k", float(self.rrf_k))
        self._set("weights", _weights(self.weights))
        if self.filter is not None:  # a bad filter is the caller's error, not one per list
            check_filter(self.filter)  # raises FilterError naming the condition
            self._set("filter", MappingProxyType(dict(self.filter)))
        if self.vector is not None:
            if not self.collection or self.collections:
                raise ValueError("a vector query needs the collection the vector belongs to: "
                                 "give collection=NAME, not collections")
            self._set("vector", _row(self.vector))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalising in __post_init__ (frozen)

    @property
    def kind(self) -> QueryKind:
        """What the request searches with: ``"text"``, ``"image"``, ``"audio"``, ``"vector"``."""
        return next(kind for name, kind in _QUERY_FIELDS if getattr(self, name) is not None)

    @property
    def value(self) -> Any:
        """The query itself: the text, the image, the clip or the vector."""
        return next(getattr(self, name) for name, _ in _QUERY_FIELDS
                    if getattr(self, name) is not None)

    @property
    def scope(self) -> frozenset[str]:
        """The collections named by ``collections`` and ``collection`` (empty: all)."""
        return frozenset((*self.collections, *([self.collection] if self.collection else [])))


def _check_rerank(rerank: str | None, depth: int, kind: QueryKind) -> None:
    """Refuse a bad ``rerank_depth``, an empty cross-encoder spec, or a rerank of a query that
    has no text for the cross-encoder to read."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_K:
        raise ValueError(f"rerank_depth must be in [1, {MAX_K}], got {depth!r}")
    if rerank is None:
        return
    if not isinstance(rerank, str) or not rerank.strip():
        raise ValueError(f"rerank must name a cross-encoder (a folder or ORG/NAME), got {rerank!r}")
    if kind != "text":
        article = "a" if kind == "vector" else "an"
        raise ValueError(f"rerank needs a text query: a cross-encoder scores (query text, hit "
                         f"text) pairs, and this is {article} {kind} query")


def _names(names: Sequence[str] | None, what: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise ValueError(f"{what} must be a list of names, got the string {names!r}")
    return tuple(names or ())


def _modalities(modalities: Sequence[str] | None) -> tuple[str, ...]:
    got = _names(modalities, "modalities")
    bad = [m for m in got if m not in MODALITIES]
    if bad:
        raise ValueError(f"unknown modalities {bad}: use text, image or audio")
    return got


def _weights(weights: Mapping[str, float] | None) -> Mapping[str, float] | None:
    if not weights:
        return None
    for name, w in weights.items():
        if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
            raise ValueError(f"weight for {name!r} must be a finite number >= 0, got {w!r}")
    return MappingProxyType({str(name): float(w) for name, w in weights.items()})


def _row(vector: np.ndarray | Sequence[float]) -> np.ndarray:
    """A read-only float64 copy of one query vector, shape (dim,)."""
    try:
        arr = np.array(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise VectorError(f"the query vector is not a numeric (dim,) array: {exc}") from exc
    if arr.ndim != 1:
        raise VectorError(f"a vector query is one vector of shape (dim,), got {arr.shape}")
    arr.setflags(write=False)
    return arr
