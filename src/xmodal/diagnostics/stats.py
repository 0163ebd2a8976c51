"""Embedding statistics: spread, collapse, modality gap, effective rank, and :func:`diagnose`.

All statistics are computed in float64 on L2-normalised rows (cosine = dot product). Random
pairs ``(i, j)``, ``i != j``, are drawn with a seeded NumPy generator; when ``n (n - 1)`` is at
most ``n_random_pairs`` every off-diagonal pair is used and the statistics are exact.

Definitions:

- ``gap``: Euclidean distance between the centroids of the two normalised sets (Liang et al.,
  *Mind the Gap*, NeurIPS 2022); ``gap_cosine``: ``1 - cos(centroid_a, centroid_b)``.
- ``effective_rank``: ``exp(H(p))`` with ``p = s / sum(s)`` the normalised singular values of
  the *centred* normalised embeddings (Roy & Vetterli 2007). Centring removes the shared cone
  direction, so the number counts the directions the data spreads over. For two modalities it
  is the smaller of the two per-modality ranks (the weaker tower limits coverage).
- ``anisotropy``: mean cosine of random *within-modality* pairs (Ethayarajh 2019): 0 for
  isotropic vectors, near 1 when everything lies in a narrow cone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike
from typing_extensions import TypedDict  # pydantic reads this one below Python 3.12

from .findings import (
    Finding,
    FindingJSON,
    check_alignment,
    check_collapse,
    check_coverage,
    check_crowding,
    check_gap,
)

__all__ = [
    "Diagnosis",
    "DiagnosisJSON",
    "IntegerSource",
    "PairCosines",
    "diagnose",
    "effective_rank",
    "modality_gap",
    "pair_cosines",
    "random_pair_cosines",
    "random_pair_indices",
    "unit_rows",
]


def unit_rows(name: str, x: ArrayLike) -> np.ndarray:
    """Validate an ``(n, d)`` embedding matrix and return its rows L2-normalised in float64.

    Raises:
        ValueError: Not 2-D, empty, NaN/Inf, or an all-zero row.

    Example:
        >>> unit_rows("a", [[3.0, 4.0]]).tolist()
        [[0.6, 0.8]]
    """
    arr = np.asarray(x, dtype=np.float64)  # (n, d)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty, shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)  # (n,)
    if bad.any():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise ValueError(f"{name} contains {kind} (first at row {int(np.argmax(bad))})")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)  # (n, 1)
    if (norms == 0).any():
        row = int(np.argmax(norms[:, 0] == 0))
        raise ValueError(f"{name} has an all-zero row ({row}); its cosines are undefined")
    return arr / norms


class IntegerSource(Protocol):
    """What pairs are drawn from: a :class:`numpy.random.Generator`, or any object with its
    ``integers(low, high, size)`` (the training monitor wraps a torch generator)."""

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        """``size`` integers drawn uniformly from ``[low, high)``."""
        ...


def random_pair_indices(n: int, n_pairs: int, rng: IntegerSource) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``i != j``: all of them if few enough, else uniform samples.

    Sampled pairs draw ``i`` (``n_pairs`` integers in ``[0, n)``), then a shift (``n_pairs`` in
    ``[1, n)``), from ``rng`` in that order; ``j = (i + shift) % n`` is uniform over ``j != i``.

    Raises:
        ValueError: ``n < 2`` or ``n_pairs < 1``.

    Example:
        >>> i, j = random_pair_indices(3, 100, np.random.default_rng(0))
        >>> len(i), bool((i != j).all())
        (6, True)
    """
    if n < 2:
        raise ValueError(f"need at least 2 embeddings for random pairs, got {n}")
    if n_pairs < 1:
        raise ValueError(f"n_random_pairs must be >= 1, got {n_pairs}")
    if n * (n - 1) <= n_pairs:
        i, j = np.nonzero(~np.eye(n, dtype=bool))  # (n (n - 1),) each
        return i, j
    i = rng.integers(0, n, n_pairs)  # (P,)
    j = (i + rng.integers(1, n, n_pairs)) % n  # (P,), uniform over j != i
    return i, j


def pair_cosines(
    x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray, *, chunk: int = 4096
) -> np.ndarray:
    """Cosines ``x[i[k]] · y[j[k]]`` of unit rows, in chunks (memory ``chunk × d``, not ``P × d``).

    Example:
        >>> x = np.eye(3)
        >>> pair_cosines(x, x, np.array([0, 1]), np.array([0, 2])).tolist()
        [1.0, 0.0]
    """
    out = np.empty(len(i), dtype=np.float64)  # (P,)
    for start in range(0, len(i), chunk):
        sl = slice(start, start + chunk)
        out[sl] = np.einsum("pd,pd->p", x[i[sl]], y[j[sl]])
    return out


