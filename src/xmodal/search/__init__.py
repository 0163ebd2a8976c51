"""Search: fusion of ranked lists across models, and the agent router's decisions.

A search is one :class:`SearchRequest` (checked once), run by
:class:`~xmodal.search.searcher.Searcher` into a :class:`SearchResult` whose JSON
(:class:`SearchJSON`, one :class:`HitJSON` per hit) every front end serves.

Fusion never compares raw cosines of different models: ``rrf_fuse`` fuses by rank,
``calibrated_fuse`` by calibrated probability. Every ``Hit`` keeps its raw score and rank per
list; a fused ``Hit.score`` is not a similarity.

Example:
    >>> from xmodal.search import RankedList, rrf_fuse
    >>> hits = rrf_fuse([RankedList("a", ("x", "y"), (0.9, 0.5)),
    ...                  RankedList("b", ("y", "x"), (0.7, 0.2))])
    >>> [(h.id, h.fused) for h in hits]
    [('x', True), ('y', True)]
"""

from __future__ import annotations

from .calibrated import Calibrator, calibrated_fuse
from .hits import Hit, HitJSON, ListName, RankedList, SearchJSON, SearchResult
from .request import SearchRequest
from .router import (
    DEFAULT_DESCRIPTIONS,
    DEFAULT_THRESHOLDS,
    Route,
    Router,
    RouterTrace,
    RouteTarget,
    needs_fallback,
    threshold_for,
)
from .rrf import rrf_fuse
from .thresholds import calibration_for

__all__ = [
    "DEFAULT_DESCRIPTIONS",
    "DEFAULT_THRESHOLDS",
    "Calibrator",
    "Hit",
    "HitJSON",
    "ListName",
    "RankedList",
    "Route",
    "RouteTarget",
    "Router",
    "RouterTrace",
    "SearchJSON",
    "SearchRequest",
    "SearchResult",
    "calibrated_fuse",
    "calibration_for",
    "needs_fallback",
    "rrf_fuse",
    "threshold_for",
]
