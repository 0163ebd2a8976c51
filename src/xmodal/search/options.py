"""Checks and lookups for the options of :meth:`Searcher.search` (fusion constant and weights,
payload filters): small pure functions, kept out of the searcher's control flow."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["allows_modality", "check_fusion", "list_weight"]


def check_fusion(rrf_k: float, weights: Mapping[str, float] | None,
                 collections: Sequence[Any]) -> None:
    """Refuse a bad RRF constant, a negative or non-finite weight, or a weight for a name that
    is neither a collection nor one of its lists."""
    if not (math.isfinite(rrf_k) and rrf_k >= 0):
        raise ValueError(f"rrf_k must be a finite number >= 0, got {rrf_k}")
    names = {c.name for c in collections}
    for name, w in (weights or {}).items():
        if name.split("[")[0] not in names:
            raise ValueError(f"weight for {name!r}: no such collection")
        if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
            raise ValueError(f"weight for {name!r} must be a finite number >= 0, got {w!r}")


def list_weight(weights: Mapping[str, float] | None, list_name: str) -> float:
    """A list's weight: its own entry, else its collection's, else 1."""
    if not weights:
        return 1.0
    return float(weights.get(list_name, weights.get(list_name.split("[")[0], 1.0)))


def allows_modality(filter: Mapping[str, Any] | None, modality: str) -> bool:
    """Whether a payload filter's ``modality`` (if any) admits ``modality``."""
    want = (filter or {}).get("modality")
    return want is None or modality in (want if isinstance(want, (list, tuple)) else [want])
