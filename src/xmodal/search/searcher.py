"""Search an index: cross-modal by default, fused by rank across models and representations,
routed for agents.

A query (text, or an image / audio file for query-by-example) reaches every collection whose
model can embed the query's modality. Which *document* modality it searches:

- text queries: the router decides (:class:`~xmodal.search.router.Router`: rules plus zero-shot
  similarity to modality descriptions) — "the sound of rain" searches audio documents, "a red
  heart emoji" images; an ambiguous query searches several and fuses them;
- image / audio queries: documents of the same modality (find similar), unless told otherwise;
- ``modalities=[...]`` overrides both; ``mixed=True`` searches every reachable collection.

A document modality's lists are its item collections (e.g. ``starter-image.image``: text →
image, cross-modal) and the text collections filtered to its documents (the captions of those
images: text → text). One list gives raw-cosine hits; several are fused with Reciprocal Rank
Fusion (k = 60, 1-based ranks), so scores of different models or modalities are never compared
— each hit keeps its raw cosine and rank per list. Fallback: when no searched list is confident
(each list's best raw cosine below its model's threshold for the query's modality: the
collection's calibration, or a documented default), every reachable collection is searched and
fused, and the trace says so. ``collections=[...]`` restricts all of this to named collections;
``vector=..., collection=NAME`` searches one collection by a raw vector (raw cosines only).

Calibration: when a searched collection stores a calibrator for the query's modality
(``xmodal calibrate``; layout in :mod:`xmodal.calibration.stored`), every hit carries
``calibrated={list: P(relevant)}``; ``fusion="calibrated"`` fuses by those probabilities when
every list has one (else RRF, and the trace says why).

Gap projection — when it applies: xmodal keeps each modality in its own collection, and lists
are fused by rank (or calibrated probability), never by raw cosine, so the modality gap does not
distort any ranking xmodal makes: a constant offset between text and image vectors shifts the
scores of one list uniformly, and within-list order is what counts. A projection only helps a
ranking that mixes both modalities' raw scores (a text query scored against image *and* text
vectors in one list). ``mixed=True`` is not such a ranking here (it fuses one list per
collection), so the projection is never applied implicitly; ``project=True`` applies a
collection's stored projection (text → its modality) to the query vector before searching it,
for callers that compare raw cosines across an item list and a text list. Projected lists get
no calibrated scores (the calibrator was fitted on raw cosines).

Long recordings are time-segmented documents (:mod:`xmodal.index.segments`): a list's
segment points count once per document, at its best point's rank, and each hit carries the
times of its best segments (:mod:`xmodal.search.segments`; ``per_segment=True``: one hit per
segment).

A text query also gets the lexical (BM25) list ``bm25`` of the index, fused by rank like the
others, and its quoted phrases must occur in every hit (:mod:`xmodal.search.lexical`). An
image / audio query's lists of its own modality lead the fusion (direct similarity first), the
caption lists breaking their ties, except in the fallback (:mod:`xmodal.search.lead`).
``rerank=SPEC`` adds a cross-encoder's list over the top text-bearing hits of a text query,
leading the fusion (:mod:`xmodal.search.rerank`; the cross-encoder is loaded once, like the
encoders).

Pivots: an image / audio query for a document modality that no model embeds with it (image →
audio, with an image model and an audio model) goes through text: its nearest captions in its
own model's text collection, re-embedded by the other model and searched there, as one list
``pivot:MODEL_A→COLLECTION_B`` (:mod:`xmodal.search.pivot`; ``pivot=False`` turns it off). A
pivot's scores are not the query's cosines: no calibration, no threshold, no fallback reads
them.

A search runs in four stages, each a function over frozen values: plan
(:func:`~xmodal.search.plan.plan_search`: scope, reachable collections, chosen modalities, trace)
→ ranked lists (:func:`~xmodal.search.lists.search_lists`) → fuse
(:func:`~xmodal.search.fuse.fuse_lists`) → fallback (when
:meth:`~xmodal.search.lists.SearchedLists.unconfident`: lists of every reachable modality, fused).

Example (exact store, vectors only: no encoder is loaded)::

    >>> import tempfile, numpy as np
    >>> from xmodal.index import open_index
    >>> index = open_index("exact:" + tempfile.mkdtemp())
    >>> col = index.create_collection("toy.image", dim=2, model="toy", modality="image")
    >>> _ = col.upsert(["a", "b"], np.eye(2), [{"path": "a.png"}, {"path": "b.png"}])
    >>> result = Searcher(index).search(vector=[0.1, 0.9], collection="toy.image", k=1)
    >>> result.hits[0].payload["path"], result.trace
    ('b.png', ('vector query on toy.image', 'searched toy.image (1)'))
    >>> result == Searcher(index).search(SearchRequest(vector=[0.1, 0.9], collection="toy.image",
    ...                                                k=1))
    True
    >>> index.close()
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal.calibration.stored import StoredCalibration
from xmodal.index.lexical_store import open_lexical
from xmodal.index.protocols import Index
from xmodal.index.types import CollectionInfo
from xmodal.modalities import MODALITIES

from .fuse import fuse_lists
from .hits import Hit, SearchResult
from .lead import example_lead
from .lexical import add_lexical, lexical_search
from .lists import SearchedLists, search_lists
from .pivot import add_pivots
from .plan import plan_search
from .reach import Reachability, probe_holds, reachability
from .request import Fusion, SearchRequest
from .rerank import CrossScorer, add_rerank, load_cross_encoder
from .router import Router, RouteTarget
from .segments import ListSegments, search_documents, with_times
from .thresholds import threshold_for

if TYPE_CHECKING:  # the encoders import torch: loaded on first use only
    from xmodal.encoders.base import Encoder

__all__ = ["MODALITIES", "Fusion", "SearchRequest", "SearchResult", "Searcher"]


class Searcher:
    """Searches one index; loads each collection's model once, on first use.

    Args:
        index: An open index (:func:`xmodal.index.open_index`).
        load: Loads an encoder from a collection's model name (default:
            :func:`xmodal.encoders.load_encoder`).
        router_model: Text model for the router's zero-shot part (a model name in the index, or
            any ``load_encoder`` spec); None: rules only.
        load_reranker: Loads a cross-encoder from a request's ``rerank`` spec (default:
            :func:`~xmodal.search.rerank.load_cross_encoder`).
    """

    def __init__(self, index: Index, *, load: Callable[[str], Encoder] | None = None,
                 router_model: str | None = "minilm",
                 load_reranker: Callable[[str], CrossScorer] = load_cross_encoder) -> None:
        if load is None:
            from xmodal.encoders import load_encoder

            load = load_encoder
        self.index, self._load = index, load
        self._encoders: dict[str, Encoder] = {}
        self._load_reranker = load_reranker
        self._rerankers: dict[str, CrossScorer] = {}
        self._encode_locks: dict[str, threading.Lock] = {}
        self._routers: dict[tuple[Any, ...], Router] = {}
        self._stored: dict[tuple[str, str], StoredCalibration] = {}
        self._lock = threading.Lock()  # guards the caches (searches may run in threads)
        self.collections: list[CollectionInfo] = list(index.collections())
        self.router_model = router_model
        self._reach: Reachability | None = None

    def encoder(self, model: str) -> Encoder:
        """The encoder of a collection's model (loaded once)."""
        with self._lock:
            if model not in self._encoders:
                self._encoders[model] = self._load(model)
                self._encode_locks[model] = threading.Lock()
            return self._encoders[model]

    def reranker(self, spec: str) -> CrossScorer:
        """The cross-encoder of a ``rerank`` spec (loaded once; its calls hold a lock, as the
        encoders' do: tokenizers are not thread-safe)."""
        with self._lock:
            if spec not in self._rerankers:
                self._rerankers[spec] = _Locked(self._load_reranker(spec),  # type: ignore[assignment]
                                                threading.Lock(), prefix="predict")
            return self._rerankers[spec]

    def shared_encoder(self, model: str) -> Encoder:
        """The encoder of ``model`` (the cached one) for another caller in this process, e.g.
        an ingest while the server searches: its ``encode_*`` methods take the same per-model
        lock as the searches, so the model is loaded once and never runs two calls at once."""
        encoder = self.encoder(model)
        return _Locked(encoder, self._encode_locks[model])  # type: ignore[return-value]

    def refresh(self) -> None:
        """Re-read the index's collection list (after an ingest created collections)."""
        self.collections = list(self.index.collections())
        self._reach = None

    def reach(self) -> Reachability:
        """The index's reachability matrix (:mod:`xmodal.search.reach`; read from the store
        once, again after :meth:`refresh`)."""
        got = self._reach
        if got is None:
            collections = self.collections
            got = self._reach = reachability(collections, probe_holds(self.index, collections))
        return got

    def _encode(self, model: str, method: str, values: list[Any]) -> np.ndarray:
        """``encoder(model).<method>(values)``, one call per model at a time: tokenizers (HF
        fast tokenizers among them) are not thread-safe, and a search server runs searches in
        threads."""
        return getattr(self.shared_encoder(model), method)(values)

    def search(self, request: SearchRequest | str | None = None, /,
               **fields: Any) -> SearchResult:
        """Search with a :class:`~xmodal.search.request.SearchRequest`, or build one.

        Args:
            request: The request; or the text query, with the other fields as keywords
                (``searcher.search("a dog barking", k=5)`` is
                ``searcher.search(SearchRequest("a dog barking", k=5))``).
            **fields: The request's fields (see :class:`SearchRequest`), when ``request`` is
                not one.

        Raises:
            ValueError: a bad request (see :class:`SearchRequest`), a weight for no
                collection, or no collection can embed the query.
            CollectionNotFoundError: a named collection does not exist.
            VectorError, CollectionMismatchError: a vector the collection refuses (NaN/Inf,
                zero, another dimension).
        """
        if isinstance(request, SearchRequest):
            if fields:
                raise TypeError("give a SearchRequest or keyword fields, not both")
        elif request is not None:
            request = SearchRequest(request, **fields)
        else:
            request = SearchRequest(**fields)
        if request.kind == "vector":
            return self._vector_search(request)
        plan = plan_search(request, self.collections, route=self._route)  # (1) plan
        embed = functools.cache(functools.partial(self._query_vector, request))
        stored = functools.partial(self._stored_for, request.kind)
        deep = replace(request, k=max(request.k, request.rerank_depth)) if request.rerank \
            else request  # a reranker rescores the first rerank_depth hits

        def lists_of(modalities: tuple[str, ...], fallback: bool = False) -> SearchedLists:
            dense = search_lists(deep, modalities, plan.reachable, index=self.index,
                                 embed=embed, stored=stored)  # (2) ranked lists
            dense = add_pivots(dense, deep, modalities, self.collections, index=self.index,
                               embed=embed, encode_query=self._encode_queries)  # no route: text
            lexical = lexical_search(deep, self.index, modalities)  # text: bm25
            return example_lead(add_lexical(dense, lexical), request,  # example: own leads
                                fallback=fallback)

        searched = lists_of(plan.chosen)
        unreached, missing = self.reach().explain(request.kind, plan.chosen)  # never silent
        trace = [*plan.trace, *unreached, *searched.trace]
        errors = [*missing, *searched.errors]
        why = plan.may_fall_back and searched.unconfident(
            lambda info: self._threshold(info, request.kind))
        if why:  # (4) fallback: no list is confident
            trace += [*fuse_lists(searched, request).trace,
                      f"fallback: no list is confident ({why}): searching every "
                      "reachable collection and fusing by rank"]
            searched = lists_of(plan.doc_modalities, fallback=True)
            trace += searched.trace
            errors += searched.errors
        if request.rerank:  # the pass searched last, rescored by the cross-encoder
            before = len(searched.trace)
            searched = add_rerank(searched, request, self.reranker(request.rerank),
                                  open_lexical(self.index))
            trace += searched.trace[before:]
        fused = fuse_lists(searched, request)  # (3) fuse
        trace += fused.trace
        return SearchResult(hits=fused.hits, trace=tuple(trace),
                            errors=tuple(dict.fromkeys(errors)))  # each error once

    def _vector_search(self, request: SearchRequest) -> SearchResult:
        name = request.collection or ""
        col = self.index.collection(name)  # CollectionNotFoundError
        filt = dict(request.filter) if request.filter else None
        got = search_documents(col, np.asarray(request.vector), k=request.k, list_name=name,
                               filter=filt, per_segment=request.per_segment, normalize=True)
        hits = [Hit(i, s, name, {name: s}, {name: r}, payload=p)
                for r, (i, s, p) in enumerate(zip(got.ids, got.scores, got.payloads,
                                                  strict=True), 1)]
        return SearchResult(hits=with_times(hits, [ListSegments(got.segments)]),
                            trace=(f"vector query on {name}", f"searched {name} ({len(hits)})"),
                            errors=())

    def _encode_queries(self, model: str, texts: list[str]) -> np.ndarray:
        """Texts embedded by ``model`` as its queries (a pivot's texts)."""
        return self._encode(model, "encode_query", texts)

    def _threshold(self, info: CollectionInfo, q_modality: str) -> float:
        """The confidence threshold of a collection's model for this query modality
        (its calibration, else the family default)."""
        return threshold_for(info.card.get("family", ""), info.calibration,
                             query_modality=q_modality)

    def stored(self, info: CollectionInfo, q_modality: str) -> StoredCalibration:
        """A collection's calibrator and projection for queries of ``q_modality`` (cached)."""
        key = (info.name, q_modality)
        with self._lock:
            got = self._stored.get(key)
        if got is None:  # read outside the lock (parsing knots); a race reads it twice
            got = StoredCalibration.read(info.calibration, q_modality)
            with self._lock:
                got = self._stored.setdefault(key, got)
        return got

    def _stored_for(self, q_modality: str, info: CollectionInfo) -> StoredCalibration:
        return self.stored(info, q_modality)

    def _query_vector(self, request: SearchRequest, model: str) -> np.ndarray:
        """The query embedded by ``model`` (text queries through ``encode_query``)."""
        method = "encode_query" if request.kind == "text" else f"encode_{request.kind}"
        return self._encode(model, method, [request.value])[0]

    def _route(self, query: str, reachable: Sequence[CollectionInfo],
               doc_modalities: Sequence[str]) -> tuple[list[str], list[str]]:
        """The router's document modalities for a text query, and its trace lines."""
        trace: list[str] = []
        targets = tuple(RouteTarget(c.name, c.model, c.modality if c.modality in MODALITIES
                                    else "text", _summary(c)) for c in reachable)
        model = self.router_model
        if model:
            try:
                self.encoder(model)
            except Exception as exc:  # the router works on rules alone
                trace.append(f"router: no zero-shot ({model}: {exc})")
                model = None
        key = (targets, model)
        router = self._routers.get(key)
        if router is None:  # built once per target set: it embeds the modality descriptions
            embed = None if model is None else (
                lambda texts: self._encode(model, "encode_text", texts))
            router = self._routers[key] = Router(targets, embed_text=embed)
        route = router.route(query)
        chosen = [m for m in route.modalities if m in doc_modalities] or sorted(doc_modalities)
        trace.append(f"router: {route.reason}")
        return chosen, trace


class _Locked:
    """An encoder whose ``encode_*`` calls (a reranker's ``predict``) hold a lock; every other
    attribute passes through."""

    def __init__(self, encoder: Any, lock: threading.Lock, *, prefix: str = "encode_") -> None:
        self._encoder, self._lock, self._prefix = encoder, lock, prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if not (name.startswith(self._prefix) and callable(attr)):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


def _summary(info: CollectionInfo) -> str:
    card = info.card
    return f"{info.model} ({card.get('family', '?')}, {info.dim}-d): {info.modality} documents"
