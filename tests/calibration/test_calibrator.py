"""Calibrator: PAV and Platt against scikit-learn, known probabilities, thresholds, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xmodal.calibration import Calibrator
from xmodal.calibration.calibrator import isotonic_fit, platt_fit


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels with known P(relevant | s) = sigmoid(20 (s - 0.3))."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-0.1, 0.6, n)
    return s, (rng.uniform(size=n) < _sigmoid(20 * (s - 0.3))).astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isotonic_matches_sklearn(seed: int) -> None:
    isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(seed)
    s = np.round(rng.normal(0.2, 0.1, 800), 2)  # many ties
    y = (rng.uniform(size=800) < _sigmoid(15 * (s - 0.2))).astype(float)
    ref = isotonic.IsotonicRegression(out_of_bounds="clip").fit(s, y)
    cal = Calibrator.fit(s, y, method="isotonic")
    grid = np.linspace(s.min() - 0.2, s.max() + 0.2, 2001)
    np.testing.assert_allclose(cal(grid), ref.predict(grid), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cal(s), ref.predict(s), rtol=0, atol=1e-9)


def test_isotonic_fit_continuous_targets_match_sklearn() -> None:
    isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=300), rng.normal(size=300)
    ref = isotonic.IsotonicRegression(out_of_bounds="clip").fit(x, y)
    kx, ky = isotonic_fit(x, y)
    grid = np.linspace(-0.5, 1.5, 999)
    np.testing.assert_allclose(np.interp(grid, kx, ky), ref.predict(grid), atol=1e-9)
    assert (np.diff(ky) >= 0).all() and len(kx) < 300  # constant runs collapsed to their ends


@pytest.mark.parametrize("seed", [0, 4])
def test_platt_matches_sklearn_logistic_regression(seed: int) -> None:
    linear = pytest.importorskip("sklearn.linear_model")
    s, y = _synthetic(3000, seed)
    ref = linear.LogisticRegression(C=1e6, tol=1e-12, max_iter=10000).fit(s[:, None], y)
    cal = Calibrator.fit(s, y, method="platt", l2=1e-6)
    assert cal.coef == pytest.approx(float(ref.coef_[0, 0]), rel=1e-4)
    assert cal.intercept == pytest.approx(float(ref.intercept_[0]), rel=1e-4, abs=1e-4)
    grid = np.linspace(-0.2, 0.7, 101)
    np.testing.assert_allclose(cal(grid), ref.predict_proba(grid[:, None])[:, 1], atol=1e-4)


@pytest.mark.parametrize(("method", "tol"), [("isotonic", 0.06), ("platt", 0.02)])
def test_recovers_known_probabilities(method: str, tol: float) -> None:
    s, y = _synthetic(20000, 5)
    cal = Calibrator.fit(s, y, method=method)  # type: ignore[arg-type]
    grid = np.linspace(0.0, 0.5, 51)
    err = np.abs(cal(grid) - _sigmoid(20 * (grid - 0.3)))
    assert err.mean() < tol / 2 and err.max() < 2 * tol
    assert (np.diff(cal(np.linspace(-1, 1, 500))) >= 0).all()
    out = cal(np.array([-5.0, 5.0]))
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_precision_threshold_holds_on_held_out_split(method: str) -> None:
    s_cal, y_cal = _synthetic(5000, 6)
    s_test, y_test = _synthetic(5000, 7)
    cal = Calibrator.fit(s_cal, y_cal, method=method)  # type: ignore[arg-type]
    t = cal.threshold_for_precision(0.8)
    kept = s_test >= t
    assert abs(y_test[kept].mean() - 0.8) <= 0.08
    assert y_cal[s_cal >= t].mean() >= 0.8  # by construction on the fit data


def test_recall_threshold_holds_on_held_out_split() -> None:
    s_cal, y_cal = _synthetic(5000, 8)
    s_test, y_test = _synthetic(5000, 9)
    t = Calibrator.fit(s_cal, y_cal).threshold_for_recall(0.9)
    assert y_cal[s_cal >= t].sum() / y_cal.sum() >= 0.9
    assert abs(y_test[s_test >= t].sum() / y_test.sum() - 0.9) <= 0.05


def test_thresholds_on_a_hand_made_example() -> None:
    # scores descending: 0.9 R, 0.8 R, 0.7 N, 0.6 R, 0.5 N
    cal = Calibrator.fit([0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 0, 1, 0])
    assert cal.threshold_for_precision(1.0) == 0.8
    assert cal.threshold_for_precision(0.75) == 0.6  # 3 of 4 at >= 0.6
    assert cal.threshold_for_recall(2 / 3) == 0.8
    assert cal.threshold_for_recall(1.0) == 0.6
    with pytest.raises(ValueError, match="precision"):
        cal.threshold_for_precision(0.0)
    with pytest.raises(ValueError, match="recall"):
        cal.threshold_for_recall(1.5)


def test_unreachable_precision() -> None:
    cal = Calibrator.fit([0.9, 0.8, 0.7], [0, 1, 1])
    with pytest.raises(ValueError, match="no threshold reaches"):
        cal.threshold_for_precision(0.9)


def test_from_pairs_equals_fit_on_labels() -> None:
    m, u = [0.3, 0.35, 0.28], [0.1, 0.15, 0.3]
    a = Calibrator.from_pairs(m, u, model="m", query_type="text→audio")
    b = Calibrator.fit(m + u, [1, 1, 1, 0, 0, 0], model="m", query_type="text→audio")
    assert a == b and a.query_type == "text→audio" and a.n_fit == 6


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_dict_round_trip(method: str) -> None:
    s, y = _synthetic(2000, 10)
    cal = Calibrator.fit(s, y, method=method, model="lit-emoji", query_type="text→image")  # type: ignore[arg-type]
    assert "threshold" not in cal.to_dict()
    t = cal.threshold_for_precision(0.8)
    chosen = cal.with_threshold(t, target="precision>=0.8")
    d = json.loads(json.dumps(chosen.to_dict(), allow_nan=False))
    assert d["threshold"] == t and d["model"] == "lit-emoji" and d["method"] == method
    back = Calibrator.from_dict(d)
    assert back == chosen and back.threshold_target == "precision>=0.8"
    grid = np.linspace(-1, 1, 333)
    np.testing.assert_array_equal(back(grid), chosen(grid))
    with pytest.raises(ValueError, match="no fit data"):
        back.threshold_for_precision(0.8)


def test_dict_is_read_by_search_thresholds() -> None:
    from xmodal.search.thresholds import threshold_for

    s, y = _synthetic(2000, 11)
    cal = Calibrator.fit(s, y, method="platt")
    # no chosen threshold: the probability-0.5 cosine from logit_scale / logit_bias
    assert threshold_for("lit", cal.to_dict()) == pytest.approx(0.3, abs=0.03)
    assert float(cal(threshold_for("lit", cal.to_dict()))) == pytest.approx(0.5)
    t = cal.threshold_for_precision(0.9)
    assert threshold_for("lit", cal.with_threshold(t).to_dict()) == t


def test_scalar_and_shape() -> None:
    cal = Calibrator.fit([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])
    assert cal(0.35).shape == () and cal(np.zeros((2, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match="NaN"):
        cal(np.array([np.nan]))


def test_separable_platt_stays_finite() -> None:
    coef, intercept = platt_fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1.0]))
    assert np.isfinite(coef) and np.isfinite(intercept) and coef > 100
    cal = Calibrator.fit([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], method="platt")
    assert float(cal(0.1)) < 0.01 and float(cal(0.4)) > 0.99


@pytest.mark.parametrize(
    ("scores", "labels", "kwargs", "match"),
    [
        ([0.1, 0.2], [1, 1], {}, "one class"),
        ([0.1, 0.2], [0, 2], {}, "0/1"),
        ([0.1, 0.2, 0.3], [0, 1], {}, "length"),
        ([0.1, np.nan], [0, 1], {}, "NaN"),
        ([[0.1, 0.2]], [[0, 1]], {}, "1-D"),
        ([0.1, 0.2], [0, 1], {"method": "beta"}, "method"),
    ],
)
def test_fit_validation(scores: list, labels: list, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Calibrator.fit(scores, labels, **kwargs)


def test_from_dict_validation() -> None:
    good = Calibrator.fit([0.1, 0.2, 0.3], [0, 1, 1]).to_dict()
    with pytest.raises(ValueError, match="format"):
        Calibrator.from_dict({**good, "format": "other"})
    with pytest.raises(ValueError, match="method"):
        Calibrator.from_dict({**good, "method": "beta"})
    with pytest.raises(ValueError, match="ascending"):
        Calibrator.from_dict({**good, "knots_x": [0.3, 0.1]})


def test_fit_data_is_a_copy() -> None:
    cal = Calibrator.fit([0.1, 0.2, 0.3], [0, 1, 1])
    assert cal.fit_data is not None
    s, _ = cal.fit_data
    s[:] = 9.0
    assert cal.fit_data[0].tolist() == [0.1, 0.2, 0.3]
    assert Calibrator.from_dict(cal.to_dict()).fit_data is None
