"""Stage 1 of a search: what it searches, decided from the request and the index's collections.

In order: the scope (``collections`` / ``collection``, else every collection), the reachable
collections (those whose model embeds the query's modality), the document modalities they hold,
and the ones searched first:

1. ``mixed``: every reachable document modality;
2. ``modalities``: the caller's;
3. a text query with ``route``: the router's choice;
4. otherwise: an example's own modality (find similar), or every modality for text.

When the router or the query modality chose (1 and 2 are the caller's word) and other document
modalities are reachable, the search may fall back to all of them (stage 4, in the searcher).

Example:
    >>> from xmodal.index.types import CollectionInfo
    >>> infos = [CollectionInfo("e.image", 2, "m", "image", card={"modalities": ["text", "image"]}),
    ...          CollectionInfo("e.text", 2, "m", "text", card={"modalities": ["text", "image"]})]
    >>> plan = plan_search(SearchRequest(image="cat.png"), infos, route=None)
    >>> [c.name for c in plan.reachable], plan.chosen, plan.doc_modalities, plan.may_fall_back
    (['e.image', 'e.text'], ('image',), ('image', 'text'), True)
    >>> plan.trace
    ("image query: documents of modality ['image']",)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xmodal.index.types import CollectionInfo, CollectionNotFoundError

from .options import check_weight_names
from .pivot import pivot_names
from .reach import SUGGESTED
from .request import SearchRequest
from .rerank import rerank_name

__all__ = ["Route", "SearchPlan", "choose_modalities", "plan_search"]

Route = Callable[[str, Sequence[CollectionInfo], Sequence[str]], tuple[list[str], list[str]]]
"""The router: (text query, reachable collections, document modalities) → (the document
modalities to search, the trace lines saying why)."""


@dataclass(frozen=True)
class SearchPlan:
    """What one search searches.

    Attributes:
        reachable: The collections in scope whose model embeds the query's modality.
        doc_modalities: Every document modality reachable (sorted): what a fallback searches.
        chosen: The document modalities searched first, in search order.
        may_fall_back: Whether an unconfident first search widens to ``doc_modalities``.
        trace: What was decided and why, in order.
    """

    reachable: tuple[CollectionInfo, ...]
    doc_modalities: tuple[str, ...]
    chosen: tuple[str, ...]
    may_fall_back: bool
    trace: tuple[str, ...]


def plan_search(request: SearchRequest, collections: Sequence[CollectionInfo], *,
                route: Route | None) -> SearchPlan:
    """Scope, reachable collections and document modalities of a text / image / audio query.

    Args:
        request: The search (not a vector query: that one searches its own collection).
        collections: Every collection of the index.
        route: The router, asked for a text query with ``route=True`` (None: every modality).

    Raises:
        CollectionNotFoundError: a named collection does not exist.
        ValueError: a weight names no collection, or no collection in scope can embed the
            query.
    """
    check_weight_names(request.weights, collections,
                       ([rerank_name(request.rerank)] if request.rerank else [])
                       + pivot_names(collections, request.kind))
    trace: list[str] = []
    scope = list(collections)
    if request.scope:
        missing = sorted(request.scope - {c.name for c in collections})
        if missing:
            raise CollectionNotFoundError(f"no collection named {missing[0]!r}")
        scope = [c for c in collections if c.name in request.scope]
        trace.append(f"collections given: {sorted(request.scope)}")
    kind = request.kind
    reachable = tuple(c for c in scope if kind in c.card.get("modalities", ()))
    if not reachable:
        raise ValueError(f"no {'given ' if request.scope else ''}collection in this index has "
                         f"a model that embeds {kind} queries: add one (xmodal index FOLDER "
                         f"--{kind}-model {SUGGESTED.get(kind, 'MODEL')})")
    held = {c.modality for c in reachable} | ({"image", "audio"} & {c.modality for c in scope})
    chosen, why = choose_modalities(request, reachable, sorted(held), route)
    may_fall_back = not (request.mixed or request.modalities) and bool(held - set(chosen))
    return SearchPlan(reachable, tuple(sorted(held)), tuple(chosen), may_fall_back,
                      (*trace, *why))


def choose_modalities(request: SearchRequest, reachable: Sequence[CollectionInfo],
                      doc_modalities: Sequence[str],
                      route: Route | None) -> tuple[list[str], list[str]]:
    """The document modalities searched first, and the trace lines saying why (see the
    module docstring for the order of the rules)."""
    kind = request.kind
    if request.mixed:
        chosen = sorted(doc_modalities)
        return chosen, [f"mixed: every reachable document modality {chosen}, fused by rank"]
    if request.modalities:
        chosen = list(request.modalities)
        return chosen, [f"modalities given: {chosen}"]
    if kind == "text" and request.route and route is not None:
        return route(request.query or "", reachable, doc_modalities)
    chosen = [kind] if kind != "text" else sorted(doc_modalities)
    return chosen, [f"{kind} query: documents of modality {chosen}"]
