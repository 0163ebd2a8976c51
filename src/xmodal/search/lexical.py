"""The lexical (BM25) list of a text query, and its quoted phrases as a filter on every list.

A text query also searches the index's lexical collection
(:mod:`xmodal.index.lexical_store`): one list named ``bm25``, fused with the dense lists by RRF
like any other (its BM25 score and rank show in each hit's ``raw_scores`` / ``ranks``). It
searches the documents of the pass's modalities, as the dense lists do (the router's choice,
the caller's ``modalities``, every one with ``mixed`` or in the fallback; each modality
searched with its modality filter and merged by BM25 score, one collection's scores being
comparable), except that a query naming an id or code (a term with a digit or joined by
``- . / : # + _``) or quoting a phrase searches every document: the router reads topics, not
identifiers, and never hides the lexical list. Unless the caller weights it, the list supports
the dense lists (:data:`SUPPORT_WEIGHT`) or, when the query is mostly a rare id, code or word
the dense hits lack, leads them (:func:`lexical_lead`, with :mod:`xmodal.search.lead`'s
weight), so an exact match is not outvoted by several dense lists agreeing on a near miss.
With ``collections=[...]`` there is no lexical list (it is not a named collection). Image,
audio and vector queries get none.

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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from xmodal.index.filters import leaves, parse_filter
from xmodal.index.lexical import bm25_idf, parse_query, terms
from xmodal.index.lexical_store import LEXICAL_NAME, open_lexical
from xmodal.index.segments import document_of
from xmodal.index.types import CollectionInfo

from .hits import ListName, RankedList
from .lead import lead_weight
from .lists import SearchedList, SearchedLists
from .options import list_filter, list_weight, weighted
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
        weighted: Whether the caller gave the bm25 list a weight (then it is kept as given).
    """

    searched: SearchedList | None
    store: Any
    query: str
    payloads: dict[str, Any]
    trace: tuple[str, ...]
    errors: tuple[str, ...]
    weighted: bool = False


def _code_like(term: str) -> bool:
    """Whether a term is an id or code: it holds a digit or a joiner (``qorvex-5521``)."""
    return any(c.isdigit() or c in "-./:#+_" for c in term)


def exact_cue(query: str) -> bool:
    """Whether ``query`` names an id or code, or quotes a phrase (then every document's text
    is searched, whatever the router chose).

    Example:
        >>> exact_cue("qorvex-5521"), exact_cue('"red bicycle"'), exact_cue("a red bicycle")
        (True, True, False)
    """
    parsed = parse_query(query)
    return bool(parsed.phrases) or any(_code_like(t) for t in parsed.terms)


SUPPORT_WEIGHT = 0.01
"""The bm25 list's RRF weight for an ordinary query: under one rank step of a dense list at the
default depth (a rank-1 BM25 hit adds 0.01/61; ranks 10 and 11 differ by 1/(70·71), 0.012/61),
so with one dense list BM25 breaks its ties and adds its own hits after the dense ones, and
with several it decides between documents they place about equally, never against a clear
dense order. Measured on the Python FAQ (178 questions), where MiniLM alone is the better
list: weight 1 cost 0.06 MRR@10, 0.05 cost 0.011 (paired s.e. 0.011), 0.01 costs nothing."""
RARE_MIN_DOCS = 100
"""Below this many documents, a word's rarity says little: only ids, codes and phrases lead."""
RARE_SHARE = 0.01
"""A query word found in at most this share of the documents (at least 1, at most 3) is rare."""
LEAD_SHARE = 0.5
"""The bm25 list leads only when the rare terms the dense hits lack carry more than this share
of the query's BM25 weight (IDF sum): most of what the query says is a word the dense models
cannot read. On the Python FAQ, questions naming a rare term that sits in another answer carry
at most 0.49 (30 of 178 questions had led without this rule, costing 0.03 MRR@10)."""
COUNT_CAP = 1000
"""A query term's document count is read up to this many documents (one lexical search per
term): a commoner term weighs as if it were in 1,000, a little more than it does, so on a
large index a rare term's share is understated (it leads less often, never more)."""


_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "er", "ies", "es", "ed", "ly", "s")


def _stem(term: str) -> str:
    """A crude English stem (the longest common suffix dropped from a word of 5+ letters), only
    to see that the dense hits hold a rare query word in another form (``generators`` /
    ``generator``); BM25 itself matches terms as typed.

    Example:
        >>> _stem("generators"), _stem("generator"), _stem("qorvex-5521")
        ('generator', 'generator', 'qorvex-5521')
    """
    if not term.isalpha() or len(term) < 5:
        return term
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 4:
            return term[: -len(suffix)]
    return term


