"""Result types of search: one ``RankedList`` per list searched (named by a ``ListName``),
``Hit`` per document (with its best time segments, ``SegmentHit``), and a ``SearchResult``
whose JSON (``HitJSON`` per hit, ``SearchJSON``) is the one shape every front end serves:
``xmodal search --json``, ``POST /search`` (its response model) and the MCP ``search`` tool
(its output schema).

A ``Hit`` keeps every number that produced it: the raw score (cosine) and 1-based rank in each
list that held the document, the calibrated probability per list when fusion used calibrators,
and the final ``score``.

.. warning::
   ``Hit.score`` means two different things. For a hit from one list (``fused=False``) it is that
   list's raw cosine similarity. For a fused hit (``fused=True``) it is a fusion score (an RRF sum,
   or a combination of calibrated probabilities): **not a similarity**. Never show or threshold a
   fused score where a cosine is expected; read ``raw_scores`` for the cosines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from typing_extensions import TypedDict  # pydantic reads this one below Python 3.12

from xmodal.index.metadata import payload_metadata
from xmodal.index.segments import is_segment

__all__ = ["Hit", "HitJSON", "ListName", "RankedList", "SearchJSON", "SearchResult",
           "SegmentHit", "SegmentJSON"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if mapping is None else MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SegmentHit:
    """A time segment of a hit's document that one list found (:mod:`xmodal.search.segments`).

    Attributes:
        t_start: Where the segment starts in the document, in seconds.
        t_end: Where it ends, in seconds.
        list_name: The list that found it.
        score: Its raw cosine in that list.
        rank: Its 1-based position among the points that list returned (segments and whole
            documents alike): how the segments of a document are ordered across lists.

    Example:
        >>> SegmentHit(40.0, 50.0, "clap.audio", 0.82, 1).t_end
        50.0
    """

    t_start: float
    t_end: float
    list_name: str
    score: float
    rank: int


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        id: Document id.
        score: The raw cosine when ``fused`` is False; the fused score when ``fused`` is True.
            A fused score is **not a similarity** (see the module docstring).
        collection: The collection the hit came from, or None for a fused hit (the lists that
            held it are the keys of ``raw_scores``).
        raw_scores: Raw score (cosine) per list name, one entry per list that holds the document.
        ranks: 1-based rank per list name, same keys as ``raw_scores``.
        calibrated: Probability of relevance per list name, when calibrated fusion made the hit.
        fused: Whether ``score`` is a fusion score rather than a raw cosine.
        payload: Stored metadata of the document (read-only).
        t_start: For a time-based document (a long recording): the start, in seconds, of its
            best segment (the best-ranked segment point over the lists holding its segments;
            ties: the higher-weight list). The document's rank comes from its best point,
            which may be its whole-file vector: the times still come from the best segment.
            A per-segment hit: its own span. None for a document without segments.
        t_end: The end of that segment, in seconds (None likewise).
        segments: The document's next best segments, best first (at most
            :data:`~xmodal.search.segments.MAX_SEGMENTS`; empty for per-segment hits).

    Example:
        >>> h = Hit("cat.png", 0.31, "emoji/lit", {"emoji/lit": 0.31}, {"emoji/lit": 1})
        >>> h.fused, h.raw_score, h.fused_score
        (False, 0.31, None)
    """

    id: str
    score: float
    collection: str | None
    raw_scores: Mapping[str, float]
    ranks: Mapping[str, int]
    calibrated: Mapping[str, float] | None = None
    fused: bool = False
    payload: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    t_start: float | None = None
    t_end: float | None = None
    segments: tuple[SegmentHit, ...] = ()

    def __post_init__(self) -> None:
        if set(self.raw_scores) != set(self.ranks):
            raise ValueError("raw_scores and ranks must have the same list names")
        if (self.t_start is None) != (self.t_end is None):
            raise ValueError(f"hit {self.id!r}: give both t_start and t_end, or neither")
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "raw_scores", _frozen(self.raw_scores))
        object.__setattr__(self, "ranks", _frozen(self.ranks))
        object.__setattr__(self, "calibrated", _frozen(self.calibrated))
        object.__setattr__(self, "payload", _frozen(self.payload))

    @property
    def metadata(self) -> dict[str, Any]:
        """The document's metadata: its payload minus the system keys (``path``, ``caption``…)."""
        return payload_metadata(self.payload)

    @property
    def raw_score(self) -> float | None:
        """The raw cosine of an unfused hit; None for a fused hit (read ``raw_scores``)."""
        return None if self.fused else self.score

    @property
    def fused_score(self) -> float | None:
        """The fusion score of a fused hit; None for an unfused one."""
        return self.score if self.fused else None


