"""The lexical (BM25) list of a text query, and its quoted phrases as a filter on every list.

A text query also searches the index's lexical collection
(:mod:`xmodal.index.lexical_store`): one list named ``bm25``, fused with the dense lists by RRF
like any other (its BM25 score and rank show in each hit's ``raw_scores`` / ``ranks``). It
searches the documents of the pass's modalities, as the dense lists do (the router's choice,
the caller's ``modalities``, every one with ``mixed`` or in the fallback; each modality
searched with its modality filter and merged by BM25 score, one collection's scores being
comparable), except that a query naming an id or code (a term with a digit or joined by
``- . / : # + _``) or quoting a phrase searches every document: the router reads topics, not
identifiers, and never hides the lexical list. Such a query also weights the lexical list as
much as the dense lists together (unless the caller gave it a weight), so an exact match is not
outvoted by several dense lists agreeing on a near miss. With
``collections=[...]`` there is no lexical list (it is not a named collection). Image, audio and
vector queries get none.

BM25 scores are not cosines: the list has no calibrator, takes no part in the low-confidence
fallback (:meth:`~xmodal.search.lists.SearchedLists.unconfident` skips it) and, alone, is still
fused by rank, so its score is never shown as a similarity.

Quoted phrases (``"red bicycle"``) must occur in a hit's text, on every list: the lexical list
is searched with a phrase filter (in the store), and dense hits whose document does not hold
every phrase as consecutive words of its lexical text are dropped (the trace says how many).
An index without a lexical collection (made before it existed) keeps working: no lexical list,
phrases not enforced, and a trace line saying so; ``xmodal index`` adds it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from xmodal.index.filters import leaves, parse_filter
from xmodal.index.lexical import parse_query
from xmodal.index.lexical_store import LEXICAL_NAME, open_lexical
from xmodal.index.types import CollectionInfo

from .hits import ListName, RankedList
from .lists import SearchedList, SearchedLists
from .options import list_filter, list_weight
from .request import SearchRequest

__all__ = ["LexicalSearch", "add_lexical", "exact_cue", "lexical_search"]


@dataclass(frozen=True)
class LexicalSearch:
    """The lexical side of one text query.

    Attributes:
        searched: The lexical list (None: none searched, or no hit).
        store: The lexical collection (None when the index has none): checks phrases.
        query: The text query (its quoted phrases filter every list).
        payloads: The stored payload of each lexical hit.
        trace: What was searched, or why nothing was.
        errors: ``"bm25: problem"`` when the lexical search failed.
    """

    searched: SearchedList | None
    store: Any
    query: str
    payloads: dict[str, Any]
    trace: tuple[str, ...]
    errors: tuple[str, ...]


def exact_cue(query: str) -> bool:
    """Whether ``query`` names an id or code, or quotes a phrase (then every document's text
    is searched, whatever the router chose).

    Example:
        >>> exact_cue("qorvex-5521"), exact_cue('"red bicycle"'), exact_cue("a red bicycle")
        (True, True, False)
    """
    parsed = parse_query(query)
    return bool(parsed.phrases) or any(
        any(c.isdigit() or c in "-./:#+_" for c in t) for t in parsed.terms)


def lexical_search(request: SearchRequest, index: Any,
                   modalities: Sequence[str] = ()) -> LexicalSearch | None:
    """Search the lexical list of a text ``request`` (None for other queries), over the
    documents of ``modalities`` (empty: every document; see the module docstring).

    Example:
        >>> import tempfile
        >>> from xmodal.index import open_index
        >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
        ...     lexical_search(SearchRequest("qorvex-5521"), index).trace
        ('no bm25 list: this index has no lexical collection (xmodal index adds it)',)
    """
    if request.kind != "text":
        return None
    query = request.query or ""
    if request.scope:
        return LexicalSearch(None, None, query, {}, ("no bm25 list: collections were given",), ())
    try:
        store = open_lexical(index)
    except Exception as exc:  # a broken lexical store never hides the dense lists
        return LexicalSearch(None, None, query, {}, (), (f"{LEXICAL_NAME}: {exc}",))
    if store is None:
        return LexicalSearch(None, None, query, {}, (f"no {LEXICAL_NAME} list: this index has no "
                                                 "lexical collection (xmodal index adds it)",), ())
    base = request.filter or None
    keys = {c.key for c in leaves(parse_filter(base))}
    everything = request.mixed or (exact_cue(query) and not request.modalities)
    wanted = [] if everything or "modality" in keys else list(request.modalities or modalities)
    try:
        if wanted:  # the caller's modalities: one search each, merged by BM25 score
            parts = [store.search(query, k=request.k,
                                  filter=list_filter(base, ListName(LEXICAL_NAME, m)))
                     for m in wanted]
            rows = heapq.nlargest(request.k, ((float(s), i, p) for got in parts for i, s, p in
                                              zip(got.ids, got.scores, got.payloads,
                                                  strict=True)), key=lambda r: (r[0], r[1]))
            rows.sort(key=lambda r: (-r[0], r[1]))
        else:
            got = store.search(query, k=request.k, filter=base)
            rows = [(float(s), i, p) for i, s, p in zip(got.ids, got.scores, got.payloads,
                                                         strict=True)]
    except Exception as exc:
        return LexicalSearch(None, store, query, {}, (), (f"{LEXICAL_NAME}: {exc}",))
    trace = f"lexical list {LEXICAL_NAME} ({len(rows)}" + (
        f", documents of {wanted})" if wanted else ", every document)") + (
        f", phrases {[' '.join(p) for p in parse_query(query).phrases]} required"
        if parse_query(query).phrases else "")
    if not rows:
        return LexicalSearch(None, store, query, {}, (trace,), ())
    name = ListName(LEXICAL_NAME)
    info = CollectionInfo(LEXICAL_NAME, 0, LEXICAL_NAME, "text",
                          card={"family": "bm25", "modalities": []}, backend=store.backend)
    ranked = RankedList(LEXICAL_NAME, tuple(r[1] for r in rows), tuple(r[0] for r in rows),
                        weight=list_weight(request.weights, name))
    searched = SearchedList(name, info, ranked, None, lexical=True)
    return LexicalSearch(searched, store, query, {r[1]: r[2] for r in rows}, (trace,), ())


def add_lexical(searched: SearchedLists, lexical: LexicalSearch | None) -> SearchedLists:
    """``searched`` plus the lexical list, its dense lists cut to the hits holding the query's
    quoted phrases (when the index can check them)."""
    if lexical is None:
        return searched
    lists, trace = list(searched.lists), list(searched.trace)
    phrases = parse_query(lexical.query).phrases
    if phrases and lexical.store is None:
        trace.append("quoted phrases not enforced: no lexical collection")
    elif phrases:
        ids = sorted({i for s in lists for i in s.ranked.ids})
        keep = lexical.store.phrase_matches(ids, lexical.query)
        dropped = 0
        for n, s in enumerate(lists):
            kept = [(i, sc) for i, sc in zip(s.ranked.ids, s.ranked.scores, strict=True)
                    if i in keep]
            dropped += len(s.ranked) - len(kept)
            lists[n] = replace(s, ranked=replace(s.ranked, ids=tuple(i for i, _ in kept),
                                                 scores=tuple(sc for _, sc in kept)))
        lists = [s for s in lists if len(s.ranked)]
        trace.append(f"phrase filter: dropped {dropped} dense hits without the quoted phrases")
    all_payloads = dict(searched.payloads)
    if lexical.searched is not None:
        own = lexical.searched
        if exact_cue(lexical.query) and own.ranked.weight == 1.0 and len(lists) > 1:
            # an id, a code or a phrase: the lexical list counts as much as the dense ones
            own = replace(own, ranked=replace(own.ranked, weight=float(len(lists))))
            trace.append(f"bm25 weighted ×{len(lists)} (the query names an id, a code or a "
                         "phrase: as much as the dense lists together)")
        lists.append(own)
        for i, p in lexical.payloads.items():
            all_payloads.setdefault(i, p)
    return SearchedLists(tuple(lists), all_payloads, (*searched.errors, *lexical.errors),
                         (*trace, *lexical.trace))

