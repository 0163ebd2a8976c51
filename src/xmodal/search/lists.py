"""Stage 2 of a search: one ranked list per (reachable collection, document modality).

A document modality's lists are its item collections (``emoji.image``: text → image, cross-modal)
and each text collection filtered to that modality's documents (``emoji.text[image]``: the
captions of those images, text → text). Every list keeps its raw cosines, its collection's
calibrator for the query's modality (none where the query vector was projected: calibrators
are fitted on raw, unprojected cosines) and the payloads of its documents. A list's points are
grouped by document (a long recording's time segments count once, at its best point's rank:
:mod:`xmodal.search.segments`), unless the request asks for hits per segment. A list that fails
(a model that will not load, a broken store) becomes an error line; the others still count.

The result also answers stage 4's question (:meth:`SearchedLists.unconfident`): is any list's
best raw cosine at or above its model's threshold?
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xmodal.calibration.stored import StoredCalibration
from xmodal.index.protocols import Index
from xmodal.index.types import CollectionInfo

from .calibrated import Calibrator
from .hits import ListName, RankedList, SegmentHit
from .options import allows_modality, list_filter, list_weight
from .request import SearchRequest
from .segments import search_documents
from .thresholds import needs_fallback

__all__ = ["SearchedList", "SearchedLists", "search_lists"]


@dataclass(frozen=True)
class SearchedList:
    """One non-empty list a search produced.

    Attributes:
        name: The list's name (``str(name)`` is ``ranked.name``).
        info: The collection searched.
        ranked: Its ids and raw cosines, best first, with the list's fusion weight.
        calibrator: Raw cosine → probability for the query's modality, or None.
        lexical: A lexical (BM25) list: its scores are not cosines (no calibrator, no part
            in the low-confidence fallback; :mod:`xmodal.search.lexical`).
        pivot: A pivot list: its scores are the pivot texts' cosines to the documents, not the
            query's (no calibrator, no part in the fallback; :mod:`xmodal.search.pivot`).
        segments: Per document id, the time segments of it this list found, best first.
    """

    name: ListName
    info: CollectionInfo
    ranked: RankedList
    calibrator: Calibrator | None
    lexical: bool = False
    segments: Mapping[str, tuple[SegmentHit, ...]] = field(default_factory=dict)
    pivot: bool = False

    @property
    def direct(self) -> bool:
        """Whether its scores are the query's own cosines (neither BM25 nor a pivot's)."""
        return not (self.lexical or self.pivot)


@dataclass(frozen=True)
class SearchedLists:
    """The lists of one pass over the collections (empty lists left out).

    Attributes:
        lists: In search order (collection, then document modality).
        payloads: Stored payload per document id (the first list holding it).
        errors: ``"COLLECTION: problem"`` per list that failed.
        trace: The projection line (if any) and ``"searched NAME (n), ..."``.
    """

    lists: tuple[SearchedList, ...]
    payloads: Mapping[str, Mapping[str, Any]]
    errors: tuple[str, ...]
    trace: tuple[str, ...]

    def unconfident(self, threshold: Callable[[CollectionInfo], float]) -> str | None:
        """None when some direct list's best raw cosine reaches ``threshold(its collection)``;
        else why not (``"NAME top < threshold, ..."``, or ``"no hits"``). Lexical lists (BM25
        scores, not cosines) and pivot lists (not the query's cosines) are not asked."""
        limits = [(s.ranked.name, s.ranked.scores[0], threshold(s.info)) for s in self.lists
                  if s.direct]
        if not all(needs_fallback(top, limit) for _, top, limit in limits):
            return None
        return ", ".join(f"{name} {top:.3f} < {limit:.3f}"
                         for name, top, limit in limits) or "no hits"


def search_lists(request: SearchRequest, modalities: Sequence[str],
                 reachable: Sequence[CollectionInfo], *, index: Index,
                 embed: Callable[[str], np.ndarray],
                 stored: Callable[[CollectionInfo], StoredCalibration]) -> SearchedLists:
    """Search every list of ``modalities`` in the ``reachable`` collections.

    Args:
        request: The search (its ``k``, ``filter``, ``project`` and ``weights`` apply).
        modalities: Document modalities to search, in order.
        reachable: Collections whose model embeds the query's modality.
        index: The index holding them.
        embed: The query vector for a model name.
        stored: A collection's calibrator and projection for the query's modality.
    """
    found: list[SearchedList] = []
    errors: list[str] = []
    projected: list[str] = []
    payloads: dict[str, Mapping[str, Any]] = {}
    for info, name in _list_names(reachable, modalities, request.filter):
        try:
            calibration = stored(info)
            vec = embed(info.model)
            if request.project and calibration.projection is not None:
                vec = calibration.projection.transform(vec, source="a")
                projected.append(str(name))
            got = search_documents(index.collection(info.name), vec, k=request.k,
                                   list_name=str(name), model=info.model,
                                   filter=list_filter(request.filter, name),
                                   per_segment=request.per_segment)
        except Exception as exc:  # one broken collection never hides the others
            errors.append(f"{info.name}: {exc}")
            continue
        if not len(got):
            continue
        ranked = RankedList(str(name), got.ids, got.scores,
                            weight=list_weight(request.weights, name))
        raw_only = str(name) in projected  # calibrators are fitted on unprojected cosines
        found.append(SearchedList(name, info, ranked,
                                  None if raw_only else calibration.calibrator,
                                  segments=got.segments))
        for i, p in zip(got.ids, got.payloads, strict=True):
            payloads.setdefault(i, p)
    trace = [f"gap projection of the {request.kind} query applied to {', '.join(projected)} "
             "(no calibrated scores there)"] if projected else []
    trace.append("searched " + (", ".join(f"{s.ranked.name} ({len(s.ranked)})" for s in found)
                                or "no collection directly"))
    return SearchedLists(tuple(found), payloads, tuple(errors), tuple(trace))


def _list_names(reachable: Sequence[CollectionInfo], modalities: Sequence[str],
                filter: Mapping[str, Any] | None) -> list[tuple[CollectionInfo, ListName]]:
    """The lists to search: an item collection of a chosen modality is one list; a text
    collection is one list per chosen modality its filter admits (its documents' captions)."""
    names = []
    for info in reachable:
        for doc_modality in modalities:
            if info.modality == "text":
                if allows_modality(filter, doc_modality):
                    names.append((info, ListName(info.name, doc_modality)))
            elif info.modality == doc_modality:
                names.append((info, ListName(info.name)))
    return names