@dataclass(frozen=True)
class RankedList:
    """One result list from one collection (one model, one modality), best first.

    The rank of a document is its 1-based position in ``ids``; ``scores`` are the raw scores
    (cosines) that the collection returned, kept for display and calibration. Ranks come from
    positions, not from sorting the scores, so a store's own tie order is respected.

    Attributes:
        name: The list's name, usually the collection (unique among lists being fused).
        ids: Document ids, best first, without duplicates.
        scores: Raw score per id, same length as ``ids``.
        weight: Fusion weight of the whole list (>= 0).

    Example:
        >>> lst = RankedList("docs/minilm", ("a", "b"), (0.9, 0.4))
        >>> lst.rank_of("b"), [h.score for h in lst.to_hits()]
        (2, [0.9, 0.4])
    """

    name: str
    ids: tuple[str, ...]
    scores: tuple[float, ...]
    weight: float = 1.0

    def __post_init__(self) -> None:
        ids, scores = tuple(self.ids), tuple(float(s) for s in self.scores)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "scores", scores)
        if len(ids) != len(scores):
            raise ValueError(f"list {self.name!r}: {len(ids)} ids but {len(scores)} scores")
        seen: set[str] = set()
        for doc in ids:
            if doc in seen:
                raise ValueError(f"list {self.name!r}: duplicate id {doc!r}")
            seen.add(doc)
        if any(math.isnan(s) for s in scores):
            raise ValueError(f"list {self.name!r}: NaN score")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"list {self.name!r}: weight must be finite and >= 0, "
                             f"got {self.weight}")

    def __len__(self) -> int:
        return len(self.ids)

    def rank_of(self, doc_id: str) -> int | None:
        """1-based rank of ``doc_id`` in this list, or None if absent."""
        try:
            return self.ids.index(doc_id) + 1
        except ValueError:
            return None

    def to_hits(self) -> list[Hit]:
        """Unfused hits of this list alone: ``score`` is the raw score."""
        return [
            Hit(i, s, self.name, {self.name: s}, {self.name: r})
            for r, (i, s) in enumerate(zip(self.ids, self.scores, strict=True), start=1)
        ]


@dataclass(frozen=True)
class ListName:
    """The name of one ranked list: a collection (``doc_modality`` None), or a text collection
    filtered to the documents of one modality (its captions), shown ``"COLLECTION[modality]"``.

    Example:
        >>> str(ListName("emoji.text", "image")), str(ListName("emoji.image"))
        ('emoji.text[image]', 'emoji.image')
        >>> ListName.parse("emoji.text[image]")
        ListName(collection='emoji.text', doc_modality='image')
    """

    collection: str
    doc_modality: str | None = None

    def __str__(self) -> str:
        if self.doc_modality is None:
            return self.collection
        return f"{self.collection}[{self.doc_modality}]"

    @classmethod
    def parse(cls, name: str) -> ListName:
        """The list name shown as ``name`` (a hit's ``raw_scores`` key, a weight's name)."""
        collection, bracket, rest = name.partition("[")
        return cls(collection, rest.removesuffix("]") if bracket else None)


