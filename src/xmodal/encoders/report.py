"""The result of an encode call that reports bad items instead of raising."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xmodal.data.problems import ItemProblem, describe

__all__ = ["EncodeReport", "ItemProblem", "describe"]


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
