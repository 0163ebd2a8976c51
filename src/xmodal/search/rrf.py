"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009).

RRF fuses lists from different models by rank alone, so cosines of different models are never
compared. Our convention is the paper's (also ranx's and Elasticsearch's)::

    score(d) = Σ_lists  w_l / (k + rank_l(d)),   rank 1-based,  k = 60 by default

A document missing from a list gets nothing from that list. Other engines differ: Qdrant's
default is ``k = 2`` with 0-based positions (≈ our ``k = 61``), Chroma uses 0-based ranks with
``k = 60`` (≈ our ``k = 59``). Compare fused scores across engines only after converting.

Ties in the fused score are broken by the document's best (lowest) rank in any list, then by id
(ascending), so the order is deterministic. ranx breaks such ties by dictionary order, so the two
agree on scores but may differ in the order of exactly tied documents. Sums use ``math.fsum``, so
a document's score does not depend on the order of the lists.

The fused score is **not a similarity**: each hit keeps its raw cosine and rank per list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._fusion import Entry, check_limit, gather, ranked_hits
from .hits import Hit, RankedList

__all__ = ["rrf_fuse"]


def rrf_fuse(
    lists: Sequence[RankedList], *, k: float = 60, limit: int | None = None
) -> list[Hit]:
    """Fuse ranked lists with (weighted) reciprocal rank fusion.

    Args:
        lists: One list per collection, best first; names must be unique. Each list's
            ``weight`` (>= 0) multiplies its contributions; a weight of 0 keeps its documents
            (with score contributions of 0) but lets them win no ties on score.
        k: Rank constant (>= 0). 60 is the paper's; this is *not* Qdrant's ``k = 2``.
        limit: Keep this many hits (None keeps all).

    Returns:
        Fused hits, best first, each with ``fused=True``, ``collection=None`` and one entry
        in ``raw_scores`` and ``ranks`` per list that holds the document.

    Raises:
        ValueError: ``k`` < 0 or not finite, a negative weight, duplicate ids in one list,
            duplicate list names, or a negative limit.

    Example:
        >>> a = RankedList("text", ("d1", "d2", "d3"), (0.9, 0.8, 0.7))
        >>> b = RankedList("image", ("d3", "d4", "d1"), (0.4, 0.3, 0.2))
        >>> hits = rrf_fuse([a, b])
        >>> [h.id for h in hits]
        ['d1', 'd3', 'd2', 'd4']
        >>> hits[0].score == 1 / (60 + 1) + 1 / (60 + 3)
        True
        >>> dict(hits[0].ranks), dict(hits[0].raw_scores)
        ({'text': 1, 'image': 3}, {'text': 0.9, 'image': 0.2})
    """
    if isinstance(k, bool) or not (math.isfinite(k) and k >= 0):
        raise ValueError(f"k must be a finite number >= 0 (paper: 60), got {k!r}")
    check_limit(limit)
    entries = gather(lists)

    def score(es: list[Entry]) -> float:
        return math.fsum(lists[e.list_index].weight / (k + e.rank) for e in es)

    return ranked_hits(lists, entries, score, limit=limit)
