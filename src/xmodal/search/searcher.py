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
(``xmodal calibrate``; layout in :mod:`xmodal.search.stored`), every hit carries
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

Example (exact store, a toy encoder)::

    searcher = Searcher(open_index("exact:/tmp/idx"))
    result = searcher.search("a dog barking", k=5)
    print(result.hits[0].payload["path"], result.trace)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from xmodal.index.types import CollectionNotFoundError, VectorError
from xmodal.index.validate import check_filter
from xmodal.modalities import MODALITIES

from .calibrated import calibrated_fuse
from .hits import Hit, RankedList
from .options import allows_modality, check_fusion, list_weight
from .router import Router, RouteTarget
from .rrf import rrf_fuse
from .stored import StoredCalibration
from .thresholds import needs_fallback, threshold_for

Fusion = Literal["rrf", "calibrated"]


@dataclass(frozen=True)
class SearchResult:
    """Hits (best first), what was decided and why, and what went wrong."""

    hits: tuple[Hit, ...]
    trace: tuple[str, ...]
    errors: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON agents read: hits with raw scores, ranks and calibrated probabilities per
        list (``"calibrated"``: None when no list of the hit is calibrated), trace, errors."""
        out = []
        for rank, hit in enumerate(self.hits, 1):
            best = hit.collection or min(hit.ranks, key=lambda name: hit.ranks[name])
            best = best.split("[")[0]  # a list name: collection[doc modality]
            out.append({
                "id": hit.id, "path": hit.payload.get("path"),
                "modality": hit.payload.get("modality"), "collection": best, "rank": rank,
                "score": hit.score, "fused": hit.fused,
                "raw_scores": dict(hit.raw_scores), "ranks": dict(hit.ranks),
                "caption": hit.payload.get("caption"),
                "calibrated": None if hit.calibrated is None else dict(hit.calibrated),
            })
        return {"hits": out, "trace": list(self.trace), "errors": list(self.errors)}


@dataclass
class _Query:
    """One search's query and per-search state (internal)."""

    modality: str
    value: Any
    k: int
    fusion: Fusion
    project: bool
    trace: list[str]
    errors: list[str]
    filter: Mapping[str, Any] | None = None
    rrf_k: float = 60.0
    weights: Mapping[str, float] | None = None  # per collection or list name
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # per model


