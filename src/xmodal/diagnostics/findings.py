"""Findings: what the embedding statistics mean, how bad it is, and what to do about it.

Each check turns one statistic into a :class:`Finding` with a severity, a one-line explanation
and a remedy. Every check reports, also when all is well (severity ``"ok"``), so a report lists
what was checked. The thresholds are module constants, each with its source:

- collapse: std of random-pair cosine below :data:`COLLAPSE_STD` (0.01; also the default of the
  training monitor's alarm, ``TrainConfig.collapse_threshold``). Healthy CLIP-like models sit
  around 0.04-0.08 (CLIP ViT-B/16 on COCO: 0.048); isotropic random vectors give ``1/sqrt(d)``.
- modality gap: cosine distance between the modality centroids above :data:`GAP_COSINE`
  (0.5). Liang et al. 2022 measured a Euclidean centroid gap of 0.82 for CLIP on COCO. Centroids
  shorter than :data:`GAP_MIN_EUCLID` apart are noise around an isotropic cloud, never a gap.
- coverage: effective rank below :data:`COVERAGE_FRACTION` of ``min(n - 1, d)`` (a heuristic:
  the data spans only a few directions of the space).
- crowding: more than :data:`CROWDING_FRACTION` of random pairs above cosine 0.9.
- alignment: matched pairs no better than random pairs by :data:`ALIGNMENT_SIGMAS` stds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from typing_extensions import TypedDict  # pydantic reads this one below Python 3.12

__all__ = [
    "ALIGNMENT_SIGMAS",
    "COLLAPSE_STD",
    "COVERAGE_FRACTION",
    "CROWDING_FRACTION",
    "GAP_COSINE",
    "GAP_MIN_EUCLID",
    "Finding",
    "FindingJSON",
    "Severity",
    "check_alignment",
    "check_collapse",
    "check_coverage",
    "check_crowding",
    "check_gap",
]

Severity = Literal["ok", "info", "warning", "error"]

COLLAPSE_STD = 0.01
GAP_COSINE = 0.5
GAP_MIN_EUCLID = 0.1
COVERAGE_FRACTION = 0.1
CROWDING_FRACTION = 0.05
ALIGNMENT_SIGMAS = 2.0


@dataclass(frozen=True)
class Finding:
    """One diagnostic result.

    Attributes:
        code: Stable identifier of the check (``"collapse"``, ``"modality_gap"``, ...).
        severity: ``"ok"``, ``"info"``, ``"warning"`` or ``"error"``.
        message: One line: what was measured and what it means.
        remedy: One line: what to do about it (empty when nothing needs doing).

    Example:
        >>> f = check_collapse(0.002)
        >>> f.code, f.severity
        ('collapse', 'error')
    """

    code: str
    severity: Severity
    message: str
    remedy: str = ""

    def __post_init__(self) -> None:
        if self.severity not in ("ok", "info", "warning", "error"):
            raise ValueError(f"severity must be ok/info/warning/error, got {self.severity!r}")

    def to_json(self) -> FindingJSON:
        """The finding as JSON (``xmodal diagnose --json``, the served diagnostics)."""
        return FindingJSON(code=self.code, severity=self.severity, message=self.message,
                           remedy=self.remedy)


class FindingJSON(TypedDict):
    """A :class:`Finding` as JSON; ``remedy`` is "" when nothing needs doing."""

    code: str
    severity: Severity
    message: str
    remedy: str


def check_collapse(min_std: float) -> Finding:
    """Collapse: all embeddings point the same way, so every pair scores alike.

    Args:
        min_std: The smallest std of random-pair cosine (cross-modal and within each modality).

    Example:
        >>> check_collapse(0.05).severity
        'ok'
    """
    if min_std < COLLAPSE_STD:
        return Finding(
            "collapse",
            "error",
            f"embedding collapse: std of random-pair cosine {min_std:.4f} < {COLLAPSE_STD} "
            "(healthy CLIP-like models: 0.04-0.08); scores cannot separate items",
            "retrain with fewer or easier hard negatives, a higher temperature (lower logit "
            "scale) or a lower learning rate",
        )
    return Finding("collapse", "ok", f"no collapse: std of random-pair cosine {min_std:.4f}")


def check_gap(gap: float | None, gap_cosine: float | None) -> Finding:
    """Modality gap: the two modalities occupy different cones of the sphere.

    Args:
        gap: Euclidean distance between the centroids (None for one set of embeddings).
        gap_cosine: Cosine distance between the centroids.

    Example:
        >>> check_gap(0.82, 0.7).severity, check_gap(None, None).severity
        ('warning', 'ok')
    """
    if gap is None or gap_cosine is None:
        return Finding("modality_gap", "ok", "one set of embeddings: no modality gap to measure")
    if gap >= GAP_MIN_EUCLID and gap_cosine > GAP_COSINE:
        return Finding(
            "modality_gap",
            "warning",
            f"modality gap: centroid distance {gap:.3f} (cosine distance {gap_cosine:.3f} > "
            f"{GAP_COSINE}); cross-modal cosines sit on a shifted scale (CLIP on COCO: 0.82)",
            "calibrate thresholds per query type (Calibrator) or map one modality onto the "
            "other with GapProjection before mixing modalities",
        )
    return Finding(
        "modality_gap",
        "ok",
        f"modality gap small: centroid distance {gap:.3f}, cosine distance {gap_cosine:.3f}",
    )


def check_coverage(effective_rank: float, n: int, dim: int) -> Finding:
    """Coverage: the embeddings use only a few directions of the space.

    Args:
        effective_rank: Effective rank of the (centred) embeddings.
        n: Number of embeddings (the rank of centred data is at most ``n - 1``).
        dim: Embedding dimension.

    Example:
        >>> check_coverage(3.0, 1000, 512).severity
        'warning'
    """
    ceiling = max(1, min(n - 1, dim))
    if effective_rank < COVERAGE_FRACTION * ceiling:
        return Finding(
            "low_coverage",
            "warning",
            f"low coverage: effective rank {effective_rank:.1f} of at most {ceiling} "
            f"(< {COVERAGE_FRACTION:.0%}); the embeddings span few directions",
            "the data is homogeneous: add more diverse training/evaluation data",
        )
    return Finding(
        "low_coverage", "ok", f"coverage: effective rank {effective_rank:.1f} of at most {ceiling}"
    )


def check_crowding(frac_above_0_9: float) -> Finding:
    """Crowding: many unrelated pairs look like near-duplicates (cosine > 0.9).

    Example:
        >>> check_crowding(0.0).severity
        'ok'
    """
    if frac_above_0_9 > CROWDING_FRACTION:
        return Finding(
            "crowding",
            "warning",
            f"crowding: {frac_above_0_9:.1%} of random pairs have cosine > 0.9; unrelated items "
            "look like duplicates",
            "check for duplicated inputs; otherwise treat like collapse (higher temperature, "
            "fewer hard negatives)",
        )
    return Finding("crowding", "ok", f"{frac_above_0_9:.2%} of random pairs above cosine 0.9")


def check_alignment(matched_mean: float, cross_mean: float, cross_std: float) -> Finding:
    """Alignment: matched pairs must score clearly above random cross-modal pairs.

    Args:
        matched_mean: Mean cosine of matched pairs ``a[i]·b[i]``.
        cross_mean: Mean cosine of random cross-modal pairs.
        cross_std: Std of random cross-modal cosine.

    Example:
        >>> check_alignment(0.31, 0.16, 0.048).severity
        'ok'
    """
    margin = (matched_mean - cross_mean) / cross_std if cross_std > 0 else 0.0
    if margin < ALIGNMENT_SIGMAS:
        return Finding(
            "alignment",
            "warning",
            f"weak alignment: matched pairs score {matched_mean:.3f} vs random {cross_mean:.3f} "
            f"({margin:.1f} std apart, < {ALIGNMENT_SIGMAS:g}); retrieval will be poor",
            "check that a[i] and b[i] are really pairs; train longer or on more matched data",
        )
    return Finding(
        "alignment",
        "ok",
        f"matched pairs {matched_mean:.3f} vs random {cross_mean:.3f} ({margin:.1f} std apart)",
    )
