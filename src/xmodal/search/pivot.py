"""Pivots: a query reaches documents no model can compare it with, through text.

A search is *direct* when one model embeds both the query's modality A and the documents'
modality B (CLIP: text → image; the image starter: image → image). When none does (an image
query for sounds with an image model and an audio model that share nothing but text), a
**pivot** goes through the words both models read:

1. the query is embedded by a model M_A that embeds A and text, and searched in M_A's text
   collection for its nearest *captions* (points with ``representation == "caption"``: the
   side-car captions ``xmodal index`` stores; a label collection written through the upsert
   API gets the same by giving ``{"representation": "caption", "caption": TEXT}``);
2. the first :data:`PIVOT_TEXTS` distinct caption texts are the *pivot texts*, each weighted by
   M_A's posterior over them, ``w_j = softmax(s · cos(q, t_j))`` with ``s`` M_A's trained logit
   scale (its card's; :data:`DEFAULT_SCALE` when the card has none);
3. a model M_B that embeds B and text re-embeds the pivot texts (``encode_query``: they are its
   queries), and M_B's collection of B documents is searched with their weighted mean;
4. the list, named ``pivot:M_A→COLLECTION`` (``pivot:starter-image→starter-audio.audio``),
   ranks each document by ``Σ_j w_j cos_B(t_j, d)``: the cosine M_B gives the document,
   expected under M_A's posterior over the pivot texts. Those are its raw scores.

Why a weighted sum and not RRF across one list per pivot text: the pivot texts are queries of
one model (M_B) and one query type (text → B), so their cosines share one scale, and summing
them compares no two models' scores. The weights carry how sure M_A is of each text: equal-rank
RRF lets the fifth-best caption move the list as much as the best one. The weighted sum is one
search (``Σ_j w_j cos(t_j, d) = cos(Σ_j w_j t_j, d) · ‖Σ_j w_j t_j‖``: the store is searched
with the normalised mean, and the scores are scaled back), and it scores every document of the
collection, where RRF over truncated lists scores only what each list's top ``k`` holds.

Why five texts (chosen before measuring): M_A's first caption is often a near miss (the image
starter ranks the right caption among its first ten for 45 % of held-out images, first for fewer
still), so one text bets everything on it, while the posterior weights give the later texts
little say unless M_A hesitates; more texts cost one text encoding each and add texts of
near-zero weight. Measured by ``benchmarks/routes_pivot.py`` (GCompris' 26 instruments and 9
farm animals, whose captions the starters mostly trained on; Hit@10 image → audio and audio →
image, among the paired items / among every GCompris image and sound): 5 texts 0.886, 0.857 /
0.864, 0.829; 1 text 0.886, 0.829 / 0.841, 0.743; 10 texts 0.818, 0.857 / 0.864, 0.800; RRF
across 5 texts 0.614, 0.714 / 0.727, 0.514. One text has the better MRR@10 (0.62 against 0.53
image → audio among the paired items): when its first caption is right, the others blur it a
little.

A pivot's raw score is a similarity between the pivot texts and the document, **not** between
the query and the document: a pivot list gets no calibrator (M_B's calibration, fitted on its
own text queries, does not apply), takes no part in the low-confidence fallback (no threshold
reads it), never leads the fusion, and even alone it is fused by rank (``fused=True``), so its
score is never shown as a cosine. The request's payload filter applies to the documents (step
3), not to the captions that pick the pivot texts. The trace names every pivot text with its
cosine and weight.

Which routes exist (:func:`pivot_routes`): for a query modality A and a document modality B,
a pivot exists when there is no direct route (:func:`direct_route`: no model of the collections
in scope embeds both A and B) and the index holds a text collection of a model that embeds A
(and text) and a collection of B documents of a model that embeds B (and text). Every such
(text collection, B collection) pair is one pivot list.

Example:
    >>> from xmodal.index.types import CollectionInfo
    >>> def col(model, modality, *embeds):
    ...     return CollectionInfo(f"{model}.{modality}", 2, model, modality,
    ...                           card={"modalities": ["text", *embeds]})
    >>> cols = [col("img", "image", "image"), col("img", "text", "image"),
    ...         col("aud", "audio", "audio"), col("aud", "text", "audio")]
    >>> [r.name for r in pivot_routes(cols, "image", "audio")], pivot_routes(cols, "image", "text")
    (['pivot:img→aud.audio'], ())
    >>> [(t.text, round(t.weight, 3)) for t in pivot_texts(["dog", "cat", "dog"], [0.5, 0.4, 0.3],
    ...                                                    scale=10.0)]
    [('dog', 0.731), ('cat', 0.269)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from xmodal.index.protocols import Index
from xmodal.index.types import CollectionInfo

from .hits import ListName, RankedList
from .lists import SearchedList, SearchedLists
from .options import list_filter, list_weight
from .request import SearchRequest
from .segments import search_documents

__all__ = ["DEFAULT_SCALE", "PIVOT_PREFIX", "PIVOT_TEXTS", "PivotRoute", "PivotText",
           "add_pivots", "direct_route", "pivot_names", "pivot_routes", "pivot_texts",
           "pivot_vector"]

PIVOT_PREFIX = "pivot:"
"""How a pivot list's name starts: ``pivot:MODEL_A→COLLECTION_B``."""
PIVOT_TEXTS = 5
"""Distinct caption texts a pivot goes through (see the module docstring)."""
DEFAULT_SCALE = 1 / 0.07
"""The posterior's logit scale for a model whose card has none: CLIP's initial temperature."""
CAPTION_DEPTH = 4
"""Captions fetched per pivot text wanted: several documents often share one caption."""


