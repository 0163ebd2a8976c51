"""Fit a calibration (and optionally a gap projection) on matched pairs, checked on held-out pairs.

Input: ``n`` documents, each an item embedding (image / audio) and the query embedding of its
caption, of one model. The documents are split at random into a calibration part and a held-out
part (``holdout``). In each part:

- positives: ``cos(item_i, text_i)`` (the matched pairs);
- negatives: ``cos(item_i, text_j)`` for ``negatives`` random other documents ``j`` of the same
  part whose caption *group* differs (two documents with the same normalised caption are each
  other's positives, never negatives: :func:`xmodal.data.dedup.normalize_caption`).

A :class:`~xmodal.diagnostics.Calibrator` is fitted on the calibration part, the raw-cosine
threshold chosen there for the target precision (or recall), and the precision and recall at
that threshold measured on the held-out part. The class balance (1 positive : ``negatives``
negatives) is part of what the probabilities and the precision mean; report it with them.

Example:
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(400, 16))
    >>> items = shared + 0.5 * rng.normal(size=(400, 16))
    >>> texts = shared + 0.5 * rng.normal(size=(400, 16))
    >>> fit = fit_pair_calibration(items, texts, precision=0.8, query_type="text→image")
    >>> abs(fit.heldout_precision - 0.8) < 0.15, fit.calibrator.threshold == fit.threshold
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .calibrator import CalibrationMethod, Calibrator

if TYPE_CHECKING:
    from xmodal.diagnostics.gap import GapProjection

__all__ = ["PairCalibration", "fit_pair_calibration", "pair_scores"]


def pair_scores(items: np.ndarray, texts: np.ndarray, rows: np.ndarray, groups: np.ndarray,
                negatives: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(positives, negatives)`` cosines among the documents ``rows`` (unit ``items``/``texts``).

    Each row's negatives are up to ``negatives`` distinct other rows of another caption group.
    """
    pos = (items[rows] * texts[rows]).sum(axis=1)  # (r,)
    neg: list[np.ndarray] = []
    for i in rows.tolist():
        others = rows[groups[rows] != groups[i]]  # (o,)
        if len(others) == 0:
            continue
        pick = rng.choice(others, size=min(negatives, len(others)), replace=False)  # (m,)
        neg.append(texts[pick] @ items[i])  # (m,)
    return pos, (np.concatenate(neg) if neg else np.zeros(0))


@dataclass(frozen=True)
class PairCalibration:
    """A calibrator with its threshold, checked on held-out pairs.

    Attributes:
        calibrator: Fitted on the calibration part, with ``threshold`` recorded.
        threshold: The raw-cosine threshold chosen on the calibration part.
        target: ``{"precision": p}`` or ``{"recall": r}``.
        heldout_precision: Precision of ``score >= threshold`` on the held-out pairs.
        heldout_recall: Recall of the same on the held-out pairs.
        counts: Documents and pairs per part (``docs``, ``fit_docs``, ``heldout_docs``,
            ``fit_positives``, ``fit_negatives``, ``heldout_positives``, ``heldout_negatives``,
            ``negatives_per_item``).
        projection: A text → item :class:`GapProjection` fitted on the calibration part's
            matched pairs, or None.
        heldout_gap: Centroid gap of the held-out pairs before / after the projection
            (``{"before": g0, "after": g1}``), or None.
    """

    calibrator: Calibrator
    threshold: float
    target: dict[str, float]
    heldout_precision: float
    heldout_recall: float
    counts: dict[str, int]
    projection: GapProjection | None = None
    heldout_gap: dict[str, float] | None = None

    def entry(self) -> dict[str, Any]:
        """The collection calibration entry of this query modality (see
        :mod:`xmodal.calibration.stored`)."""
        d = self.calibrator.to_dict()
        d.update(threshold=self.threshold, target=dict(self.target), fitted_on=dict(self.counts),
                 heldout={"precision": self.heldout_precision, "recall": self.heldout_recall})
        if self.projection is not None:
            d["projection"] = self.projection.to_dict()
            d["projection"]["heldout_gap"] = self.heldout_gap
        return d


