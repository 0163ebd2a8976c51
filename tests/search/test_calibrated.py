"""Calibrated fusion with toy monotone calibrators."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.search import RankedList, calibrated_fuse


def linear(lo: float, hi: float):
    """Raw score lo → 0, hi → 1, clipped: a toy monotone calibrator."""
    return lambda s: np.clip((s - lo) / (hi - lo), 0.0, 1.0)


CLIP = RankedList("clip", ("a", "b", "c"), (0.35, 0.25, 0.15))
BGE = RankedList("bge", ("c", "d"), (0.90, 0.70))
CALS = {"clip": linear(0.1, 0.4), "bge": linear(0.6, 1.0)}
# calibrated: clip a 0.8333, b 0.5, c 0.1667; bge c 0.75, d 0.25


def _s(hits):
    return {h.id: h.score for h in hits}


def test_max():
    hits = calibrated_fuse([CLIP, BGE], CALS)
    assert _s(hits) == pytest.approx({"a": 0.25 / 0.3, "b": 0.5, "c": 0.75, "d": 0.25})
    assert [h.id for h in hits] == ["a", "c", "b", "d"]


def test_mean_over_lists_that_hold_the_document():
    s = _s(calibrated_fuse([CLIP, BGE], CALS, combine="mean"))
    assert s["c"] == pytest.approx((0.05 / 0.3 + 0.75) / 2)
    assert s["a"] == pytest.approx(0.25 / 0.3)  # absent from bge: not counted as 0


def test_sum_rewards_agreement():
    s = _s(calibrated_fuse([CLIP, BGE], CALS, combine="sum"))
    assert s["c"] == pytest.approx(0.05 / 0.3 + 0.75)


def test_weights():
    w = RankedList("bge", BGE.ids, BGE.scores, weight=2.0)
    s = _s(calibrated_fuse([CLIP, w], CALS, combine="mean"))
    assert s["c"] == pytest.approx((0.05 / 0.3 + 2 * 0.75) / 3)
    s = _s(calibrated_fuse([CLIP, w], CALS, combine="sum"))
    assert s["d"] == pytest.approx(0.5)


def test_hits_carry_raw_calibrated_and_fused():
    hits = {h.id: h for h in calibrated_fuse([CLIP, BGE], CALS)}
    c = hits["c"]
    assert c.fused and c.collection is None
    assert dict(c.raw_scores) == {"clip": 0.15, "bge": 0.90}
    assert dict(c.ranks) == {"clip": 3, "bge": 1}
    assert dict(c.calibrated) == pytest.approx({"clip": 0.05 / 0.3, "bge": 0.75})


def test_calibration_changes_the_order_raw_scores_would_give():
    # By raw cosine bge's d (0.70) would beat clip's a (0.35); calibrated, a wins.
    hits = calibrated_fuse([CLIP, BGE], CALS)
    assert hits.index(next(h for h in hits if h.id == "a")) < [h.id for h in hits].index("d")


def test_ties_broken_by_rank_then_id():
    flat = {"x": lambda s: np.full_like(s, 0.5), "y": lambda s: np.full_like(s, 0.5)}
    hits = calibrated_fuse([RankedList("x", ("q", "p"), (0.9, 0.8)),
                            RankedList("y", ("r",), (0.1,))], flat, limit=2)
    assert [h.id for h in hits] == ["q", "r"]


def test_errors():
    with pytest.raises(ValueError, match="no calibrator"):
        calibrated_fuse([CLIP, BGE], {"clip": CALS["clip"]})
    with pytest.raises(ValueError, match="outside"):
        calibrated_fuse([CLIP], {"clip": lambda s: s * 10})
    with pytest.raises(ValueError, match="shape"):
        calibrated_fuse([CLIP], {"clip": lambda s: s[:1]})
    with pytest.raises(ValueError, match="combine"):
        calibrated_fuse([CLIP], CALS, combine="median")  # type: ignore[arg-type]