@dataclass(frozen=True)
class PivotRoute:
    """One pivot: a text collection of the query's model and a document collection of another.

    Attributes:
        query_modality: The query's modality (A).
        source: M_A's text collection: its captions are the candidate pivot texts.
        target: M_B's collection of B documents.
    """

    query_modality: str
    source: CollectionInfo
    target: CollectionInfo

    @property
    def name(self) -> str:
        """The list's name, ``pivot:MODEL_A→COLLECTION_B``."""
        return f"{PIVOT_PREFIX}{self.source.model}→{self.target.name}"


@dataclass(frozen=True)
class PivotText:
    """A caption a pivot goes through.

    Attributes:
        text: The caption.
        score: Its raw cosine to the query in M_A's space (the best among the documents that
            share it).
        weight: M_A's posterior over the pivot texts (they sum to 1).
    """

    text: str
    score: float
    weight: float


def _embeds(info: CollectionInfo) -> frozenset[str]:
    return frozenset(info.card.get("modalities", ()))


def direct_route(collections: Sequence[CollectionInfo], query_modality: str,
                 doc_modality: str) -> bool:
    """Whether one model of ``collections`` embeds both modalities (a direct search).

    Example:
        >>> from xmodal.index.types import CollectionInfo
        >>> clip = CollectionInfo("clip.image", 2, "clip", "image",
        ...                       card={"modalities": ["text", "image"]})
        >>> direct_route([clip], "text", "image"), direct_route([clip], "image", "audio")
        (True, False)
    """
    return any({query_modality, doc_modality} <= _embeds(c) for c in collections)


def pivot_routes(collections: Sequence[CollectionInfo], query_modality: str,
                 doc_modality: str) -> tuple[PivotRoute, ...]:
    """The pivots from ``query_modality`` to ``doc_modality`` documents (none where a direct
    route exists); see the module docstring for the rule."""
    if direct_route(collections, query_modality, doc_modality):
        return ()
    sources = [c for c in collections
               if c.modality == "text" and {query_modality, "text"} <= _embeds(c)]
    targets = [c for c in collections
               if c.modality == doc_modality and {doc_modality, "text"} <= _embeds(c)]
    return tuple(PivotRoute(query_modality, s, t) for s in sources for t in targets
                 if s.model != t.model)


def pivot_names(collections: Sequence[CollectionInfo], query_modality: str) -> list[str]:
    """Every pivot list a query of ``query_modality`` may search (the names a weight may
    give)."""
    doc_modalities = sorted({c.modality for c in collections})
    return [r.name for m in doc_modalities for r in pivot_routes(collections, query_modality, m)]


