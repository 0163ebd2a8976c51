"""The agent router's decision: which modality's collections should a text query search?

Two sources of evidence, combined into one score per modality:

1. **Rules** (``cues.py``): explicit cues such as "sound of", "photo", "how do I". The rule score
   of a modality is its share of the matched cue weight (0 for all when nothing matched).
2. **Zero-shot** (optional, when ``embed_text`` is given): the query's cosine to a prototype per
   modality (the normalised mean of its description embeddings, as in CLIP's prompt
   ensembling), turned into a distribution by a softmax with temperature ``temperature``.

With both, ``score = (1 - zero_shot_weight) · rules + zero_shot_weight · zero_shot``; with rules
alone, ``score = rules``. If the top modality leads the next by at least ``margin`` it is the
route; otherwise every modality within ``margin`` of the top is searched and the caller fuses the
lists (by rank or calibrated score, never by raw cosine). Only modalities that have targets are
candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from xmodal.modalities import MODALITIES, Modality

from .cues import match_cues, rule_evidence
from .thresholds import DEFAULT_THRESHOLDS, needs_fallback, threshold_for

if TYPE_CHECKING:
    from ..encoders.card import ModelCard

__all__ = [
    "DEFAULT_DESCRIPTIONS",
    "DEFAULT_THRESHOLDS",
    "Route",
    "RouteTarget",
    "Router",
    "RouterTrace",
    "needs_fallback",
    "threshold_for",
]

DEFAULT_DESCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "text": (
        "a question about how to do something",
        "a passage of text from a document",
        "an answer that explains a concept",
        "programming documentation and code",
    ),
    "image": (
        "a photo of an object",
        "a picture of an animal",
        "an emoji or an icon",
        "a drawing or clip art illustration",
    ),
    "audio": (
        "the sound an animal makes",
        "a recording of music",
        "noise and sound effects",
        "what something sounds like",
    ),
}


@dataclass(frozen=True)
class RouteTarget:
    """A collection the router may send a query to."""

    collection: str  # the collection's name in the index
    model: str  # the model that embedded it (ModelCard.name)
    modality: Modality  # what the collection holds
    card_summary: str  # one line from the model card, for agents and traces

    @classmethod
    def from_card(cls, collection: str, card: ModelCard, modality: Modality) -> RouteTarget:
        """A target whose summary is read from ``card`` (family, dim, strengths, weaknesses)."""
        if not card.supports(modality):
            raise ValueError(f"model {card.name!r} does not embed {modality!r}")
        notes = card.notes
        summary = (f"{card.name} ({card.family}, {card.dim}-d): good at {notes.strengths}; "
                   f"weak at {notes.weaknesses}")
        return cls(collection, card.name, modality, summary)


@dataclass(frozen=True)
class RouterTrace:
    """What the router did, step by step: ``(what, why)`` pairs."""

    steps: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    """The router's decision for one query."""

    targets: tuple[RouteTarget, ...]  # collections to search (several → fuse the results)
    reason: str  # which cue or score decided
    scores: Mapping[str, float]  # combined score per candidate modality
    modalities: tuple[str, ...] = ()  # the chosen modality(ies), best first
    trace: RouterTrace = RouterTrace()

    @property
    def ambiguous(self) -> bool:
        """Whether more than one modality was chosen (the caller must fuse)."""
        return len(self.modalities) > 1


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