@dataclass(frozen=True)
class PairCosines:
    """Cosines of random pairs ``(i, j)``, ``i != j``, of two matched sets of unit rows.

    Attributes:
        cross: ``a[i]·b[j]``, ``(P,)``: the scores a cross-modal search ranks.
        within_a: ``a[i]·a[j]``, ``(P,)``.
        within_b: ``b[i]·b[j]``, ``(P,)``.
    """

    cross: np.ndarray
    within_a: np.ndarray
    within_b: np.ndarray

    @property
    def stds(self) -> tuple[float, float, float]:
        """Population stds (ddof=0) of ``cross``, ``within_a`` and ``within_b``."""
        return float(self.cross.std()), float(self.within_a.std()), float(self.within_b.std())

    @property
    def collapse_std(self) -> float:
        """The smallest of :attr:`stds`: a collapsing tower shows within its own modality before
        the cross-modal std moves (compared with :data:`~.findings.COLLAPSE_STD`)."""
        return min(self.stds)


def random_pair_cosines(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray
                        ) -> PairCosines:
    """The cross- and within-modality cosines of the pairs ``(i, j)`` of unit rows ``a``, ``b``.

    Both :func:`diagnose` and the training monitor (:func:`xmodal.train.embedding_stats`)
    compute their random-pair statistics here.

    Example:
        >>> a, b = np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]])
        >>> c = random_pair_cosines(a, b, np.array([0, 1]), np.array([1, 0]))
        >>> c.cross.tolist(), c.stds, c.collapse_std
        ([1.0, 1.0], (0.0, 0.0, 0.0), 0.0)
    """
    return PairCosines(cross=pair_cosines(a, b, i, j), within_a=pair_cosines(a, a, i, j),
                       within_b=pair_cosines(b, b, i, j))