def fit_pair_calibration(
    items: ArrayLike,
    texts: ArrayLike,
    *,
    groups: Sequence[int] | np.ndarray | None = None,
    precision: float | None = None,
    recall: float | None = None,
    method: CalibrationMethod = "isotonic",
    query_type: str = "text→image",
    model: str = "",
    holdout: float = 0.3,
    negatives: int = 10,
    gap: bool = False,
    seed: int = 0,
) -> PairCalibration:
    """Fit a calibrator (and a gap projection with ``gap``) on matched pairs; check held out.

    Args:
        items: Item embeddings ``(n, d)``, row ``i`` a document.
        texts: Query embeddings of the documents' captions ``(n, d)``.
        groups: Caption group per document (equal = same normalised caption); default: all
            different.
        precision: Target precision of the threshold (default 0.8 when no ``recall``).
        recall: Or a target recall.
        method: ``"isotonic"`` or ``"platt"``.
        query_type: E.g. ``"text→image"``.
        model: The model's name.
        holdout: Share of documents held out.
        negatives: Negatives per item.
        gap: Also fit a text → item :class:`GapProjection`.
        seed: Seed of the split and the negatives.

    Raises:
        ValueError: Shapes differ, both or invalid targets, too few documents, or the target
            cannot be reached on the calibration part.
    """
    # not at module level: xmodal.diagnostics re-exports this module's names
    from xmodal.diagnostics.gap import GapProjection
    from xmodal.diagnostics.stats import modality_gap, unit_rows

    ui, ut = unit_rows("items", items), unit_rows("texts", texts)  # (n, d) each
    if ui.shape != ut.shape:
        raise ValueError(f"items and texts differ in shape: {ui.shape} vs {ut.shape}")
    n = len(ui)
    g = np.arange(n) if groups is None else np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have one entry per document ({n}), got {g.shape}")
    if precision is not None and recall is not None:
        raise ValueError("give a target precision or a target recall, not both")
    target = {"recall": float(recall)} if recall is not None else {
        "precision": float(0.8 if precision is None else precision)}
    if not 0 < holdout < 1 or negatives < 1:
        raise ValueError("holdout must be in (0, 1) and negatives >= 1")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_held = round(holdout * n)
    held, fit_rows = np.sort(order[:n_held]), np.sort(order[n_held:])
    if len(held) < 2 or len(fit_rows) < 2:
        raise ValueError(f"{n} documents are too few to calibrate with a held-out split")
    fp, fn = pair_scores(ui, ut, fit_rows, g, negatives, rng)
    hp, hn = pair_scores(ui, ut, held, g, negatives, rng)
    if len(fn) == 0 or len(hn) == 0:
        raise ValueError("no non-matched pairs: every document has the same caption")
    cal = Calibrator.from_pairs(fp, fn, method=method, query_type=query_type, model=model)
    if "recall" in target:
        threshold = cal.threshold_for_recall(target["recall"])
        label = f"recall>={target['recall']}"
    else:
        threshold = cal.threshold_for_precision(target["precision"])
        label = f"precision>={target['precision']}"
    cal = cal.with_threshold(threshold, target=label)
    tp, fp_count = int((hp >= threshold).sum()), int((hn >= threshold).sum())
    counts = {"docs": n, "fit_docs": len(fit_rows), "heldout_docs": len(held),
              "fit_positives": len(fp), "fit_negatives": len(fn),
              "heldout_positives": len(hp), "heldout_negatives": len(hn),
              "negatives_per_item": negatives}
    projection = heldout_gap = None
    if gap:
        projection = GapProjection.fit(ut[fit_rows], ui[fit_rows])  # a = text, b = item
        heldout_gap = {"before": modality_gap(ut[held], ui[held])[0],
                       "after": modality_gap(projection.transform(ut[held]), ui[held])[0]}
    return PairCalibration(
        calibrator=cal, threshold=threshold, target=target,
        heldout_precision=tp / (tp + fp_count) if tp + fp_count else float("nan"),
        heldout_recall=tp / len(hp), counts=counts, projection=projection,
        heldout_gap=heldout_gap)
