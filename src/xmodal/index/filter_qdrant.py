"""The payload filters of :mod:`xmodal.index.filters` as Qdrant's own objects: Qdrant Edge's
(:func:`to_edge`, with the payload indexes xmodal made in mind) and ``qdrant-client``'s
(:func:`to_qdrant_models`, for a Qdrant server).

Example:
    >>> from xmodal.index.filters import parse_filter
    >>> import qdrant_edge as qe
    >>> to_edge(parse_filter({"ext": "png"}), qe) is not None, to_edge(parse_filter(None), qe)
    (True, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xmodal.index.filters import (
    BOUNDS,
    CLAUSES,
    Condition,
    Filter,
    MatchAny,
    MatchExcept,
    MatchText,
    MatchValue,
    Range,
    _iso,
)

__all__ = ["to_edge", "to_qdrant_models"]


class _Both(tuple):
    """Two Edge conditions that must both hold (an integer match and its range)."""

    __slots__ = ()

    def __new__(cls, *conditions: Any) -> _Both:
        return super().__new__(cls, conditions)


def _never(qe: Any, key: str) -> Any:
    return qe.FieldCondition(key=key, match=qe.MatchAny([]))  # measured: matches nothing


def to_edge(flt: Filter, qe: Any, indexed: Mapping[str, str] | None = None) -> Any:
    """``flt`` as a ``qdrant_edge.Filter`` (None when empty).

    Args:
        flt: The filter.
        qe: The ``qdrant_edge`` module.
        indexed: The index kind of each indexed key (:data:`IndexKind` names): a range of the
            other kind on an indexed key matches nothing (Qdrant would compare it through the
            index, e.g. numbers against timestamps).
    """
    import numpy as np  # a Python bool reaches qdrant-edge-py 0.9 as the integer 1: np.bool_

    kinds = indexed or {}

    def cond(c: Condition) -> Any:
        if isinstance(c, Filter):
            return filt(c)
        if isinstance(c, MatchValue):
            value = np.bool_(c.value) if isinstance(c.value, bool) else c.value
            return _with_range(c.key, [value], qe.FieldCondition(key=c.key,
                                                                 match=qe.MatchValue(value)))
        if isinstance(c, MatchAny):
            return _with_range(c.key, list(c.values), qe.FieldCondition(
                key=c.key, match=qe.MatchAny(list(c.values))))
        if isinstance(c, MatchExcept):
            return qe.FieldCondition(key=c.key, match=qe.MatchExcept(list(c.values)))
        if isinstance(c, MatchText):
            return qe.FieldCondition(key=c.key, match=qe.MatchText(c.text))
        if isinstance(c, Range):
            if kinds.get(c.key) == "datetime":
                return _never(qe, c.key)
            return qe.FieldCondition(key=c.key, range=qe.RangeFloat(
                gt=c.gt, gte=c.gte, lt=c.lt, lte=c.lte))
        if kinds.get(c.key) in ("float", "integer"):
            return _never(qe, c.key)
        return qe.FieldCondition(key=c.key, range=qe.RangeDateTime(**{
            b: _iso(getattr(c, b)) for b in BOUNDS if getattr(c, b) is not None}))

    def _with_range(key: str, values: list[Any], match: Any) -> Any:
        """An integer match on a float-indexed key, with the range of its values beside it
        (same points: the match keeps Qdrant's semantics, the range uses the index)."""
        if kinds.get(key) != "float" or not values or not all(
                isinstance(v, int) and not isinstance(v, bool | np.bool_) for v in values):
            return match
        span = qe.FieldCondition(key=key, range=qe.RangeFloat(
            gte=float(min(values)), lte=float(max(values))))
        return _Both(span, match)

    def filt(f: Filter) -> Any:
        out: dict[str, list[Any]] = {}
        for clause in CLAUSES:
            for c in getattr(f, clause):
                got = cond(c)
                if isinstance(got, _Both):  # flat in a must (Qdrant's planner reads the range's
                    out.setdefault(clause, []).extend(  # index there), nested elsewhere
                        got if clause == "must" else [qe.Filter(must=list(got))])
                else:
                    out.setdefault(clause, []).append(got)
        return qe.Filter(**out)

    return filt(flt) if flt else None


def to_qdrant_models(flt: Filter, models: Any) -> Any:
    """``flt`` as a ``qdrant_client.models.Filter`` (None when empty).

    Example:
        >>> from qdrant_client import models
        >>> from xmodal.index.filters import parse_filter
        >>> to_qdrant_models(parse_filter({"n": 3}), models).must[0].match.value
        3
    """
    def cond(c: Condition) -> Any:
        if isinstance(c, Filter):
            return filt(c)
        if isinstance(c, MatchValue):
            return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.value))
        if isinstance(c, MatchAny):
            return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.values)))
        if isinstance(c, MatchExcept):
            return models.FieldCondition(key=c.key, match=models.MatchExcept(
                **{"except": list(c.values)}))
        if isinstance(c, MatchText):
            return models.FieldCondition(key=c.key, match=models.MatchText(text=c.text))
        bounds = {b: getattr(c, b) for b in BOUNDS if getattr(c, b) is not None}
        if isinstance(c, Range):
            return models.FieldCondition(key=c.key, range=models.Range(**bounds))
        return models.FieldCondition(key=c.key, range=models.DatetimeRange(**bounds))

    def filt(f: Filter) -> Any:
        return models.Filter(**{clause: [cond(c) for c in getattr(f, clause)]
                                for clause in CLAUSES if getattr(f, clause)})

    return filt(flt) if flt else None
