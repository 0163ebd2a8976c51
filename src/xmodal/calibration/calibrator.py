"""Score calibration: map one model's raw cosine to the probability that a pair is relevant.

A :class:`Calibrator` belongs to one model and one query type (``"text→image"``,
``"image→image"``, ...): raw cosines of different models, or of within- vs cross-modal queries,
live on different scales. It is fitted on labelled scores: matched vs non-matched pair scores
(:meth:`Calibrator.from_pairs`) or (score, relevant) samples (:meth:`Calibrator.fit`).

Methods (both pure NumPy, float64):

- ``"isotonic"``: pool-adjacent-violators (PAV) regression, a monotone non-decreasing step
  function through the fitted points, linearly interpolated between them and clipped to the end
  values outside the fitted range (the same function as scikit-learn's ``IsotonicRegression``
  with ``out_of_bounds="clip"``). Flexible; needs a few hundred samples.
- ``"platt"``: Platt scaling, ``sigmoid(coef · raw + intercept)`` fitted by Newton's method
  (IRLS) on the log-loss with a tiny ridge ``l2 · coef² / 2`` that keeps separable data finite.
  Two parameters; fits with few samples.

The probabilities reflect the class balance of the fit data: fit on a sample whose share of
relevant pairs resembles the one searches will see, or read them as relative scores.

Thresholds (:meth:`~Calibrator.threshold_for_precision`, :meth:`~Calibrator.threshold_for_recall`)
are raw-score thresholds chosen on the fit data. Choose them on a calibration split that the
model was not trained on, and check them on held-out data. :meth:`~Calibrator.with_threshold`
records one; :meth:`~Calibrator.to_dict` then writes it under ``"threshold"``, the key
``xmodal.search.thresholds.threshold_for`` reads (store the dict with
``Collection.set_calibration``).

Where the rest of calibration lives: see :mod:`xmodal.calibration`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["CalibrationMethod", "Calibrator", "isotonic_fit", "platt_fit"]

CalibrationMethod = Literal["isotonic", "platt"]
FORMAT = "xmodal.calibration/1"


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted pool-adjacent-violators: the least-squares non-decreasing fit of ``y``."""
    means: list[float] = []
    weights: list[float] = []
    counts: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        means.append(yi)
        weights.append(wi)
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:  # pool the violating pair
            w2 = weights[-2] + weights[-1]
            means[-2] = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w2
            weights[-2] = w2
            counts[-2] += counts[-1]
            del means[-1], weights[-1], counts[-1]
    return np.repeat(np.asarray(means), counts)


