"""Fusion by calibrated score: map each model's raw cosines to probabilities, then combine.

Raw cosines of different models live on different scales (a SigLIP match may score 0.1, a BGE
non-match 0.7), so they are never compared directly. A *calibrator* per model (fitted on labelled
pairs, e.g. isotonic or Platt scaling) maps a raw cosine to the probability that the pair is
relevant; probabilities of different models are comparable, so they can be combined:

- ``"max"``: the highest ``w_l · p_l`` over the lists that hold the document (default; one
  confident model is enough);
- ``"mean"``: the weighted mean ``Σ w_l p_l / Σ w_l`` over the lists that hold the document
  (a document's absence from a truncated list is not evidence against it);
- ``"sum"``: ``Σ w_l p_l`` (CombSUM; rewards agreement between models; can exceed 1).

Ties are broken like RRF: best (lowest) rank in any list, then id ascending.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np

from ._fusion import Entry, check_limit, gather, ranked_hits
from .hits import Hit, RankedList

__all__ = ["Calibrator", "calibrated_fuse"]

Calibrator = Callable[[np.ndarray], np.ndarray]
"""Maps raw scores (float64 array) to probabilities of relevance in [0, 1], elementwise."""

Combine = Literal["max", "mean", "sum"]


def _calibrate(lst: RankedList, calibrator: Calibrator) -> list[float]:
    raw = np.asarray(lst.scores, dtype=np.float64)
    probs = np.asarray(calibrator(raw), dtype=np.float64)
    if probs.shape != raw.shape:
        raise ValueError(f"calibrator of {lst.name!r} returned shape {probs.shape}, "
                         f"expected {raw.shape}")
    if not (np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))):
        raise ValueError(f"calibrator of {lst.name!r} returned values outside [0, 1]")
    return [float(p) for p in probs]


def calibrated_fuse(
    lists: Sequence[RankedList],
    calibrators: Mapping[str, Calibrator],
    *,
    combine: Combine = "max",
    limit: int | None = None,
) -> list[Hit]:
    """Fuse ranked lists by calibrated probability of relevance.

    Args:
        lists: One list per collection, best first; names must be unique.
        calibrators: Calibrator per list name (the list's model, per query type).
        combine: How per-list probabilities become one score (see the module docstring).
        limit: Keep this many hits (None keeps all).

    Returns:
        Fused hits, best first, with ``fused=True``, ``collection=None``, and per list that
        holds the document its raw score, rank and calibrated probability.

    Raises:
        ValueError: a list without a calibrator, a calibrator returning values outside [0, 1]
            or of the wrong shape, an unknown ``combine``, duplicate names or a negative limit.

    Example:
        >>> a = RankedList("clip", ("d1", "d2"), (0.30, 0.20))
        >>> b = RankedList("bge", ("d2", "d3"), (0.85, 0.70))
        >>> cal = {"clip": lambda s: np.clip((s - 0.1) * 4, 0, 1),
        ...        "bge": lambda s: np.clip((s - 0.6) * 2, 0, 1)}
        >>> [(h.id, round(h.score, 2)) for h in calibrated_fuse([a, b], cal)]
        [('d1', 0.8), ('d2', 0.5), ('d3', 0.2)]
    """
    if combine not in ("max", "mean", "sum"):
        raise ValueError(f"combine must be 'max', 'mean' or 'sum', got {combine!r}")
    check_limit(limit)
    missing = [lst.name for lst in lists if lst.name not in calibrators]
    if missing:
        raise ValueError(f"no calibrator for list(s) {missing}; raw scores of different "
                         "models cannot be fused without one (use rrf_fuse instead)")
    entries = gather(lists)
    probs = [_calibrate(lst, calibrators[lst.name]) for lst in lists]

    def p(e: Entry) -> float:
        return probs[e.list_index][e.rank - 1]

    def w(e: Entry) -> float:
        return lists[e.list_index].weight

    def score(es: list[Entry]) -> float:
        if combine == "max":
            return max(w(e) * p(e) for e in es)
        if combine == "sum":
            return math.fsum(w(e) * p(e) for e in es)
        total = math.fsum(w(e) for e in es)
        return math.fsum(w(e) * p(e) for e in es) / total if total > 0 else 0.0

    def calibrated(es: list[Entry]) -> dict[str, float]:
        return {lists[e.list_index].name: p(e) for e in es}

    return ranked_hits(lists, entries, score, limit=limit, calibrated=calibrated)
