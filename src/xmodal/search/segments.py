"""Time segments in search: a list's points grouped by document, and the times of a hit.

A collection may hold, beside a document's whole-file point, its time segments (a long
recording's windows: :mod:`xmodal.index.segments`). A list searched for documents
(:func:`search_documents`) maps each point to its document (a segment's ``document_id``; a
whole-file point is its own document) and keeps each document once, at the position of its best
point, with that point's raw cosine: so RRF fuses documents, as without segments, and the
segments of one document never crowd the top k. A list is searched for ``k`` points first (what
a collection without segments needs); when grouping leaves fewer than ``k`` documents and the
store had more points, it is searched again, deeper (by the points per document seen, at least
twice as deep), up to :func:`point_cap` points. A document seen only through its segments
counts only when its whole-file point (ingest's commit mark) is in the store: segments a kill
left behind are never a document (except a video's soundtrack and subtitles, whose document's
point is in its image collection: :data:`ELSEWHERE`).

With ``per_segment=True`` nothing is grouped: every segment point is a hit of its own (its id
is the segment's, its times its own span), and so is every whole-file point, except that of a
document whose segments are among the list's points (its places stand for it).

A hit's times (:func:`with_times`) come from the best segment of its document over the lists
that hold segments of it: the best-ranked segment point (its position among the points its list
returned), ties to the higher-weight list, then the earlier list; the next best ones (at most
:data:`MAX_SEGMENTS`, one per time span) are the hit's ``segments``. When the whole-file point
ranked above every segment, the document keeps that rank, and the times still come from its
best segment.

Example:
    >>> ids = ("s1", "s2", "doc-b", "s3")
    >>> pays = ({"representation": "window", "document_id": "doc-a", "t_start": 10.0,
    ...          "t_end": 20.0, "path": "/a.wav"},
    ...         {"representation": "window", "document_id": "doc-a", "t_start": 0.0,
    ...          "t_end": 10.0, "path": "/a.wav"},
    ...         {"representation": "audio", "path": "/b.wav"},
    ...         {"representation": "window", "document_id": "doc-b", "t_start": 0.0,
    ...          "t_end": 10.0, "path": "/b.wav"})
    >>> g = group_points(ids, (0.9, 0.8, 0.7, 0.6), pays, list_name="m.audio")
    >>> g.ids, g.scores, g.payloads[0]["path"]
    (('doc-a', 'doc-b'), (0.9, 0.7), '/a.wav')
    >>> [(s.t_start, s.rank) for s in g.segments["doc-a"]]
    [(10.0, 1), (0.0, 2)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.index.segments import SOUNDTRACK, SUBTITLE, document_of, document_view, is_segment

from .hits import Hit, SegmentHit

if TYPE_CHECKING:
    from xmodal.index.protocols import Collection

__all__ = ["MAX_POINTS", "MAX_SEGMENTS", "GroupedHits", "ListSegments", "group_points",
           "point_cap", "search_documents", "with_times"]

MAX_SEGMENTS = 5
"""The next best segments a hit carries beside its best one."""
MAX_POINTS = 10_000
"""The most points one list is searched for, to find ``k`` documents."""
ELSEWHERE = frozenset({SOUNDTRACK, SUBTITLE})
"""Segments whose document's whole-file point is in another collection (a video's, in its
image collection): not checked for it (a kill between them and the video's commit mark leaves
them findable until the video is ingested again)."""
DEPTH_PER_HIT = 100
"""A list is searched for at most this many points per document wanted (``k``)."""


@dataclass(frozen=True)
class ListSegments:
    """The segments one list found, per document id, and the list's fusion weight."""

    segments: Mapping[str, tuple[SegmentHit, ...]]
    weight: float = 1.0


@dataclass(frozen=True)
class GroupedHits:
    """One list's hits as documents (or as points, per segment), best first.

    Attributes:
        ids: Document ids (per segment: point ids), best first, each once.
        scores: The raw cosine of each one's best point.
        payloads: Each one's payload (a segment's payload without the segment keys when the
            document's own point was not among the hits; per segment: the point's own).
        segments: Per document id, its segment points in this list, best first.
        points: How many points the store returned.
    """

    ids: tuple[str, ...]
    scores: tuple[float, ...]
    payloads: tuple[dict[str, Any], ...]
    segments: Mapping[str, tuple[SegmentHit, ...]] = field(default_factory=dict)
    points: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def top(self, k: int) -> GroupedHits:
        """The first ``k`` (documents' segments kept for those only)."""
        ids = self.ids[:k]
        return GroupedHits(ids, self.scores[:k], self.payloads[:k],
                           {i: self.segments[i] for i in ids if i in self.segments},
                           self.points)

    def without(self, documents: set[str]) -> GroupedHits:
        """These hits but those of ``documents`` (a hit's document: see :func:`document_of`)."""
        keep = [n for n, (i, p) in enumerate(zip(self.ids, self.payloads, strict=True))
                if document_of(i, p) not in documents]
        return GroupedHits(tuple(self.ids[n] for n in keep), tuple(self.scores[n] for n in keep),
                           tuple(self.payloads[n] for n in keep),
                           {d: s for d, s in self.segments.items() if d not in documents},
                           self.points)


