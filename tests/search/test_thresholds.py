"""Per-family default thresholds, calibration overrides and the fallback test."""

from __future__ import annotations

import math
from typing import get_args

import pytest

from xmodal.search import DEFAULT_THRESHOLDS, needs_fallback, threshold_for


def test_every_card_family_has_a_default():
    from xmodal.encoders.card import Family

    assert set(get_args(Family)) == set(DEFAULT_THRESHOLDS)
    assert all(-1 <= v <= 1 for v in DEFAULT_THRESHOLDS.values())


def test_documented_defaults():
    assert threshold_for("clip", None) == 0.25
    assert threshold_for("lit", None) == 0.3
    assert threshold_for("siglip", None) < threshold_for("clip", None)


def test_calibration_wins_over_the_default():
    assert threshold_for("clip", {"threshold": 0.28}) == 0.28
    assert threshold_for("siglip", {"logit_scale": 117.3, "logit_bias": -12.9}) == (
        pytest.approx(0.10997, abs=1e-4))
    assert threshold_for("clip", {}) == 0.25  # empty calibration → default


def test_threshold_errors():
    with pytest.raises(ValueError, match="no default threshold"):
        threshold_for("bm25", None)
    with pytest.raises(ValueError, match="neither"):
        threshold_for("clip", {"ece": 0.1})
    with pytest.raises(ValueError, match="logit_scale"):
        threshold_for("siglip", {"logit_scale": 0.0, "logit_bias": -1.0})


@pytest.mark.parametrize(
    ("top", "expected"),
    [(None, True), (math.nan, True), (0.1, True), (0.25, False), (0.4, False)],
)
def test_needs_fallback(top, expected):
    assert needs_fallback(top, threshold_for("clip", None)) is expected


def test_needs_fallback_rejects_infinite_threshold():
    with pytest.raises(ValueError):
        needs_fallback(0.3, math.inf)
