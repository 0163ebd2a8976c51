"""Hard negatives mixed with in-batch negatives at a controlled ratio, and its schedule.

An anchor's negatives come from two pools: the other items of the batch (*random* negatives,
``n_r`` of them) and ``M`` explicit *hard* negatives (mined or synthetic). Appending the hard ones
as plain extra candidates (sentence-transformers' MNRL) lets their share of the loss drift with
the batch size: 7 mined negatives are 88 % of the candidates at batch 2 and 0.02 % at 32,768.

xmodal fixes the share instead. With ``hard_negative_ratio = ρ`` (hard : random), the M hard
negatives together weigh ``ρ · n_r`` random negatives, i.e. each hard negative's logit gets the
log-weight ``log(ρ · n_r / M)`` in the softmax denominator (and the weight ``ρ · n_r / M`` on its
sigmoid term). The default ``ρ = 1/7`` is the 1 hard : 7 random mix of the BGE recipe;
``ρ = 0`` is exactly the loss without hard negatives; ``ρ = None`` appends them unweighted.
The in-batch negatives are never re-weighted, so ρ only moves the hard negatives' influence.

A schedule maps the training step to ρ, so training can start on random negatives only and
bring hard ones in later (:class:`HardNegativeCurriculum`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

DEFAULT_HARD_NEGATIVE_RATIO = 1 / 7
"""1 hard : 7 random, the BGE practice."""


@runtime_checkable
class HardNegativeSchedule(Protocol):
    """Maps the optimiser step to the hard : random ratio ρ (>= 0)."""

    def __call__(self, step: int) -> float: ...


@dataclass(frozen=True)
class HardNegativeCurriculum:
    """Random negatives only for ``warmup_steps``, then ρ ramps linearly to ``ratio``.

    Args:
        ratio: Final hard : random ratio (default 1/7).
        warmup_steps: Steps with ρ = 0 (random negatives only).
        ramp_steps: Steps over which ρ grows linearly from 0 to ``ratio`` after the warm-up.

    Example:
        >>> sched = HardNegativeCurriculum(ratio=1 / 7, warmup_steps=100, ramp_steps=100)
        >>> sched(0), sched(150), round(sched(500), 4)
        (0.0, 0.07142857142857142, 0.1429)
    """

    ratio: float = DEFAULT_HARD_NEGATIVE_RATIO  # final hard : random ratio
    warmup_steps: int = 0  # steps with random negatives only
    ramp_steps: int = 0  # linear ramp length after the warm-up

    def __post_init__(self) -> None:
        check_ratio(self.ratio)
        if self.warmup_steps < 0 or self.ramp_steps < 0:
            raise ValueError("warmup_steps and ramp_steps must be >= 0")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return 0.0
        if self.ramp_steps == 0:
            return self.ratio
        return self.ratio * min(1.0, (step - self.warmup_steps) / self.ramp_steps)


def check_ratio(ratio: float | None) -> None:
    """Raise unless ``ratio`` is None or a finite float >= 0."""
    if ratio is None:
        return
    if not (isinstance(ratio, int | float) and math.isfinite(ratio) and ratio >= 0):
        raise ValueError(f"hard_negative_ratio must be a finite number >= 0 or None, got {ratio!r}")


def resolve_ratio(
    ratio: float | HardNegativeSchedule | None, step: int | None
) -> float | None:
    """The ratio in force: a number as is, a schedule evaluated at ``step`` (required)."""
    if ratio is None or isinstance(ratio, int | float):
        check_ratio(ratio)
        return None if ratio is None else float(ratio)
    if step is None:
        raise ValueError(
            "hard_negative_ratio is a schedule: pass step=<optimiser step> so it can be evaluated"
        )
    value = float(ratio(step))
    check_ratio(value)
    return value


def random_negative_counts(
    n_rows: int,
    n_cols: int,
    *,
    offset: int,
    groups_rows: torch.Tensor | None,
    groups_cols: torch.Tensor | None,
    device: torch.device,
) -> torch.Tensor:
    """Number of in-batch negatives of each row: columns minus its positive and its group. (n,)"""
    if groups_rows is None or groups_cols is None:
        return torch.full((n_rows,), n_cols - 1, dtype=torch.int64, device=device)
    values, counts = torch.unique(groups_cols, return_counts=True)
    pos = torch.searchsorted(values, groups_rows).clamp(max=values.numel() - 1)
    same = torch.where(values[pos] == groups_rows, counts[pos], torch.zeros_like(pos))  # (n,)
    # The positive column is excluded once; if it shares the row's group it is already counted.
    own = torch.arange(n_rows, device=device) + offset
    positive_in_group = groups_cols[own] == groups_rows
    return n_cols - same - (~positive_in_group).long()


def hard_negative_log_weights(
    ratio: float | None, n_random: torch.Tensor, m: int, dtype: torch.dtype
) -> torch.Tensor | None:
    """Log-weight of each hard-negative logit per row, (n, 1); None when unweighted.

    ``log(ρ · n_r / M)``: ``-inf`` when ρ = 0 or a row has no random negative (the hard
    negatives then carry no weight).
    """
    if ratio is None:
        return None
    w = ratio * n_random.to(torch.float64) / m  # (n,)
    return torch.log(w).to(dtype)[:, None]  # log(0) = -inf