def isotonic_fit(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of the isotonic fit of ``labels`` on ``scores``; predict with ``np.interp``.

    Equal scores are pooled first (their mean label, weighted by count). Interior points of a
    constant run are dropped: interpolation through the remaining knots is unchanged.

    Example:
        >>> x, y = isotonic_fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0]))
        >>> x.tolist(), y.tolist()
        ([0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.5, 1.0])
    """
    ux, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)  # (u,)
    sums = np.bincount(inverse, weights=labels, minlength=len(ux))  # (u,)
    fitted = _pav(sums / counts, counts.astype(np.float64))  # (u,)
    keep = np.ones(len(ux), dtype=bool)
    if len(ux) > 2:
        same_prev = fitted[1:-1] == fitted[:-2]
        same_next = fitted[1:-1] == fitted[2:]
        keep[1:-1] = ~(same_prev & same_next)
    return ux[keep], fitted[keep]


def platt_fit(
    scores: np.ndarray, labels: np.ndarray, *, l2: float = 1e-6, max_iter: int = 200
) -> tuple[float, float]:
    """``(coef, intercept)`` of ``P(relevant) = sigmoid(coef · score + intercept)`` by Newton.

    Minimises ``sum(log(1 + exp(z)) - y z) + l2 · coef² / 2`` with ``z = coef · s + intercept``
    (scikit-learn's ``LogisticRegression(C=1/l2)``: the intercept is not penalised), with a
    backtracking line search so every step lowers the loss.

    Example:
        >>> s = np.array([0.1, 0.2, 0.3, 0.4, 0.2, 0.3])
        >>> coef, intercept = platt_fit(s, np.array([0, 0, 1, 1, 1, 0.0]))
        >>> coef > 0
        True
    """

    def loss(t: np.ndarray) -> float:
        z = t[0] * scores + t[1]  # (n,)
        return float((np.logaddexp(0.0, z) - labels * z).sum() + 0.5 * l2 * t[0] ** 2)

    prior = float(np.clip(labels.mean(), 1e-12, 1 - 1e-12))
    theta = np.array([0.0, math.log(prior / (1 - prior))])  # (2,): coef, intercept
    current = loss(theta)
    for _ in range(max_iter):
        z = theta[0] * scores + theta[1]  # (n,)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # (n,) sigmoid, overflow-free
        r = p - labels  # (n,)
        grad = np.array([r @ scores + l2 * theta[0], r.sum()])  # (2,)
        v = p * (1 - p)  # (n,)
        hess = np.array([[v @ scores**2 + l2, v @ scores], [v @ scores, v.sum()]])  # (2, 2)
        hess += 1e-12 * np.eye(2)
        step = np.linalg.solve(hess, grad)  # (2,)
        t = 1.0
        while t > 1e-10:
            trial = theta - t * step
            value = loss(trial)
            if value <= current:
                break
            t *= 0.5
        else:
            break  # no decrease possible: at the optimum to machine precision
        theta, improvement, current = trial, current - value, value
        if np.abs(t * step).max() < 1e-12 or improvement < 1e-15 * max(1.0, abs(current)):
            break
    return float(theta[0]), float(theta[1])


def _as_scores(name: str, x: ArrayLike) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return arr


@dataclass(frozen=True)
class Calibrator:
    """Raw cosine → probability of relevance, for one model and one query type.

    Build with :meth:`fit` or :meth:`from_pairs`; call it on raw scores. The fit data is kept
    (not serialised) so thresholds can be chosen on it.

    Attributes:
        method: ``"isotonic"`` or ``"platt"``.
        model: The model whose raw scores this calibrates.
        query_type: E.g. ``"text→image"`` (within- and cross-modal queries differ).
        knots_x: Isotonic knots (raw scores), ascending; empty for Platt.
        knots_y: Isotonic fitted probabilities at ``knots_x``; empty for Platt.
        coef: Platt slope (None for isotonic).
        intercept: Platt intercept (None for isotonic).
        n_fit: Number of samples fitted on.
        threshold: A chosen raw-score threshold, or None.
        threshold_target: What the threshold was chosen for, e.g. ``"precision>=0.8"``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> s = rng.uniform(-0.2, 0.6, 4000)
        >>> y = rng.uniform(size=4000) < 1 / (1 + np.exp(-20 * (s - 0.3)))
        >>> cal = Calibrator.fit(s, y, method="platt", model="clip-b16")
        >>> round(float(cal(0.3)), 1), round(cal.coef)
        (0.5, 20)
        >>> t = cal.threshold_for_precision(0.8)
        >>> Calibrator.from_dict(cal.with_threshold(t).to_dict()).threshold == t
        True
    """

    method: CalibrationMethod
    model: str
    query_type: str
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    coef: float | None = None
    intercept: float | None = None
    n_fit: int = 0
    threshold: float | None = None
    threshold_target: str | None = None
    _scores: np.ndarray | None = field(default=None, repr=False, compare=False)  # (n,)
    _labels: np.ndarray | None = field(default=None, repr=False, compare=False)  # (n,)

    @classmethod
    def fit(
        cls,
        scores: ArrayLike,
        labels: ArrayLike,
        *,
        method: CalibrationMethod = "isotonic",
        query_type: str = "text→image",
        model: str = "",
        l2: float = 1e-6,
    ) -> Calibrator:
        """Fit on raw scores and 0/1 relevance labels.

        Args:
            scores: Raw cosines ``(n,)``.
            labels: Relevance ``(n,)``: bools or 0/1; both classes must occur.
            method: ``"isotonic"`` (PAV) or ``"platt"`` (logistic).
            query_type: The query type these scores come from.
            model: The model that produced the scores.
            l2: Platt's ridge on the slope (ignored by isotonic).

        Raises:
            ValueError: Shapes differ, non-finite values, labels other than 0/1, one class only,
                or an unknown method.
        """
        s = _as_scores("scores", scores)  # (n,)
        y = _as_scores("labels", labels)  # (n,)
        if s.shape != y.shape:
            raise ValueError(f"scores and labels differ in length: {len(s)} vs {len(y)}")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("labels must be 0/1 (or bool)")
        if y.min() == y.max():
            raise ValueError("labels hold one class only; need relevant and non-relevant samples")
        common = {"model": model, "query_type": query_type, "n_fit": len(s),
                  "_scores": s.copy(), "_labels": y.copy()}
        if method == "isotonic":
            kx, ky = isotonic_fit(s, y)
            return cls("isotonic", knots_x=tuple(kx.tolist()), knots_y=tuple(ky.tolist()),
                       **common)
        if method == "platt":
            coef, intercept = platt_fit(s, y, l2=l2)
            return cls("platt", coef=coef, intercept=intercept, **common)
        raise ValueError(f"method must be 'isotonic' or 'platt', got {method!r}")

    @classmethod
    def from_pairs(
        cls, matched: ArrayLike, nonmatched: ArrayLike, **options: Any
    ) -> Calibrator:
        """Fit on matched-pair scores (relevant) and non-matched pair scores (not relevant).

        ``options`` are :meth:`fit`'s keywords.

        Example:
            >>> cal = Calibrator.from_pairs([0.3, 0.35, 0.28], [0.1, 0.15, 0.3])
            >>> cal(np.array([0.0, 0.29, 0.4])).round(3).tolist()
            [0.0, 0.667, 1.0]
        """
        m = _as_scores("matched", matched)
        u = _as_scores("nonmatched", nonmatched)
        labels = np.concatenate([np.ones(len(m)), np.zeros(len(u))])
        return cls.fit(np.concatenate([m, u]), labels, **options)

    def __call__(self, raw: ArrayLike) -> np.ndarray:
        """Probabilities in [0, 1] for raw scores (same shape; a 0-d array for a scalar)."""
        r = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(r).all():
            raise ValueError("raw scores contain NaN or Inf")
        if self.method == "isotonic":
            return np.interp(r, self.knots_x, self.knots_y)
        assert self.coef is not None and self.intercept is not None
        return 0.5 * (1.0 + np.tanh(0.5 * (self.coef * r + self.intercept)))

    @property
    def fit_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Copies of the (scores, labels) fitted on; None after :meth:`from_dict`."""
        if self._scores is None or self._labels is None:
            return None
        return self._scores.copy(), self._labels.copy()

    def _curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(thresholds descending, precision, recall) of ``score >= threshold`` on the fit data."""
        if self._scores is None or self._labels is None:
            raise ValueError("this calibrator holds no fit data (loaded with from_dict); "
                             "choose thresholds on a freshly fitted one")
        order = np.argsort(-self._scores, kind="stable")
        s, y = self._scores[order], self._labels[order]  # (n,), descending scores
        last = np.r_[s[1:] != s[:-1], True]  # (n,): last index of each tied score
        tp = np.cumsum(y)[last]  # (u,)
        predicted = np.nonzero(last)[0] + 1.0  # (u,)
        return s[last], tp / predicted, tp / y.sum()

    def threshold_for_precision(self, precision: float) -> float:
        """The lowest raw threshold whose precision on the fit data is at least ``precision``.

        The lowest such threshold keeps the most recall. Choose on a calibration split.

        Raises:
            ValueError: No threshold reaches that precision, or there is no fit data.
        """
        if not 0 < precision <= 1:
            raise ValueError(f"precision must be in (0, 1], got {precision}")
        thresholds, prec, _ = self._curve()
        ok = np.nonzero(prec >= precision)[0]
        if len(ok) == 0:
            raise ValueError(f"no threshold reaches precision {precision} on the fit data "
                             f"(best {prec.max():.3f})")
        return float(thresholds[ok[-1]])

    def threshold_for_recall(self, recall: float) -> float:
        """The highest raw threshold whose recall on the fit data is at least ``recall``.

        Raises:
            ValueError: ``recall`` outside (0, 1], or there is no fit data.
        """
        if not 0 < recall <= 1:
            raise ValueError(f"recall must be in (0, 1], got {recall}")
        thresholds, _, rec = self._curve()
        return float(thresholds[np.nonzero(rec >= recall - 1e-12)[0][0]])

    def with_threshold(self, threshold: float, *, target: str | None = None) -> Calibrator:
        """A copy with ``threshold`` recorded (``target`` says why, e.g. ``"precision>=0.8"``)."""
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {threshold}")
        return replace(self, threshold=float(threshold), threshold_target=target)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for ``Collection.set_calibration``); the fit data is not included.

        Platt calibrators also carry ``"logit_scale"``/``"logit_bias"`` (their slope and
        intercept), which ``threshold_for`` reads as the probability-0.5 cosine when no
        ``"threshold"`` was chosen.
        """
        d: dict[str, Any] = {"format": FORMAT, "method": self.method, "model": self.model,
                             "query_type": self.query_type, "n_fit": self.n_fit}
        if self.method == "isotonic":
            d["knots_x"], d["knots_y"] = list(self.knots_x), list(self.knots_y)
        else:
            d["coef"], d["intercept"] = self.coef, self.intercept
            if self.coef is not None and self.coef > 0:
                d["logit_scale"], d["logit_bias"] = self.coef, self.intercept
        if self.threshold is not None:
            d["threshold"] = self.threshold
            d["threshold_target"] = self.threshold_target
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        """Rebuild a calibrator from :meth:`to_dict` output (without fit data)."""
        if d.get("format") != FORMAT:
            raise ValueError(f"not an xmodal calibration (format {d.get('format')!r})")
        method = d["method"]
        if method not in ("isotonic", "platt"):
            raise ValueError(f"unknown calibration method {method!r}")
        threshold = d.get("threshold")
        common = {"model": str(d["model"]), "query_type": str(d["query_type"]),
                  "n_fit": int(d["n_fit"]),
                  "threshold": None if threshold is None else float(threshold),
                  "threshold_target": d.get("threshold_target")}
        if method == "isotonic":
            kx = tuple(float(v) for v in d["knots_x"])
            ky = tuple(float(v) for v in d["knots_y"])
            if len(kx) != len(ky) or not kx or bool((np.diff(kx) < 0).any()):
                raise ValueError("isotonic knots must be non-empty, equal in length, ascending")
            return cls("isotonic", knots_x=kx, knots_y=ky, **common)
        return cls("platt", coef=float(d["coef"]), intercept=float(d["intercept"]), **common)
