"""The result of an encode call that reports bad items instead of raising."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ItemProblem:
    """One input that could not be used as given."""

    index: int  # position in the input list
    item: str  # a short description of the item (text prefix, path)
    reason: str  # what was wrong, in words


@dataclass(frozen=True)
class EncodeReport:
    """Vectors of the good items, and what happened to the others.

    ``vectors[k]`` embeds input ``indices[k]``; ``failed`` lists the items that were not
    embedded, ``truncated`` the items embedded after truncation.
    """

    vectors: np.ndarray = field(repr=False)  # (n_good, d) float32, L2-normalised
    indices: np.ndarray = field(repr=False)  # (n_good,) int64 positions in the input
    failed: tuple[ItemProblem, ...] = ()
    truncated: tuple[ItemProblem, ...] = ()


def describe(item: object, limit: int = 60) -> str:
    """A short, printable description of an input item for error messages."""
    text = item if isinstance(item, str) else repr(item)
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 1] + "…"