def group_points(ids: Sequence[str], scores: Sequence[float],
                 payloads: Sequence[Mapping[str, Any]], *, list_name: str,
                 per_segment: bool = False) -> GroupedHits:
    """Group one list's points (best first) by document; see the module docstring."""
    if per_segment:
        placed = {p["document_id"] for p in payloads if is_segment(p)}
        keep = [n for n, (i, p) in enumerate(zip(ids, payloads, strict=True))
                if is_segment(p) or i not in placed]
        return GroupedHits(tuple(ids[n] for n in keep), tuple(float(scores[n]) for n in keep),
                           tuple(dict(payloads[n]) for n in keep), {}, len(ids))
    order: dict[str, int] = {}
    out_scores: list[float] = []
    out_payloads: list[dict[str, Any]] = []
    segments: dict[str, list[SegmentHit]] = {}
    for rank, (pid, score, payload) in enumerate(zip(ids, scores, payloads, strict=True), 1):
        doc = document_of(pid, payload)
        segment = is_segment(payload)
        if segment:
            segments.setdefault(doc, []).append(SegmentHit(
                float(payload["t_start"]), float(payload["t_end"]), list_name, float(score),
                rank))
        if doc not in order:
            order[doc] = len(order)
            out_scores.append(float(score))
            out_payloads.append(document_view(payload) if segment else dict(payload))
        elif not segment:  # the document's own payload, when a segment came first
            out_payloads[order[doc]] = dict(payload)
    return GroupedHits(tuple(order), tuple(out_scores), tuple(out_payloads),
                       {d: tuple(s) for d, s in segments.items()}, len(ids))


def point_cap(k: int) -> int:
    """The most points a list is searched for to find ``k`` documents.

    Example:
        >>> point_cap(10), point_cap(1000)
        (1000, 10000)
    """
    return max(k, min(MAX_POINTS, k * DEPTH_PER_HIT))


def search_documents(col: Collection, vector: np.ndarray, *, k: int, list_name: str,
                     model: str | None = None, filter: Mapping[str, Any] | None = None,
                     per_segment: bool = False, normalize: bool = False) -> GroupedHits:
    """Search one collection for ``k`` documents (or ``k`` points, ``per_segment``).

    Args:
        col: The collection.
        vector: The query vector, shape (dim,).
        k: Documents wanted.
        list_name: The list's name (the segments' ``list_name``).
        model: The query's model (checked by the collection).
        filter: The list's payload filter (applied to segments too: they carry their
            document's payload).
        per_segment: Every point a hit of its own.
        normalize: Normalise the query vector (a caller's raw vector).

    Returns:
        At most ``k`` hits, best first.
    """
    limit, cap = k, point_cap(k)
    stored: dict[str, bool] = {}  # document id -> its whole-file point is in the store
    while True:
        got = col.search(vector, k=limit, model=model, filter=filter, normalize=normalize)[0]
        grouped = group_points(got.ids, got.scores.tolist(), got.payloads, list_name=list_name,
                               per_segment=per_segment)
        grouped = grouped.without(_orphans(col, got.ids, got.payloads, stored))
        if len(grouped) >= k or len(got) < limit or limit >= cap:
            return grouped.top(k)
        per_doc = len(got) / max(len(grouped), 1)  # points per document so far
        limit = min(cap, max(2 * limit, math.ceil(1.25 * k * per_doc)))


def _orphans(col: Collection, ids: Sequence[str], payloads: Sequence[Mapping[str, Any]],
             stored: dict[str, bool]) -> set[str]:
    """The documents of these segment points whose whole-file point is not in the store (a
    kill between an ingest's segments and its commit mark): they are not documents yet."""
    seen = set(ids)
    ask = sorted({d for i, p in zip(ids, payloads, strict=True)
                  if (d := document_of(i, p)) not in seen and d not in stored
                  and p.get("representation") not in ELSEWHERE})
    if ask:
        stored.update((d, r is not None) for d, r in zip(ask, col.get(ask), strict=True))
    return {d for d, ok in stored.items() if not ok}


def _span_times(hit: Hit, lists: Sequence[ListSegments]) -> Hit:
    if is_segment(hit.payload):  # a per-segment hit: its own span
        return replace(hit, t_start=float(hit.payload["t_start"]),
                       t_end=float(hit.payload["t_end"]))
    found = [(s.rank, -lst.weight, n, s) for n, lst in enumerate(lists)
             for s in lst.segments.get(hit.id, ())]
    if not found:
        return hit
    found.sort(key=lambda t: t[:3])
    seen: set[tuple[float, float]] = set()
    best: list[SegmentHit] = []
    for *_, s in found:
        if (s.t_start, s.t_end) not in seen:
            seen.add((s.t_start, s.t_end))
            best.append(s)
    return replace(hit, t_start=best[0].t_start, t_end=best[0].t_end,
                   segments=tuple(best[1 : 1 + MAX_SEGMENTS]))


def with_times(hits: Sequence[Hit], lists: Sequence[ListSegments]) -> tuple[Hit, ...]:
    """``hits`` with their times (see the module docstring), from the segments each list
    found, in list order.

    Example:
        >>> seg = SegmentHit(30.0, 40.0, "m.audio", 0.7, 2)
        >>> hit = Hit("doc-a", 0.9, "m.audio", {"m.audio": 0.9}, {"m.audio": 1})
        >>> got = with_times([hit], [ListSegments({"doc-a": (seg,)})])[0]
        >>> got.t_start, got.t_end, got.segments
        (30.0, 40.0, ())
    """
    if not any(lst.segments for lst in lists) and not any(is_segment(h.payload) for h in hits):
        return tuple(hits)
    return tuple(_span_times(h, lists) for h in hits)
