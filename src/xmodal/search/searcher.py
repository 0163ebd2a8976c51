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
(each list's best raw cosine below its model's threshold: the collection's calibration, or a
documented default), every reachable collection is searched and fused, and the trace says so.

Example (exact store, a toy encoder)::

    searcher = Searcher(open_index("exact:/tmp/idx"))
    result = searcher.search("a dog barking", k=5)
    print(result.hits[0].payload["path"], result.trace)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .hits import Hit, RankedList
from .router import Router, RouteTarget
from .rrf import rrf_fuse
from .thresholds import needs_fallback, threshold_for

MODALITIES = ("text", "image", "audio")


@dataclass(frozen=True)
class SearchResult:
    """Hits (best first), what was decided and why, and what went wrong."""

    hits: tuple[Hit, ...]
    trace: tuple[str, ...]
    errors: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON agents read: hits with raw scores and ranks per list, trace, errors."""
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
            })
        return {"hits": out, "trace": list(self.trace), "errors": list(self.errors)}


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
        self.collections = list(index.collections())
        self.router_model = router_model

    def encoder(self, model: str) -> Any:
        """The encoder of a collection's model (loaded once)."""
        if model not in self._encoders:
            self._encoders[model] = self._load(model)
        return self._encoders[model]

    def search(
        self,
        query: str | None = None,
        *,
        image: Any = None,
        audio: Any = None,
        k: int = 10,
        modalities: Sequence[str] | None = None,
        mixed: bool = False,
        route: bool = True,
    ) -> SearchResult:
        """Search with a text ``query`` or an ``image`` / ``audio`` file (exactly one).

        Args:
            query: Text query.
            image: An image (path, bytes or PIL image) to find similar documents for.
            audio: An audio clip (path, bytes, array) likewise.
            k: Hits wanted.
            modalities: Document modalities to search (overrides the router).
            mixed: Search every reachable collection and fuse (all modalities).
            route: Use the router for text queries (else: every document modality).
        """
        given = [(m, v) for m, v in (("text", query), ("image", image), ("audio", audio))
                 if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, image, audio")
        q_modality, q_value = given[0]
        if not 1 <= k <= 1000:
            raise ValueError(f"k must be in [1, 1000], got {k}")
        trace: list[str] = []
        errors: list[str] = []
        reachable = [c for c in self.collections if q_modality in c.card.get("modalities", ())]
        if not reachable:
            raise ValueError(f"no collection in this index has a model that embeds "
                             f"{q_modality} queries")
        doc_modalities = {c.modality if c.modality != "text" else "text" for c in reachable}
        doc_modalities |= {"image", "audio"} & {c.modality for c in self.collections}
        if mixed:
            chosen = sorted(doc_modalities)
            trace.append(f"mixed: every reachable document modality {chosen}, fused by rank")
        elif modalities:
            chosen = [m for m in modalities if m in MODALITIES]
            trace.append(f"modalities given: {chosen}")
        elif q_modality == "text" and route:
            chosen = self._route(q_value, reachable, doc_modalities, trace)
        else:
            chosen = [q_modality] if q_modality != "text" else sorted(doc_modalities)
            trace.append(f"{q_modality} query: documents of modality {chosen}")
        vectors: dict[str, np.ndarray] = {}
        tops: dict[str, tuple[float, Any]] = {}
        hits = self._fused(chosen, reachable, q_modality, q_value, k, vectors, trace, errors,
                           tops)
        others = sorted(doc_modalities - set(chosen))
        if not mixed and not modalities and others:
            limits = {name: (top, self._threshold(info)) for name, (top, info) in tops.items()}
            if all(needs_fallback(top, limit) for top, limit in limits.values()):
                shown = ", ".join(f"{name} {top:.3f} < {limit:.3f}"
                                  for name, (top, limit) in limits.items()) or "no hits"
                trace.append(f"fallback: no list is confident ({shown}): searching every "
                             "reachable collection and fusing by rank")
                hits = self._fused(sorted(doc_modalities), reachable, q_modality, q_value, k,
                                   vectors, trace, errors, {})
        return SearchResult(hits=tuple(hits), trace=tuple(trace),
                            errors=tuple(dict.fromkeys(errors)))  # each error once

    @staticmethod
    def _threshold(info: Any) -> float:
        """The confidence threshold of a collection's model (calibration, else the default)."""
        return threshold_for(info.card.get("family", ""), info.calibration)

    def _route(self, query: str, reachable: list[Any], doc_modalities: set[str],
               trace: list[str]) -> list[str]:
        targets = [RouteTarget(c.name, c.model, c.modality if c.modality in MODALITIES
                               else "text", _summary(c)) for c in reachable]
        embed = None
        if self.router_model:
            try:
                enc = self.encoder(self.router_model)
                embed = enc.encode_text
            except Exception as exc:  # the router works on rules alone
                trace.append(f"router: no zero-shot ({self.router_model}: {exc})")
        route = Router(targets, embed_text=embed).route(query)
        chosen = [m for m in route.modalities if m in doc_modalities] or sorted(doc_modalities)
        trace.append(f"router: {route.reason}")
        return chosen

    def _fused(self, chosen: Sequence[str], reachable: list[Any], q_modality: str, q_value: Any,
               k: int, vectors: dict[str, np.ndarray], trace: list[str],
               errors: list[str], tops: dict[str, tuple[float, Any]]) -> list[Hit]:
        lists: list[RankedList] = []
        payloads: dict[str, Mapping[str, Any]] = {}
        for info in reachable:
            for doc_modality in chosen:
                if info.modality != doc_modality and info.modality != "text":
                    continue
                filt = {"modality": doc_modality} if info.modality == "text" else None
                try:
                    vec = self._query_vector(info.model, q_modality, q_value, vectors)
                    got = self.index.collection(info.name).search(vec, k=k, filter=filt,
                                                                  model=info.model)[0]
                except Exception as exc:  # one broken collection never hides the others
                    errors.append(f"{info.name}: {exc}")
                    continue
                if len(got):
                    name = info.name if filt is None else f"{info.name}[{doc_modality}]"
                    lists.append(RankedList(name, got.ids, tuple(float(s) for s in got.scores)))
                    tops[name] = (float(got.scores[0]), info)
                    for i, p in zip(got.ids, got.payloads, strict=True):
                        payloads.setdefault(i, p)
        trace.append("searched " + (", ".join(f"{r.name} ({len(r.ids)})" for r in lists)
                                    or "nothing"))
        if not lists:
            return []
        if len(lists) == 1:
            only = lists[0]
            return [Hit(i, s, only.name.split("[")[0], {only.name: s}, {only.name: r},
                        payload=payloads[i])
                    for r, (i, s) in enumerate(zip(only.ids, only.scores, strict=True), 1)]
        fused = rrf_fuse(lists, k=60, limit=k)
        trace.append(f"fused {len(lists)} lists with RRF (k=60, 1-based ranks)")
        return [Hit(h.id, h.score, None, h.raw_scores, h.ranks, fused=True,
                    payload=payloads[h.id]) for h in fused]

    def _query_vector(self, model: str, q_modality: str, q_value: Any,
                      cache: dict[str, np.ndarray]) -> np.ndarray:
        if model not in cache:
            enc = self.encoder(model)
            if q_modality == "text":
                cache[model] = enc.encode_query([q_value])[0]
            else:
                cache[model] = getattr(enc, f"encode_{q_modality}")([q_value])[0]
        return cache[model]


def _summary(info: Any) -> str:
    card = info.card
    return f"{info.model} ({card.get('family', '?')}, {info.dim}-d): {info.modality} documents"
