"""Lists that lead the fusion: their order first, the other lists breaking its ties.

RRF with equal weights lets two lists that agree on a near miss outvote one list holding the
right answer first. Where some lists are known to judge a query best, they *lead*: each gets
:func:`lead_weight` (:data:`LEAD_FACTOR` times the other lists' total weight, at least 1), so
their order decides, and the other lists only break their ties and add the hits they lack after
theirs. Two rules use it:

- the ``bm25`` list of a text query that is mostly a rare id or word the dense models cannot
  read (:func:`xmodal.search.lexical.lexical_lead`);
- the lists of an example query's own modality (:func:`example_lead`): an image query's image
  vectors (image documents, video frames), an audio query's audio vectors (audio documents,
  recording spans, soundtracks) rank by direct similarity, as users of CLIP-retrieval-style
  tools expect; the cross-modal lists (the captions, in the model's text collection) follow.
  Several such lists (two image models) lead together, with equal weights.

The low-confidence fallback (no list's best raw cosine reaches its threshold, the own
modality's included) fuses its lists with equal weights, as before: there direct similarity is
no better a judge than the captions, and a leading own list would fill the top ``k`` with the
very documents the fallback looks beyond (its decision reads raw cosines, and is unchanged).

A weight the caller gives (``SearchRequest.weights``, for a list or its collection) is kept as
given: that list neither leads nor is re-weighted. Calibrated fusion multiplies probabilities by
the weights, so an example query fused by calibrated probability (every list calibrated) gets no
lead: its probabilities are already comparable. The trace says which lists lead and why.

Example:
    >>> lead_weight([1.0, 1.0]), lead_weight([0.01])
    (128.0, 64.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

from .lists import SearchedList, SearchedLists
from .options import weighted
from .request import SearchRequest

__all__ = ["LEAD_FACTOR", "example_lead", "lead_weight"]

LEAD_FACTOR = 64.0
"""A leading list's weight, per unit of the other lists' weight: above 62, a leading rank 1
beats rank 2 plus the others' first place (w/61 − w/62 > 1/61), so the others only break its
ties and add hits it lacks. Deeper down the margin shrinks (ranks r and r + 1 differ by
w/((60+r)(61+r))): from rank 2 on, a hit the other lists all place first can pass the hit just
above it in the leading order, but up to rank 27 never one two places above
(w/(60+r) − w/(62+r) > 1/61)."""


def lead_weight(others: Iterable[float]) -> float:
    """The weight of a list that leads lists of these weights (see :data:`LEAD_FACTOR`)."""
    return LEAD_FACTOR * max(math.fsum(others), 1.0)


def _own(searched: SearchedList, kind: str) -> bool:
    """Whether a list holds vectors of the query's own modality (image → image)."""
    return not searched.lexical and searched.info.modality == kind


def example_lead(searched: SearchedLists, request: SearchRequest, *,
                 fallback: bool = False) -> SearchedLists:
    """``searched`` with the lists of an example query's own modality leading (see the module
    docstring); unchanged for a text or vector query, or when nothing would change.

    Args:
        searched: The lists of one pass.
        request: The search.
        fallback: The pass is the low-confidence fallback: no lead (said in the trace).
    """
    kind = request.kind
    if kind not in ("image", "audio"):
        return searched
    lists = searched.lists
    leaders = [n for n, s in enumerate(lists)
               if _own(s, kind) and not weighted(request.weights, s.name)]
    others = [s for s in lists if not _own(s, kind)]
    if not leaders or not others:
        return searched
    if fallback:
        return replace(searched, trace=(*searched.trace, f"no {kind} lead in the fallback: no "
                                        "list was confident, so its lists keep their weights"))
    if request.fusion == "calibrated" and all(s.calibrator is not None for s in lists):
        return replace(searched, trace=(*searched.trace, f"no {kind} lead: calibrated fusion "
                                        "compares probabilities, not ranks"))
    kept = [s.ranked.name for n, s in enumerate(lists) if _own(s, kind) and n not in leaders]
    weight = lead_weight(s.ranked.weight for n, s in enumerate(lists) if n not in leaders)
    out = tuple(replace(s, ranked=replace(s.ranked, weight=weight)) if n in leaders else s
                for n, s in enumerate(lists))
    names = [lists[n].ranked.name for n in leaders]
    line = (f"{', '.join(names)} weighted ×{weight:g}: a query by {kind} ranks by direct "
            f"({kind} → {kind}) similarity, so {'their' if len(names) > 1 else 'its'} order "
            f"leads and the cross-modal lists {[s.ranked.name for s in others]} break "
            "ties and add their hits after" + (f"; {kept} weighted as given" if kept else ""))
    return replace(searched, lists=out, trace=(*searched.trace, line))
