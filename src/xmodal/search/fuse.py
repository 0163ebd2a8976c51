"""Stage 3 of a search: the searched lists become one ranking of hits.

One direct list: its hits as they are (``score`` = raw cosine). A lexical or pivot list alone is
still fused by rank (a BM25 score, or a pivot's, is never shown as ``score``). Several: fused by
rank (RRF with the request's ``rrf_k`` and weights), or by calibrated probability when
``fusion="calibrated"`` and every list has a calibrator (else RRF, and the trace says why).
Every hit carries its calibrated probability per calibrated list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .calibrated import Calibrator, calibrated_fuse
from .hits import Hit
from .lists import SearchedLists
from .request import SearchRequest
from .rrf import rrf_fuse
from .segments import ListSegments, with_times

__all__ = ["FusedHits", "fuse_lists"]


@dataclass(frozen=True)
class FusedHits:
    """Hits best first (at most ``k``) and the trace line saying how they were fused."""

    hits: tuple[Hit, ...]
    trace: tuple[str, ...]


def fuse_lists(searched: SearchedLists, request: SearchRequest) -> FusedHits:
    """Fuse the lists of ``searched`` as ``request`` asks (see the module docstring); a hit
    on a time-based document gets the times of its best segments
    (:func:`~xmodal.search.segments.with_times`)."""
    fused = _fuse(searched, request)
    lists = [ListSegments(s.segments, s.ranked.weight) for s in searched.lists]
    return replace(fused, hits=with_times(fused.hits, lists))


def _fuse(searched: SearchedLists, request: SearchRequest) -> FusedHits:
    lists = [s.ranked for s in searched.lists]
    cals = {s.ranked.name: s.calibrator for s in searched.lists if s.calibrator is not None}
    payloads = searched.payloads
    if not lists:
        return FusedHits((), ())
    if len(lists) == 1 and searched.lists[0].direct:
        only, info = lists[0], searched.lists[0].info
        return FusedHits(tuple(
            Hit(i, s, info.name, {only.name: s}, {only.name: r},
                calibrated=_probabilities({only.name: s}, cals), payload=payloads[i])
            for r, (i, s) in enumerate(zip(only.ids, only.scores, strict=True), 1)), ())
    trace: list[str] = []
    if request.fusion == "calibrated":
        missing = [r.name for r in lists if r.name not in cals]
        if not missing:
            fused = calibrated_fuse(lists, cals, combine="max", limit=request.k)
            return FusedHits(tuple(
                Hit(h.id, h.score, None, h.raw_scores, h.ranks, calibrated=h.calibrated,
                    fused=True, payload=payloads[h.id]) for h in fused),
                (f"fused {_lists(len(lists))} by calibrated probability (max)",))
        trace.append(f"calibrated fusion unavailable: no calibration for {missing} "
                     f"({request.kind} queries); fusing by rank instead")
    fused = rrf_fuse(lists, k=request.rrf_k, limit=request.k)
    weighted = ", ".join(f"{r.name} ×{r.weight:g}" for r in lists if r.weight != 1.0)
    trace.append(f"fused {_lists(len(lists))} with RRF (k={request.rrf_k:g}, 1-based ranks"
                 + (f"; weights {weighted})" if weighted else ")"))
    return FusedHits(tuple(
        Hit(h.id, h.score, None, h.raw_scores, h.ranks,
            calibrated=_probabilities(h.raw_scores, cals), fused=True, payload=payloads[h.id])
        for h in fused), tuple(trace))


def _probabilities(raw_scores: Mapping[str, float],
                   cals: Mapping[str, Calibrator]) -> dict[str, float] | None:
    """Calibrated probability per list that has a calibrator; None when none has."""
    probs = {n: float(cals[n](np.float64(s))) for n, s in raw_scores.items() if n in cals}
    return probs or None


def _lists(n: int) -> str:
    """``"1 list"``, ``"2 lists"``: a trace line's count."""
    return f"{n} list" if n == 1 else f"{n} lists"
