"""Synthetic hard negatives for captions: swap exactly one attribute.

A hard negative is a caption that differs from the true one in a single detail — a colour, a
count, a size, a spatial relation or an object — so the model must read the detail to tell them
apart: "a red car parked on a street" → "a blue car parked on a street". Swaps are whole-word
(``reddish``, ``credit`` and ``onion`` are untouched), case-preserving (``Red`` → ``Blue``) and
multi-word aware (``in front of`` ↔ ``behind``). After "a"/"an" only replacements that keep the
article right are used ("a red car" never becomes "a orange car"), so just one word changes.
Number words swap with number words, digits with digits (never inside a decimal such as "1.5").
Plural objects swap with plural objects (``cars`` → ``boats``); the object vocabulary only holds
nouns with regular ``-s``/``-es`` plurals, so irregular plurals never occur.

The rule-based generator is built in; any callable matching :class:`NegativeGenerator` (an LLM
callback, say) plugs into :func:`synthesize_negatives`, which validates what it returns.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["colour", "number", "size", "spatial", "object"]
KINDS: tuple[Kind, ...] = ("colour", "number", "size", "spatial", "object")

# Whole word: no letter/digit/underscore/hyphen around, and not part of a decimal ("1.5").
_LEFT = r"(?<![\w\-])(?<!\d[.,])"
_RIGHT = r"(?![\w\-])(?![.,]\d)"


@dataclass(frozen=True)
class SwapRule:
    """One swap vocabulary: a term may be replaced by any term of another group of the rule.

    Args:
        kind: The attribute kind the rule swaps.
        groups: Groups of interchangeable spellings (``("grey", "gray")``); a term is never
            replaced by a term of its own group.
    """

    kind: Kind
    groups: tuple[tuple[str, ...], ...]

    def replacements(self, term: str) -> tuple[str, ...]:
        """Terms that may replace ``term`` (lower case).

        >>> SwapRule("size", (("small", "tiny"), ("large", "big"))).replacements("tiny")
        ('large', 'big')
        """
        term = term.lower()
        return tuple(t for g in self.groups if term not in g for t in g)


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


# fmt: off
# Regular plurals only ("sheep", "man" left out); "orange" is a colour, not an object.
_OBJECTS: tuple[str, ...] = (
    "car", "dog", "cat", "bird", "tree", "house", "bicycle", "boat", "horse", "cow", "truck", "bus",
    "train", "plane", "chair", "table", "bench", "bottle", "cup", "bowl", "book", "clock", "lamp",
    "phone", "laptop", "ball", "kite", "umbrella", "bag", "hat", "shoe", "apple", "banana", "pizza",
    "cake", "sandwich", "flower", "fence", "bridge", "road", "door", "window", "boy", "girl",
    "elephant", "giraffe", "bear", "zebra", "duck",
)
_COLOURS = ("red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink", "brown")
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_SPATIAL = (
    ("left", "right"), ("above", "below"), ("on", "under"), ("in front of", "behind"),
    ("top", "bottom"), ("inside", "outside"),
)
# fmt: on

DEFAULT_RULES: tuple[SwapRule, ...] = (
    SwapRule("colour", (*((c,) for c in _COLOURS), ("grey", "gray"))),
    SwapRule("number", tuple((w,) for w in _NUMBER_WORDS)),
    SwapRule("number", tuple((str(d),) for d in range(1, 11))),
    SwapRule("size", (("small", "tiny", "little"), ("large", "big", "huge", "giant"))),
    SwapRule("size", (("short",), ("tall",))),
    SwapRule("size", (("thin",), ("thick",))),
    *(SwapRule("spatial", ((a,), (b,))) for a, b in _SPATIAL),
    SwapRule("object", tuple((o,) for o in _OBJECTS)),
    SwapRule("object", tuple((_plural(o),) for o in _OBJECTS)),
)


def _match_case(src: str, new: str) -> str:
    if len(src) > 1 and src.isupper():
        return new.upper()
    if src[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


class NegativeGenerator(Protocol):
    """Anything that turns one caption into up to ``n`` negatives (e.g. an LLM callback)."""

    def __call__(self, caption: str, *, n: int, seed: int) -> list[str]: ...


@dataclass(frozen=True)
class RuleBasedNegatives:
    """The built-in generator: one vocabulary swap per negative.

    Args:
        rules: The swap vocabularies.
        kinds: The kinds of swap to use; ``None`` uses all.

    >>> sorted(RuleBasedNegatives(kinds=("size",))("a small dog", n=5, seed=0))
    ['a big dog', 'a giant dog', 'a huge dog', 'a large dog']
    """

    rules: tuple[SwapRule, ...] = DEFAULT_RULES
    kinds: tuple[Kind, ...] | None = None

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds or () if k not in KINDS]
        if bad:
            raise ValueError(f"unknown swap kinds {bad}; expected some of {KINDS}")

    def _slots(self, caption: str) -> list[tuple[int, int, tuple[str, ...]]]:
        found: list[tuple[int, int, tuple[str, ...]]] = []
        for rule in self.rules:
            if self.kinds is not None and rule.kind not in self.kinds:
                continue
            for term in sorted({t for g in rule.groups for t in g}, key=len, reverse=True):
                pat = _LEFT + r"\s+".join(map(re.escape, term.split())) + _RIGHT
                for m in re.finditer(pat, caption, flags=re.IGNORECASE):
                    found.append((m.start(), m.end(), rule.replacements(term)))
        # Longest match wins where spans overlap; ties go to the rule listed first.
        found.sort(key=lambda s: (s[0] - s[1], s[0]))
        kept: list[tuple[int, int, tuple[str, ...]]] = []
        for s in found:
            if all(s[1] <= k[0] or s[0] >= k[1] for k in kept):
                kept.append(s)
        return sorted(kept, key=lambda s: s[0])

    def __call__(self, caption: str, *, n: int = 1, seed: int = 0) -> list[str]:
        """Up to ``n`` distinct negatives, seeded; slots are visited round-robin for variety."""
        rng = random.Random(seed)
        queues = []
        for start, end, repl in self._slots(caption):
            article = re.search(r"(?<![\w\-])(an?)\s+$", caption[:start], flags=re.IGNORECASE)
            options = [
                caption[:start] + _match_case(caption[start:end], r) + caption[end:]
                for r in sorted(repl)
                if article is None or (article[1].lower() == "an") == (r[0] in "aeiou")
            ]
            rng.shuffle(options)
            queues.append(options)
        rng.shuffle(queues)
        out: list[str] = []
        seen = {caption}
        while len(out) < n and any(queues):
            for q in queues:
                if q and len(out) < n:
                    cand = q.pop(0)
                    if cand not in seen:
                        seen.add(cand)
                        out.append(cand)
        return out


def swap_negatives(
    caption: str, *, n: int = 1, kinds: Sequence[Kind] | None = None, seed: int = 0
) -> list[str]:
    """Up to ``n`` distinct negatives of ``caption``, each with exactly one attribute swapped.

    Args:
        caption: The true caption.
        n: How many negatives at most.
        kinds: Which kinds of swap to use (``None``: all).
        seed: Seed; the same seed gives the same negatives.

    Returns:
        The negatives (never the caption itself); ``[]`` when nothing is swappable.

    >>> swap_negatives("a red car parked on a street", kinds=["colour"], n=2, seed=1)
    ['a pink car parked on a street', 'a white car parked on a street']
    >>> swap_negatives("Two cats", kinds=["number"])
    ['Ten cats']
    >>> swap_negatives("an onion, credited")
    []
    """
    gen = RuleBasedNegatives(kinds=None if kinds is None else tuple(kinds))
    return gen(caption, n=n, seed=seed)


@dataclass(frozen=True)
class SyntheticNegatives:
    """Negatives per caption.

    Args:
        negatives: For each caption, its negatives (at most ``n``).
        missing: Indices of the captions that got fewer than ``n``.
    """

    negatives: tuple[tuple[str, ...], ...]
    missing: tuple[int, ...]


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def synthesize_negatives(
    captions: Sequence[str],
    *,
    n: int = 1,
    generator: NegativeGenerator | None = None,
    seed: int = 0,
) -> SyntheticNegatives:
    """Negatives for every caption from ``generator`` (default: :class:`RuleBasedNegatives`).

    The generator's outputs are validated: a non-list or a non-string item raises ``TypeError``;
    empty strings, the caption itself (ignoring case and spacing) and duplicates are dropped; at
    most ``n`` are kept. Caption ``i`` is generated with seed ``seed + i``.

    Args:
        captions: The true captions.
        n: Negatives wanted per caption (≥ 1).
        generator: Any :class:`NegativeGenerator`, e.g. an LLM callback.
        seed: Base seed.

    Returns:
        The negatives and the indices of captions that got fewer than ``n``.

    >>> out = synthesize_negatives(["a red car", "a street"], n=1)
    >>> out.negatives[1], out.missing
    ((), (1,))
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    gen = generator if generator is not None else RuleBasedNegatives()
    result: list[tuple[str, ...]] = []
    missing: list[int] = []
    for i, caption in enumerate(captions):
        raw = gen(caption, n=n, seed=seed + i)
        if isinstance(raw, str) or not isinstance(raw, Sequence):
            raise TypeError(f"generator must return a list of str, got {type(raw).__name__}")
        seen = {_norm(caption)}
        kept: list[str] = []
        for item in raw:
            if not isinstance(item, str):
                raise TypeError(
                    f"generator returned a {type(item).__name__} for caption {i}; expected str"
                )
            key = _norm(item)
            if key and key not in seen and len(kept) < n:
                seen.add(key)
                kept.append(item)
        result.append(tuple(kept))
        if len(kept) < n:
            missing.append(i)
    return SyntheticNegatives(tuple(result), tuple(missing))