class SegmentJSON(TypedDict):
    """A time segment of a hit's document: its span in seconds, the list that found it and
    its raw cosine there."""

    t_start: float
    t_end: float
    list: str
    score: float


class HitJSON(TypedDict):
    """One hit as JSON: ``xmodal search --json``, ``POST /search`` and the MCP tool.

    ``collection`` is the collection of the hit's best-ranked list (a pivot list's: the collection
    it searched, :mod:`xmodal.search.pivot`); ``score`` a raw cosine, or
    a fusion score when ``fused`` (not a similarity); ``raw_scores`` and ``ranks`` per list
    name; ``calibrated`` the probability per calibrated list (None when none is calibrated);
    ``metadata`` the document's metadata (automatic keys such as ``ext``, ``width``, ``mtime``,
    and the user's side-car / ``captions.jsonl`` keys). ``document_id`` is the hit's document
    (its ``id``, except for a per-segment hit, whose ``id`` is the segment's). For a
    time-based document (a long recording), ``t_start`` / ``t_end`` are the seconds of its
    best segment and ``segments`` its next best ones; None and ``[]`` otherwise.
    """

    id: str
    document_id: str
    path: str | None
    modality: str | None
    collection: str
    rank: int
    score: float
    fused: bool
    raw_scores: dict[str, float]
    ranks: dict[str, int]
    caption: str | None
    calibrated: dict[str, float] | None
    metadata: dict[str, Any]
    t_start: float | None
    t_end: float | None
    segments: list[SegmentJSON]


class SearchJSON(TypedDict):
    """Hits best first, what was decided and why (trace), and what went wrong (errors)."""

    hits: list[HitJSON]
    trace: list[str]
    errors: list[str]


@dataclass(frozen=True)
class SearchResult:
    """Hits (best first), what was decided and why, and what went wrong.

    Example:
        >>> hit = Hit("d1", 0.031, None, {"a.image": 0.4, "a.text[image]": 0.8},
        ...           {"a.image": 2, "a.text[image]": 1}, fused=True, payload={"path": "d1.png"})
        >>> data = SearchResult((hit,), ("fused 2 lists",), ()).to_json()
        >>> data["hits"][0]["collection"], data["hits"][0]["caption"]
        ('a.text', None)
    """

    hits: tuple[Hit, ...]
    trace: tuple[str, ...]
    errors: tuple[str, ...]

    def to_json(self) -> SearchJSON:
        """The JSON agents read (:class:`SearchJSON`): hits with raw scores, ranks and
        calibrated probabilities per list, trace, errors."""
        return SearchJSON(hits=[_hit_json(rank, hit) for rank, hit in enumerate(self.hits, 1)],
                          trace=list(self.trace), errors=list(self.errors))


def _collection_of(list_name: str) -> str:
    """The collection a list's hits come from; a pivot list's (``pivot:MODEL→COLLECTION``,
    :mod:`xmodal.search.pivot`) is the collection after the arrow."""
    if list_name.startswith("pivot:") and "→" in list_name:
        return list_name.rpartition("→")[2]
    return ListName.parse(list_name).collection


def _hit_json(rank: int, hit: Hit) -> HitJSON:
    best = hit.collection or min(hit.ranks, key=lambda name: hit.ranks[name])
    doc = str(hit.payload["document_id"]) if is_segment(hit.payload) else hit.id
    return HitJSON(
        id=hit.id, document_id=doc, path=hit.payload.get("path"),
        modality=hit.payload.get("modality"),
        collection=_collection_of(best), rank=rank, score=hit.score,
        fused=hit.fused, raw_scores=dict(hit.raw_scores), ranks=dict(hit.ranks),
        caption=hit.payload.get("caption"),
        calibrated=None if hit.calibrated is None else dict(hit.calibrated),
        metadata=hit.metadata, t_start=hit.t_start, t_end=hit.t_end,
        segments=[SegmentJSON(t_start=s.t_start, t_end=s.t_end, list=s.list_name, score=s.score)
                  for s in hit.segments])
