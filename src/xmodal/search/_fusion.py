"""Shared plumbing of the fusion methods: gather per-document entries, order, build hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .hits import Hit, RankedList


@dataclass(frozen=True)
class Entry:
    """Where one document sits in one list."""

    list_index: int
    rank: int  # 1-based
    raw: float


def gather(lists: Sequence[RankedList]) -> dict[str, list[Entry]]:
    """Entries per document id, in the order documents are first seen.

    Raises:
        ValueError: two lists share a name (their scores would collide in ``raw_scores``).
    """
    names = [lst.name for lst in lists]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"two lists are named {dup!r}; list names must be unique")
    entries: dict[str, list[Entry]] = {}
    for li, lst in enumerate(lists):
        for rank, (doc, raw) in enumerate(zip(lst.ids, lst.scores, strict=True), start=1):
            entries.setdefault(doc, []).append(Entry(li, rank, raw))
    return entries


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or limit < 0):
        raise ValueError(f"limit must be None or >= 0, got {limit}")


def ranked_hits(
    lists: Sequence[RankedList],
    entries: dict[str, list[Entry]],
    score: Callable[[list[Entry]], float],
    *,
    limit: int | None,
    calibrated: Callable[[list[Entry]], dict[str, float]] | None = None,
) -> list[Hit]:
    """Fused hits ordered by score (descending), best rank in any list, then id (ascending)."""
    scored = [(score(es), min(e.rank for e in es), doc) for doc, es in entries.items()]
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    if limit is not None:
        scored = scored[:limit]
    hits = []
    for s, _, doc in scored:
        es = entries[doc]
        hits.append(Hit(
            id=doc,
            score=s,
            collection=None,
            raw_scores={lists[e.list_index].name: e.raw for e in es},
            ranks={lists[e.list_index].name: e.rank for e in es},
            calibrated=None if calibrated is None else calibrated(es),
            fused=True,
        ))
    return hits
