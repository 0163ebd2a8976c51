"""Explicit cues in a query that say which modality the user wants: the router's rules.

Each cue is a regular expression (matched case-insensitively, on word boundaries) with a
modality and a weight: 1.0 for cues that name a modality or a thing only one modality has
("sound of", "photo", "how do I", "barking"), 0.5 for hints (colour words, instrument names,
the shape of a question). A query's rule evidence for a modality is the sum of its matched
weights; each cue counts once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from xmodal.modalities import MODALITIES, Modality

__all__ = ["CUES", "Cue", "CueMatch", "match_cues", "rule_evidence"]


@dataclass(frozen=True)
class Cue:
    """One rule: a pattern, the modality it points to, and how strongly."""

    label: str  # shown in reasons and traces
    pattern: str  # regular expression, matched case-insensitively
    modality: Modality
    weight: float


@dataclass(frozen=True)
class CueMatch:
    """A cue that matched a query, with the text it matched."""

    cue: Cue
    text: str


def _c(label: str, pattern: str, modality: Modality, weight: float = 1.0) -> Cue:
    return Cue(label, rf"\b(?:{pattern})\b", modality, weight)


_COLOURS = ("red|green|blue|yellow|orange|purple|violet|pink|black|white|brown|gr[ae]y|gold"
            "|silver|colou?r(?:ful|ed|s)?")
_ANIMAL_SOUNDS = ("bark(?:s|ing|ed)?|meow(?:s|ing)?|purr(?:s|ing)?|chirp(?:s|ing)?|roar(?:s|ing)?"
                  "|growl(?:s|ing)?|howl(?:s|ing)?|moo(?:s|ing)?|neigh(?:s|ing)?|quack(?:s|ing)?"
                  "|tweet(?:s|ing)?|buzz(?:es|ing)?|hiss(?:es|ing)?|oink(?:s|ing)?"
                  "|caw(?:s|ing|ed)?|croak(?:s|ing)?|squawk(?:s|ing)?|bleat(?:s|ing)?"
                  "|cluck(?:s|ing)?|honk(?:s|ing)?|hoot(?:s|ing)?|whinn(?:y|ies|ying)|trill(?:s|ing)?")
_SOUND_EVENTS = ("beep(?:s|ing)?|ring(?:s|ing)|ringtone|siren|alarm|knock(?:s|ing)?|thunder"
                 "|footsteps|applause|clapping|whistl(?:e|es|ing)|explosion|chime(?:s)?|bell(?:s)?")

CUES: tuple[Cue, ...] = (
    # audio
    _c("sound / audio", r"sound(?:s|ing)?\s+(?:of|like)|sounds?|audio|sound\s*effects?|recording"
       r"|hear(?:d|ing)?|listen(?:ing)?", "audio"),
    _c("noise", r"nois(?:e|es|y)", "audio"),
    _c("music / song", r"music(?:al)?|songs?|melod(?:y|ies)|tunes?|beat|rhythm", "audio"),
    _c("animal sound", _ANIMAL_SOUNDS, "audio"),
    _c("sound event", _SOUND_EVENTS, "audio", 0.75),
    _c("instrument", r"guitar|piano|violin|drums?|drumming|flute|trumpet|saxophone|synth",
       "audio", 0.5),
    # image
    _c("photo / picture / image",
       r"photos?|photographs?|pictures?|pics?|images?|snapshots?|screenshots?", "image"),
    _c("icon / emoji", r"icons?|emojis?|emoticons?|logos?|symbols?|stickers?", "image"),
    _c("looks like", r"looks?\s+like|looking\s+like|appearance|shaped|shape\s+of", "image"),
    _c("drawing", r"drawings?|drawn|illustrations?|clip\s*-?art|cartoons?|paintings?|sketch(?:es)?"
       r"|diagrams?|clipart", "image"),
    _c("colour", _COLOURS, "image", 0.5),
    # text
    _c("document / text",
       r"documents?|documentation|docs|text|paragraphs?|articles?|passages?|pages?|faq", "text"),
    _c("answer / explain", r"answers?|explain(?:s|ed)?|explanation|definition|define|meaning",
       "text"),
    _c("how do I", r"how\s+(?:do|can|should|would)\s+(?:i|you|we|one)|how\s+to", "text"),
    _c("code", r"python|code|function|error|exception|syntax|module|install", "text", 0.5),
)

_QUESTION = re.compile(
    r"^\s*(?:who|what|when|where|why|how|which|is|are|can|could|does|do|should|would)\b|\?\s*$",
    re.IGNORECASE,
)
QUESTION_CUE = Cue("question form", _QUESTION.pattern, "text", 0.5)
_COMPILED = tuple((cue, re.compile(cue.pattern, re.IGNORECASE)) for cue in CUES)


def match_cues(query: str) -> list[CueMatch]:
    """Every cue that matches ``query`` (each at most once), in table order.

    Example:
        >>> [(m.cue.modality, m.text) for m in match_cues("the sound of a dog barking")]
        [('audio', 'sound of'), ('audio', 'barking')]
    """
    matches = []
    for cue, rx in _COMPILED:
        m = rx.search(query)
        if m:
            matches.append(CueMatch(cue, m.group(0)))
    q = _QUESTION.search(query)
    if q:
        matches.append(CueMatch(QUESTION_CUE, q.group(0).strip()))
    return matches


def rule_evidence(matches: list[CueMatch]) -> Mapping[str, float]:
    """Sum of matched weights per modality (0.0 for modalities without a match)."""
    evidence = dict.fromkeys(MODALITIES, 0.0)
    for m in matches:
        evidence[m.cue.modality] += m.cue.weight
    return evidence