class Searcher:
    """Searches one index; loads each collection's model once, on first use.

    Args:
        index: An open index (:func:`xmodal.index.open_index`).
        load: Loads an encoder from a collection's model name (default:
            :func:`xmodal.encoders.load_encoder`).
        router_model: Text model for the router's zero-shot part (a model name in the index, or
            any ``load_encoder`` spec); None: rules only.
    """

    def __init__(self, index: Any, *, load: Callable[[str], Any] | None = None,
                 router_model: str | None = "minilm") -> None:
        if load is None:
            from xmodal.encoders import load_encoder

            load = load_encoder
        self.index, self._load = index, load
        self._encoders: dict[str, Any] = {}
        self._encode_locks: dict[str, threading.Lock] = {}
        self._routers: dict[tuple[Any, ...], Router] = {}
        self._stored: dict[tuple[str, str], StoredCalibration] = {}
        self._lock = threading.Lock()  # guards the caches (searches may run in threads)
        self.collections = list(index.collections())
        self.router_model = router_model

    def encoder(self, model: str) -> Any:
        """The encoder of a collection's model (loaded once)."""
        with self._lock:
            if model not in self._encoders:
                self._encoders[model] = self._load(model)
                self._encode_locks[model] = threading.Lock()
            return self._encoders[model]

    def shared_encoder(self, model: str) -> Any:
        """The encoder of ``model`` (the cached one) for another caller in this process, e.g.
        an ingest while the server searches: its ``encode_*`` methods take the same per-model
        lock as the searches, so the model is loaded once and never runs two calls at once."""
        encoder = self.encoder(model)
        return _Locked(encoder, self._encode_locks[model])

    def refresh(self) -> None:
        """Re-read the index's collection list (after an ingest created collections)."""
        self.collections = list(self.index.collections())

    def _encode(self, model: str, method: str, values: list[Any]) -> np.ndarray:
        """``encoder(model).<method>(values)``, one call per model at a time: tokenizers (HF
        fast tokenizers among them) are not thread-safe, and a search server runs searches in
        threads."""
        return getattr(self.shared_encoder(model), method)(values)

    def search(
        self,
        query: str | None = None,
        *,
        image: Any = None,
        audio: Any = None,
        vector: np.ndarray | Sequence[float] | None = None,
        collection: str | None = None,
        collections: Sequence[str] | None = None,
        k: int = 10,
        modalities: Sequence[str] | None = None,
        mixed: bool = False,
        route: bool = True,
        fusion: Fusion = "rrf",
        project: bool = False,
        filter: Mapping[str, Any] | None = None,
        rrf_k: float = 60.0,
        weights: Mapping[str, float] | None = None,
    ) -> SearchResult:
        """Search with a text ``query``, an ``image`` / ``audio`` file, or a raw ``vector``.

        Args:
            query: Text query.
            image: An image (path, bytes or PIL image) to find similar documents for.
            audio: An audio clip (path, bytes, array) likewise.
            vector: A raw query vector ``(dim,)`` of ``collection``'s model: searches that one
                collection (normalised to unit length; its refusals — unknown collection,
                other dimension, NaN/Inf or zero vector — propagate as
                :mod:`xmodal.index.types` errors). Hits carry raw cosines only.
            collection: The collection a ``vector`` searches (required with ``vector``); with
                the other query kinds, the same as ``collections=[collection]``.
            collections: Search only these collections (query / image / audio).
            k: Hits wanted.
            modalities: Document modalities to search (overrides the router).
            mixed: Search every reachable collection and fuse (all modalities).
            route: Use the router for text queries (else: every document modality).
            fusion: ``"rrf"`` (by rank) or ``"calibrated"`` (by each list's calibrated
                probability; RRF, said in the trace, unless every list has a calibration).
            project: Apply a collection's stored gap projection to the query vector before
                searching it (see the module docstring: for comparing raw scores across
                modalities; rank fusion never needs it).
            filter: Exact match on stored payload fields, all must match (``{"key": value}``;
                a list value matches any of its items), applied in every collection searched.
            rrf_k: RRF's rank constant (``Σ w / (rrf_k + rank)``; 60 as in the paper).
            weights: RRF weight (>= 0, default 1) per collection name (all its lists) or per
                list name (``"COLLECTION[modality]"``: a text collection filtered to one
                document modality); names must exist.

        Raises:
            ValueError: not exactly one query kind, bad ``k`` / ``fusion``, no collection can
                embed the query, or ``vector`` without ``collection``.
            CollectionNotFoundError: a named collection does not exist.
        """
        given = [(m, v) for m, v in (("text", query), ("image", image), ("audio", audio),
                                     ("vector", vector)) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, image, audio, vector")
        q_modality, q_value = given[0]
        if not 1 <= k <= 1000:
            raise ValueError(f"k must be in [1, 1000], got {k}")
        if fusion not in ("rrf", "calibrated"):
            raise ValueError(f"fusion must be 'rrf' or 'calibrated', got {fusion!r}")
        if q_modality == "vector":
            if collection is None or collections:
                raise ValueError("a vector query searches one collection: give collection=NAME "
                                 "(and not collections)")
            return self._vector_search(q_value, collection, k, filter)
        names = {*(collections or ()), *([collection] if collection else [])}
        if filter is not None:
            filter = check_filter(filter)  # a bad filter is the caller's error, not one per list
        check_fusion(rrf_k, weights, self.collections)
        q = _Query(q_modality, q_value, k, fusion, project, [], [], filter, float(rrf_k),
                   dict(weights) if weights else None)
        scope = self.collections
        if names:
            missing = sorted(names - {c.name for c in self.collections})
            if missing:
                raise CollectionNotFoundError(f"no collection named {missing[0]!r}")
            scope = [c for c in self.collections if c.name in names]
            q.trace.append(f"collections given: {sorted(names)}")
        reachable = [c for c in scope if q_modality in c.card.get("modalities", ())]
        if not reachable:
            raise ValueError(f"no {'given ' if names else ''}collection in this index has a "
                             f"model that embeds {q_modality} queries")
        doc_modalities = {c.modality for c in reachable}
        doc_modalities |= {"image", "audio"} & {c.modality for c in scope}
        if mixed:
            chosen = sorted(doc_modalities)
            q.trace.append(f"mixed: every reachable document modality {chosen}, fused by rank")
        elif modalities:
            chosen = [m for m in modalities if m in MODALITIES]
            q.trace.append(f"modalities given: {chosen}")
        elif q_modality == "text" and route:
            chosen = self._route(q_value, reachable, doc_modalities, q.trace)
        else:
            chosen = [q_modality] if q_modality != "text" else sorted(doc_modalities)
            q.trace.append(f"{q_modality} query: documents of modality {chosen}")
        tops: dict[str, tuple[float, Any]] = {}
        hits = self._fused(chosen, reachable, q, tops)
        others = sorted(doc_modalities - set(chosen))
        if not mixed and not modalities and others:
            limits = {name: (top, self._threshold(info, q_modality))
                      for name, (top, info) in tops.items()}
            if all(needs_fallback(top, limit) for top, limit in limits.values()):
                shown = ", ".join(f"{name} {top:.3f} < {limit:.3f}"
                                  for name, (top, limit) in limits.items()) or "no hits"
                q.trace.append(f"fallback: no list is confident ({shown}): searching every "
                               "reachable collection and fusing by rank")
                hits = self._fused(sorted(doc_modalities), reachable, q, {})
        return SearchResult(hits=tuple(hits), trace=tuple(q.trace),
                            errors=tuple(dict.fromkeys(q.errors)))  # each error once

    def _vector_search(self, vector: Any, name: str, k: int,
                       filter: Mapping[str, Any] | None = None) -> SearchResult:
        col = self.index.collection(name)  # CollectionNotFoundError
        try:
            arr = np.asarray(vector, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise VectorError(f"the query vector is not a numeric (dim,) array: {exc}") from exc
        if arr.ndim != 1:
            raise VectorError(f"a vector query is one vector of shape (dim,), got {arr.shape}")
        got = col.search(arr, k=k, normalize=True, filter=filter)[0]
        hits = [Hit(i, float(s), name, {name: float(s)}, {name: r}, payload=p)
                for r, (i, s, p) in enumerate(zip(got.ids, got.scores, got.payloads,
                                                  strict=True), 1)]
        return SearchResult(hits=tuple(hits), trace=(f"vector query on {name}",
                                                     f"searched {name} ({len(hits)})"),
                            errors=())

    def _threshold(self, info: Any, q_modality: str) -> float:
        """The confidence threshold of a collection's model for this query modality
        (its calibration, else the family default)."""
        return threshold_for(info.card.get("family", ""), info.calibration,
                             query_modality=q_modality)

    def stored(self, info: Any, q_modality: str) -> StoredCalibration:
        """A collection's calibrator and projection for queries of ``q_modality`` (cached)."""
        key = (info.name, q_modality)
        if key not in self._stored:
            self._stored[key] = StoredCalibration.read(info.calibration, q_modality)
        return self._stored[key]

    def _route(self, query: str, reachable: list[Any], doc_modalities: set[str],
               trace: list[str]) -> list[str]:
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
        return chosen

    def _fused(self, chosen: Sequence[str], reachable: list[Any], q: _Query,
               tops: dict[str, tuple[float, Any]]) -> list[Hit]:
        lists: list[RankedList] = []
        cals: dict[str, Any] = {}
        projected: list[str] = []
        payloads: dict[str, Mapping[str, Any]] = {}
        for info in reachable:
            for doc_modality in chosen:
                if info.modality != doc_modality and info.modality != "text":
                    continue
                by_doc = info.modality == "text"  # a text collection, filtered to the documents
                if by_doc and not allows_modality(q.filter, doc_modality):
                    continue  # the caller's filter excludes this document modality
                name = f"{info.name}[{doc_modality}]" if by_doc else info.name
                filt = ({**(q.filter or {}), "modality": doc_modality} if by_doc
                        else (dict(q.filter) if q.filter else None))
                try:
                    stored = self.stored(info, q.modality)
                    vec = self._query_vector(info.model, q)
                    if q.project and stored.projection is not None:
                        vec = stored.projection.transform(vec, source="a")
                        projected.append(name)
                    got = self.index.collection(info.name).search(vec, k=q.k, filter=filt,
                                                                  model=info.model)[0]
                except Exception as exc:  # one broken collection never hides the others
                    q.errors.append(f"{info.name}: {exc}")
                    continue
                if len(got):
                    weight = list_weight(q.weights, name)
                    lists.append(RankedList(name, got.ids, tuple(float(s) for s in got.scores),
                                            weight=weight))
                    tops[name] = (float(got.scores[0]), info)
                    if stored.calibrator is not None and name not in projected:
                        cals[name] = stored.calibrator  # fitted on raw, unprojected cosines
                    for i, p in zip(got.ids, got.payloads, strict=True):
                        payloads.setdefault(i, p)
        if projected:
            q.trace.append(f"gap projection of the {q.modality} query applied to "
                           f"{', '.join(projected)} (no calibrated scores there)")
        q.trace.append("searched " + (", ".join(f"{r.name} ({len(r.ids)})" for r in lists)
                                      or "nothing"))
        if not lists:
            return []
        if len(lists) == 1:
            only = lists[0]
            return [Hit(i, s, only.name.split("[")[0], {only.name: s}, {only.name: r},
                        calibrated=_probabilities({only.name: s}, cals), payload=payloads[i])
                    for r, (i, s) in enumerate(zip(only.ids, only.scores, strict=True), 1)]
        if q.fusion == "calibrated":
            missing = [r.name for r in lists if r.name not in cals]
            if not missing:
                fused = calibrated_fuse(lists, cals, combine="max", limit=q.k)
                q.trace.append(f"fused {len(lists)} lists by calibrated probability (max)")
                return [Hit(h.id, h.score, None, h.raw_scores, h.ranks, calibrated=h.calibrated,
                            fused=True, payload=payloads[h.id]) for h in fused]
            q.trace.append(f"calibrated fusion unavailable: no calibration for {missing} "
                           f"({q.modality} queries); fusing by rank instead")
        fused = rrf_fuse(lists, k=q.rrf_k, limit=q.k)
        weighted = ", ".join(f"{r.name} ×{r.weight:g}" for r in lists if r.weight != 1.0)
        q.trace.append(f"fused {len(lists)} lists with RRF (k={q.rrf_k:g}, 1-based ranks"
                       + (f"; weights {weighted})" if weighted else ")"))
        return [Hit(h.id, h.score, None, h.raw_scores, h.ranks,
                    calibrated=_probabilities(h.raw_scores, cals), fused=True,
                    payload=payloads[h.id]) for h in fused]

    def _query_vector(self, model: str, q: _Query) -> np.ndarray:
        if model not in q.vectors:
            method = "encode_query" if q.modality == "text" else f"encode_{q.modality}"
            q.vectors[model] = self._encode(model, method, [q.value])[0]
        return q.vectors[model]


class _Locked:
    """An encoder whose ``encode_*`` calls hold a lock; every other attribute passes through."""

    def __init__(self, encoder: Any, lock: threading.Lock) -> None:
        self._encoder, self._lock = encoder, lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._encoder, name)
        if not (name.startswith("encode_") and callable(attr)):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


def _probabilities(raw_scores: Mapping[str, float],
                   cals: Mapping[str, Any]) -> dict[str, float] | None:
    """Calibrated probability per list that has a calibrator; None when none has."""
    probs = {n: float(cals[n](np.float64(s))) for n, s in raw_scores.items() if n in cals}
    return probs or None


def _summary(info: Any) -> str:
    card = info.card
    return f"{info.model} ({card.get('family', '?')}, {info.dim}-d): {info.modality} documents"