def pivot_texts(captions: Sequence[str], scores: Sequence[float], *, n: int = PIVOT_TEXTS,
                scale: float = DEFAULT_SCALE) -> tuple[PivotText, ...]:
    """The first ``n`` distinct captions (by their best cosine) and their posterior weights.

    Args:
        captions: Caption texts, best first (one per document: texts repeat).
        scores: Their raw cosines to the query in M_A's space.
        n: Distinct texts wanted (>= 1).
        scale: M_A's logit scale: ``w_j = exp(scale · s_j) / Σ_i exp(scale · s_i)``.

    Raises:
        ValueError: ``n`` < 1, a scale that is not finite and > 0, or lengths that differ.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")
    if len(captions) != len(scores):
        raise ValueError(f"{len(captions)} captions but {len(scores)} scores")
    best: dict[str, float] = {}
    for text, score in zip(captions, scores, strict=True):
        key = text.strip()
        if key and (key not in best or score > best[key]):
            best[key] = float(score)
    top = sorted(best.items(), key=lambda kv: -kv[1])[:n]
    if not top:
        return ()
    logits = np.array([scale * s for _, s in top], dtype=np.float64)  # (P,)
    weights = np.exp(logits - logits.max())  # (P,)
    weights /= weights.sum()
    return tuple(PivotText(t, s, float(w)) for (t, s), w in zip(top, weights, strict=True))


def pivot_vector(vectors: np.ndarray, weights: Sequence[float]) -> tuple[np.ndarray, float]:
    """The weighted mean of the pivot texts' unit vectors: its direction and its length.

    ``cos(direction, d) · length = Σ_j w_j cos(t_j, d)`` for every document ``d``.

    Raises:
        ValueError: not one weight per vector, or a mean of length 0 (the texts cancel out).

    Example:
        >>> direction, length = pivot_vector(np.eye(2), [0.5, 0.5])
        >>> direction.round(4).tolist(), round(length, 4)
        ([0.7071, 0.7071], 0.7071)
    """
    vecs = np.asarray(vectors, dtype=np.float64)  # (P, d)
    w = np.asarray(weights, dtype=np.float64)  # (P,)
    if vecs.ndim != 2 or w.shape != (len(vecs),):
        raise ValueError(f"one weight per pivot vector: vectors {vecs.shape}, weights {w.shape}")
    mean = w @ vecs  # (d,)
    length = float(np.linalg.norm(mean))
    if not length > 1e-12:
        raise ValueError("the pivot texts' weighted mean is the zero vector")
    return mean / length, length


def add_pivots(searched: SearchedLists, request: SearchRequest, modalities: Sequence[str],
               collections: Sequence[CollectionInfo], *, index: Index,
               embed: Callable[[str], np.ndarray],
               encode_query: Callable[[str, list[str]], np.ndarray]) -> SearchedLists:
    """``searched`` with a pivot list for each searched document modality that no model
    reaches directly (unchanged when ``request.pivot`` is off or none applies).

    Args:
        searched: The direct lists of one pass.
        request: The search (its ``k``, ``filter``, ``per_segment``, ``weights``, ``pivot``).
        modalities: The document modalities of this pass.
        collections: Every collection of the index (the request's scope is applied here).
        index: The index holding them.
        embed: The query embedded by a model name.
        encode_query: ``(model, texts) → (P, d)`` vectors of texts as that model's queries.
    """
    if not request.pivot or request.kind not in ("image", "audio"):
        return searched
    scope = [c for c in collections if not request.scope or c.name in request.scope]
    lists, errors, trace = list(searched.lists), list(searched.errors), list(searched.trace)
    payloads = dict(searched.payloads)
    for modality in modalities:
        for route in pivot_routes(scope, request.kind, modality):
            try:
                got, line = _pivot_list(route, request, index=index, embed=embed,
                                        encode_query=encode_query)
            except Exception as exc:  # one broken pivot never hides the other lists
                errors.append(f"{route.name}: {exc}")
                continue
            trace.append(line)
            if got is not None:
                lists.append(got[0])
                for i, p in got[1].items():
                    payloads.setdefault(i, p)
    return replace(searched, lists=tuple(lists), payloads=payloads, errors=tuple(errors),
                   trace=tuple(trace))


def _pivot_list(route: PivotRoute, request: SearchRequest, *, index: Index,
                embed: Callable[[str], np.ndarray],
                encode_query: Callable[[str, list[str]], np.ndarray]
                ) -> tuple[tuple[SearchedList, Mapping[str, Any]] | None, str]:
    """One pivot's list (None when it finds nothing) and its trace line."""
    source, target = route.source, route.target
    head = (f"pivot {route.query_modality} → {target.modality} (no model embeds both): "
            f"{source.name} → {target.name}")
    caps = index.collection(source.name).search(
        embed(source.model), k=PIVOT_TEXTS * CAPTION_DEPTH, model=source.model,
        filter={"must": [{"key": "representation", "match": {"value": "caption"}}]})[0]
    captions = [str(p.get("caption") or "") for p in caps.payloads]
    scale = source.card.get("logit_scale") or DEFAULT_SCALE
    texts = pivot_texts(captions, caps.scores.tolist(), scale=float(scale))
    if not texts:
        return None, f"{head}: no captions in {source.name}, nothing to pivot through"
    vectors = encode_query(target.model, [t.text for t in texts])  # (P, d_B)
    direction, length = pivot_vector(vectors, [t.weight for t in texts])
    name = ListName(route.name)
    got = search_documents(index.collection(target.name), direction, k=request.k,
                           list_name=route.name, model=target.model,
                           filter=list_filter(request.filter, name),
                           per_segment=request.per_segment)
    used = ", ".join(f"{t.text!r} {t.score:.3f} (w {t.weight:.2f})" for t in texts)
    line = (f"{head} through {len(texts)} pivot texts [{used}]: {route.name} "
            f"({len(got)}), scores Σ w·cos of {target.model}'s text → {target.modality}, "
            "not a similarity to the query (no calibration, no threshold)")
    if not len(got):
        return None, line
    segments = {d: tuple(replace(s, score=s.score * length) for s in segs)
                for d, segs in got.segments.items()}
    ranked = RankedList(route.name, got.ids, [s * length for s in got.scores],
                        weight=list_weight(request.weights, name))
    searched = SearchedList(name, target, ranked, None, pivot=True, segments=segments)
    return (searched, dict(zip(got.ids, got.payloads, strict=True))), line