class Router:
    """Decide which modality's collections a text query should search.

    Args:
        targets: The collections available, each with its modality.
        embed_text: Optional text embedder (list of strings → array of shape (n, d)) for the
            zero-shot part; without it the router uses rules alone.
        modality_descriptions: Several descriptions per modality for the zero-shot prototypes.
        margin: How far the top modality must lead the next to be chosen alone.
        zero_shot_weight: Weight of the zero-shot part when ``embed_text`` is given (0–1).
        temperature: Softmax temperature over the zero-shot cosines (> 0).

    Example:
        >>> r = Router([RouteTarget("emoji", "lit", "image", "emoji images"),
        ...             RouteTarget("sfx", "lit", "audio", "sound effects")])
        >>> route = r.route("the sound of rain")
        >>> [t.collection for t in route.targets], route.reason
        (['sfx'], "audio leads image by 1.00 (margin 0.05): cues 'sound of'")
        >>> r.route("rain").modalities
        ('image', 'audio')
    """

    def __init__(
        self,
        targets: Sequence[RouteTarget],
        *,
        embed_text: Callable[[list[str]], np.ndarray] | None = None,
        modality_descriptions: Mapping[str, Sequence[str]] = DEFAULT_DESCRIPTIONS,
        margin: float = 0.05,
        zero_shot_weight: float = 0.5,
        temperature: float = 0.05,
    ) -> None:
        if not targets:
            raise ValueError("a router needs at least one target")
        for t in targets:
            if t.modality not in MODALITIES:
                raise ValueError(f"target {t.collection!r}: unknown modality {t.modality!r}")
        if not (math.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be >= 0, got {margin}")
        if not 0 <= zero_shot_weight <= 1:
            raise ValueError(f"zero_shot_weight must be in [0, 1], got {zero_shot_weight}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.targets = tuple(targets)
        self.modalities = tuple(m for m in MODALITIES if any(t.modality == m for t in targets))
        self.margin = margin
        self.zero_shot_weight = zero_shot_weight
        self.temperature = temperature
        self._embed = embed_text
        self._prototypes: np.ndarray | None = None
        if embed_text is not None and len(self.modalities) > 1:  # one modality: nothing to choose
            missing = [m for m in self.modalities if not modality_descriptions.get(m)]
            if missing:
                raise ValueError(f"no descriptions for modality(ies) {missing}")
            protos = [_unit(self._embed_checked(list(modality_descriptions[m]))).mean(axis=0)
                      for m in self.modalities]
            self._prototypes = _unit(np.stack(protos))  # (n_modalities, d)

    def _embed_checked(self, texts: list[str]) -> np.ndarray:
        assert self._embed is not None
        out = np.asarray(self._embed(texts), dtype=np.float64)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise ValueError(f"embed_text returned shape {out.shape} for {len(texts)} texts")
        return out

    def _zero_shot(self, query: str) -> dict[str, float] | None:
        if self._prototypes is None:
            return None
        q = _unit(self._embed_checked([query]))[0]
        cos = self._prototypes @ q
        z = np.exp((cos - cos.max()) / self.temperature)
        probs = z / z.sum()
        return {m: float(p) for m, p in zip(self.modalities, probs, strict=True)}

    def route(self, query: str) -> Route:
        """Choose the collections for ``query``; see the module docstring for the rule."""
        steps: list[tuple[str, str]] = []
        matches = [m for m in match_cues(query) if m.cue.modality in self.modalities]
        evidence = rule_evidence(matches)
        total = sum(evidence[m] for m in self.modalities)
        rules = {m: (evidence[m] / total if total else 0.0) for m in self.modalities}
        steps.append(("rules", "; ".join(f"{m.cue.modality}: {m.text!r} +{m.cue.weight:g}"
                                         for m in matches) or "no cue matched"))
        zs = self._zero_shot(query)
        if zs is None:
            scores = rules
            steps.append(("zero-shot", "skipped (" + ("one modality" if self._embed is not None
                                                      else "no embed_text") + ")"))
        else:
            a = self.zero_shot_weight
            scores = {m: (1 - a) * rules[m] + a * zs[m] for m in self.modalities}
            steps.append(("zero-shot", ", ".join(f"{m} {p:.2f}" for m, p in zs.items())))
        steps.append(("combine", ", ".join(f"{m} {s:.2f}" for m, s in scores.items())))

        order = sorted(self.modalities, key=lambda m: (-scores[m], MODALITIES.index(m)))
        top = order[0]
        lead = scores[top] - scores[order[1]] if len(order) > 1 else math.inf
        if lead >= self.margin:
            chosen = (top,)
            why = [f"cues {', '.join(repr(m.text) for m in matches if m.cue.modality == top)}"
                   if evidence[top] else "",
                   f"zero-shot {zs[top]:.2f}" if zs is not None else ""]
            why_s = " + ".join(w for w in why if w) or "no evidence"
            reason = (f"{top} is the only modality with targets" if len(order) == 1 else
                      f"{top} leads {order[1]} by {lead:.2f} (margin {self.margin:g}): {why_s}")
        else:
            chosen = tuple(m for m in order if scores[top] - scores[m] < self.margin)
            reason = (f"ambiguous: {' ≈ '.join(f'{m} {scores[m]:.2f}' for m in chosen)} "
                      f"(within margin {self.margin:g}); search all and fuse")
        steps.append(("decide", reason))
        chosen_targets = tuple(t for m in chosen for t in self.targets if t.modality == m)
        return Route(chosen_targets, reason, scores, chosen, RouterTrace(tuple(steps)))