def effective_rank(x: ArrayLike, *, center: bool = True) -> float:
    """Effective rank ``exp(entropy(s / sum(s)))`` of a matrix (Roy & Vetterli 2007).

    Args:
        x: ``(n, d)`` matrix (used as given; normalise rows first if wanted).
        center: Subtract the column means first.

    Example:
        >>> round(effective_rank(np.eye(4), center=False), 6)
        4.0
    """
    m = np.asarray(x, dtype=np.float64)  # (n, d)
    if center:
        m = m - m.mean(axis=0)
    gram = m.T @ m  # (d, d): its eigenvalues are the squared singular values
    s = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))  # (d,)
    total = s.sum()
    if total <= 0:
        return 0.0  # every row identical: no direction at all
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def modality_gap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Euclidean, cosine) distance between the centroids of two sets of unit rows.

    The cosine distance of a zero centroid is defined as 1 (no shared direction).

    Example:
        >>> g, c = modality_gap(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
        >>> round(g, 6), round(c, 6)
        (1.414214, 1.0)
    """
    ca, cb = a.mean(axis=0), b.mean(axis=0)  # (d,) each
    na, nb = np.linalg.norm(ca), np.linalg.norm(cb)
    cos = float(ca @ cb / (na * nb)) if na > 0 and nb > 0 else 0.0
    return float(np.linalg.norm(ca - cb)), 1.0 - cos


@dataclass(frozen=True)
class Diagnosis:
    """Statistics of one set of embeddings, or of two modalities given as matched pairs.

    Cross-modal fields (``gap``, ``matched_cos_mean``, ...) are None for one set. For two sets,
    ``random_pair_*``, ``frac_pairs_above_0_9`` and ``mean_pairwise_distance`` describe random
    *cross-modal* pairs ``a[i]·b[j]``, ``i != j`` (the scores a cross-modal search ranks); for one
    set, random pairs within it. See the module docstring for the definitions.

    Attributes:
        n: Number of embeddings (pairs).
        dim: Embedding dimension.
        gap: Euclidean distance between the modality centroids.
        gap_cosine: Cosine distance between the modality centroids.
        random_pair_mean: Mean cosine of random pairs.
        random_pair_std: Std of random-pair cosine (collapse shows here).
        frac_pairs_above_0_9: Fraction of random pairs with cosine > 0.9.
        mean_pairwise_distance: Mean Euclidean distance of random pairs, ``sqrt(2 - 2 cos)``.
        effective_rank: Effective rank (the smaller per-modality one for two sets).
        anisotropy: Mean cosine of random within-modality pairs.
        matched_cos_mean: Mean cosine of matched pairs ``a[i]·b[i]``.
        within_modal_mean: Mean of the two modalities' within-modality random-pair means.
        cross_modal_mean: Mean cosine of random cross-modal pairs (= ``random_pair_mean``).
        min_random_pair_std: Smallest std over cross-modal and both within-modality pair sets.
        findings: The checks of :mod:`xmodal.diagnostics.findings`, worst first.
    """

    n: int
    dim: int
    gap: float | None
    gap_cosine: float | None
    random_pair_mean: float
    random_pair_std: float
    frac_pairs_above_0_9: float
    mean_pairwise_distance: float
    effective_rank: float
    anisotropy: float
    matched_cos_mean: float | None
    within_modal_mean: float | None
    cross_modal_mean: float | None
    min_random_pair_std: float
    findings: tuple[Finding, ...]

    @property
    def worst(self) -> str:
        """The highest severity among the findings (``"ok"`` when all are fine)."""
        return self.findings[0].severity if self.findings else "ok"

    def to_json(self) -> DiagnosisJSON:
        """The JSON ``xmodal diagnose --json`` prints (and the served diagnostics extend): the
        headline statistics and every finding."""
        return DiagnosisJSON(
            n=self.n, dim=self.dim, gap=self.gap, gap_cosine=self.gap_cosine,
            random_pair_mean=self.random_pair_mean, random_pair_std=self.random_pair_std,
            effective_rank=self.effective_rank, anisotropy=self.anisotropy,
            matched_cos_mean=self.matched_cos_mean,
            findings=[f.to_json() for f in self.findings])


class DiagnosisJSON(TypedDict):
    """A :class:`Diagnosis` as JSON. Cross-modal fields are None for one set; served JSON also
    has None where a statistic is not finite (JSON has no NaN)."""

    n: int
    dim: int
    gap: float | None
    gap_cosine: float | None
    random_pair_mean: float | None
    random_pair_std: float | None
    effective_rank: float | None
    anisotropy: float | None
    matched_cos_mean: float | None
    findings: list[FindingJSON]


_RANK = {"error": 0, "warning": 1, "info": 2, "ok": 3}


def diagnose(
    a: ArrayLike, b: ArrayLike | None = None, *, n_random_pairs: int = 20000, seed: int = 0
) -> Diagnosis:
    """Diagnose one set of embeddings, or two modalities of one model as matched pairs.

    Args:
        a: Embeddings ``(n, d)`` (normalised here; need not be unit rows).
        b: Optional second modality ``(n, d)``, ``b[i]`` the match of ``a[i]``.
        n_random_pairs: Random pairs sampled per statistic (all pairs when fewer exist).
        seed: Seed of the pair sampling (the result is deterministic).

    Returns:
        A :class:`Diagnosis` with its findings, worst first.

    Raises:
        ValueError: Bad shapes, fewer than 2 rows, NaN/Inf, or an all-zero row.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = diagnose(rng.normal(size=(500, 32)))
        >>> round(d.random_pair_std, 2), d.gap, d.worst
        (0.18, None, 'ok')
        >>> d = diagnose(np.ones((10, 4)) + 1e-6 * rng.normal(size=(10, 4)))
        >>> d.findings[0].code, d.findings[0].severity
        ('collapse', 'error')
    """
    ua = unit_rows("a", a)  # (n, d)
    n, dim = ua.shape
    ub = None if b is None else unit_rows("b", b)  # (n, d)
    if ub is not None and ub.shape != ua.shape:
        raise ValueError(f"a and b must have the same shape (matched pairs), got "
                         f"{ua.shape} and {ub.shape}")
    i, j = random_pair_indices(n, n_random_pairs, np.random.default_rng(seed))  # (P,) each
    if ub is None:
        scores = pair_cosines(ua, ua, i, j)  # (P,) within the one set
        stds = [float(scores.std())]
        erank = effective_rank(ua)
        anisotropy = float(scores.mean())
        gap = gap_cos = matched = within_mean = cross_mean = None
    else:
        pairs = random_pair_cosines(ua, ub, i, j)
        scores = pairs.cross  # (P,) cross-modal
        stds = list(pairs.stds)
        erank = min(effective_rank(ua), effective_rank(ub))
        within_mean = anisotropy = float((pairs.within_a.mean() + pairs.within_b.mean()) / 2)
        gap, gap_cos = modality_gap(ua, ub)
        matched = float((ua * ub).sum(axis=1).mean())
        cross_mean = float(scores.mean())
    findings = [
        check_collapse(min(stds)),
        check_gap(gap, gap_cos),
        check_coverage(erank, n, dim),
        check_crowding(float((scores > 0.9).mean())),
    ]
    if matched is not None and cross_mean is not None:
        findings.append(check_alignment(matched, cross_mean, stds[0]))
    findings.sort(key=lambda f: _RANK[f.severity])  # stable: ties keep the check order
    return Diagnosis(
        n=n,
        dim=dim,
        gap=gap,
        gap_cosine=gap_cos,
        random_pair_mean=float(scores.mean()),
        random_pair_std=stds[0],
        frac_pairs_above_0_9=float((scores > 0.9).mean()),
        mean_pairwise_distance=float(np.sqrt(np.clip(2 - 2 * scores, 0, None)).mean()),
        effective_rank=erank,
        anisotropy=anisotropy,
        matched_cos_mean=matched,
        within_modal_mean=within_mean,
        cross_modal_mean=cross_mean,
        min_random_pair_std=min(stds),
        findings=tuple(findings),
    )