def lexical_lead(query: str, store: Any, dense: Sequence[SearchedList] = (),
                 document: Callable[[str], str] = str) -> str | None:
    """Why the bm25 list should lead the fusion for ``query``, or None.

    It leads when the query's rare terms that the dense hits lack carry more than
    :data:`LEAD_SHARE` of the query's BM25 weight (the IDF sum of its terms found in the
    collection): the query is mostly a word or id the dense models cannot read. A term is rare
    in at most :data:`RARE_SHARE` of the documents (1 to 3); ids and codes (a term with a digit
    or a joiner: ``qorvex-5521``) count in any collection and even when a dense top hit holds
    them (other dense lists could outvote that one), plain words only in a collection of at
    least :data:`RARE_MIN_DOCS` documents and only when no dense list's first hit holds them
    (where one does, the dense lists already agree with BM25; lower down, BM25's support weight
    is too small to lift the holder to the top). A rare term among many
    other words does not lead: a question naming a function or a site (``How do I use
    Py_BuildValue() to create a tuple?``) is still read best by the dense models, and the term
    may well sit in another document than the answer. ``document`` maps a hit id to its
    document's (a per-segment hit's to its recording).

    Example:
        >>> lexical_lead("qorvex-5521", None) is None  # no lexical collection
        True
    """
    n = store.count() if store is not None else 0
    if not n:
        return None
    counts = store.term_counts(query, cap=min(n, COUNT_CAP))
    at_most = min(3, max(1, int(n * RARE_SHARE)))
    rare = [t for t, c in counts.items()
            if 0 < c <= at_most and (n >= RARE_MIN_DOCS or _code_like(t))]
    held: set[str] = set()  # the dense first hits' words, stemmed (read only for a rare word)
    if any(not _code_like(t) for t in rare):
        top = sorted({document(s.ranked.ids[0]) for s in dense if s.ranked.ids})
        held = {_stem(w) for ws in store.document_words(top).values() for w in ws}
    missed = [t for t in rare if _code_like(t) or _stem(t) not in held]
    if not missed:
        return None
    # an id's rare parts (qorvex of qorvex-5521) belong to it, even where plain words don't count
    parts = {p for t in missed if _code_like(t) for p in terms(t)
             if 0 < counts.get(p, 0) <= at_most}
    weight = {t: bm25_idf(c, n) for t, c in counts.items() if c}
    share = math.fsum(weight[t] for t in set(missed) | parts) / math.fsum(weight.values())
    return (f"rare terms {missed} that the dense hits lack carry {share:.0%} of the query's "
            "weight") if share > LEAD_SHARE else None


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
    phrases = parse_query(query).phrases
    trace = f"lexical list {LEXICAL_NAME} ({len(rows)}" + (
        f", documents of {wanted})" if wanted else ", every document)") + (
        f", phrases {[' '.join(p) for p in phrases]} required" if phrases else "")
    if not rows:
        return LexicalSearch(None, store, query, {}, (trace,), ())
    name = ListName(LEXICAL_NAME)
    info = CollectionInfo(LEXICAL_NAME, 0, LEXICAL_NAME, "text",
                          card={"family": "bm25", "modalities": []}, backend=store.backend)
    ranked = RankedList(LEXICAL_NAME, tuple(r[1] for r in rows), tuple(r[0] for r in rows),
                        weight=list_weight(request.weights, name))
    searched = SearchedList(name, info, ranked, None, lexical=True)
    return LexicalSearch(searched, store, query, {r[1]: r[2] for r in rows}, (trace,), (),
                         weighted=weighted(request.weights, name))


def add_lexical(searched: SearchedLists, lexical: LexicalSearch | None) -> SearchedLists:
    """``searched`` plus the lexical list, its dense lists cut to the hits holding the query's
    quoted phrases (when the index can check them)."""
    if lexical is None:
        return searched
    lists, trace = list(searched.lists), list(searched.trace)
    phrases = parse_query(lexical.query).phrases

    def document(i: str) -> str:  # a per-segment hit's text is its recording's
        return document_of(i, searched.payloads.get(i, {}))

    if phrases and lexical.store is None:
        trace.append("quoted phrases not enforced: no lexical collection")
    elif phrases:
        ids = sorted({document(i) for s in lists for i in s.ranked.ids})
        keep = lexical.store.phrase_matches(ids, lexical.query)
        dropped = 0
        for n, s in enumerate(lists):
            kept = [(i, sc) for i, sc in zip(s.ranked.ids, s.ranked.scores, strict=True)
                    if document(i) in keep]
            dropped += len(s.ranked) - len(kept)
            lists[n] = replace(s, ranked=replace(s.ranked, ids=tuple(i for i, _ in kept),
                                                 scores=tuple(sc for _, sc in kept)))
        lists = [s for s in lists if len(s.ranked)]
        trace.append(f"phrase filter: dropped {dropped} dense hits without the quoted phrases")
    all_payloads = dict(searched.payloads)
    if lexical.searched is not None:
        own = lexical.searched
        if not lexical.weighted and lists:  # the caller did not weight it
            why = lexical_lead(lexical.query, lexical.store, lists, document)
            weight = lead_weight(s.ranked.weight for s in lists) if why else SUPPORT_WEIGHT
            own = replace(own, ranked=replace(own.ranked, weight=weight))
            trace.append(f"bm25 weighted ×{weight:g}: " + (
                f"{why}, so its order leads and the dense lists break its ties" if why else
                "no id, phrase or rare word the dense hits lack, so it supports them"))
        lists.append(own)
        for i, p in lexical.payloads.items():
            all_payloads.setdefault(i, p)
    return SearchedLists(tuple(lists), all_payloads, (*searched.errors, *lexical.errors),
                         (*trace, *lexical.trace))

