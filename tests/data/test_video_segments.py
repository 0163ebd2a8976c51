"""xmodal.data.video_segments on synthetic inputs: the segment rules, the cut detector, the pool."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xmodal.data.video_segments import (
    CutDetector,
    KeyframePool,
    SegmentConfig,
    grid_change,
    plan_segments,
)

RATE = 10.0  # analysed frames per second in the detector tests


def check_cover(segments, duration, cfg):
    assert segments[0][0] == 0.0 and segments[-1][1] == pytest.approx(duration)
    for (_, b), (c, _) in itertools.pairwise(segments):
        assert b == c  # contiguous, in order
    if duration >= cfg.min_segment_s:
        for a, b in segments:
            assert cfg.min_segment_s - 1e-9 <= b - a <= cfg.max_segment_s + 1e-9, (a, b)


@pytest.mark.parametrize("seed", range(30))
def test_segments_cover_the_video_within_min_and_max(seed):
    rng = np.random.default_rng(seed)
    cfg = SegmentConfig(min_segment_s=float(rng.uniform(0.5, 2)),
                        max_segment_s=float(rng.uniform(4, 12)))
    duration = float(rng.uniform(0.1, 120))
    cuts = np.sort(rng.uniform(0, duration, int(rng.integers(0, 40))))
    segments = plan_segments(cuts.tolist(), duration, cfg)
    check_cover(segments, duration, cfg)
    # every cut at least min_segment_s after the boundary before it is a boundary (unless it
    # leaves a tail shorter than that, which joins the segment before)
    starts = [a for a, _ in segments]
    last = 0.0
    for c in cuts:
        if c - last >= cfg.min_segment_s and duration - c >= cfg.min_segment_s:
            assert c in starts
            last = c
        else:
            assert c not in starts or c == last


def test_long_shots_are_split_and_short_ones_merged():
    cfg = SegmentConfig(min_segment_s=1.0, max_segment_s=10.0)
    assert plan_segments([], 18.0, cfg) == [(0.0, 9.0), (9.0, 18.0)]  # split evenly
    # more than twice the maximum: pieces of the maximum first, the rest evenly
    assert plan_segments([], 25.0, cfg) == [(0.0, 10.0), (10.0, 17.5), (17.5, 25.0)]
    assert plan_segments([], 0.4, cfg) == [(0.0, 0.4)]  # shorter than min: one segment
    assert plan_segments([3.0, 3.5], 6.0, cfg) == [(0.0, 3.0), (3.0, 6.0)]
    assert plan_segments([3.0], 3.5, cfg) == [(0.0, 3.5)]  # a short tail joins the segment before
    assert plan_segments([9.5], 10.2, cfg) == [(0.0, 5.1), (5.1, 10.2)]  # ... split if too long


def frames(shots, rng, noise=2.0, seconds=2.0):
    """(t, grid) at RATE for solid-colour shots of ``seconds`` each, with grain."""
    t, out = 0.0, []
    for colour in shots:
        for _ in range(int(seconds * RATE)):
            grid = np.broadcast_to(np.asarray(colour, np.float32)[:, None, None], (3, 9, 16))
            out.append((round(t, 6), grid + rng.normal(0, noise, (3, 9, 16)).astype(np.float32)))
            t += 1 / RATE
    return out


def detect(samples, cfg=None):
    detector = CutDetector(cfg or SegmentConfig(), RATE)
    cuts = [c for t, g in samples for c in detector.feed(t, g)]
    return cuts + detector.finish()


def test_hard_cuts_are_found_at_the_first_frame_after_them():
    samples = frames([(40, 128, 128), (200, 90, 160), (120, 200, 60)], np.random.default_rng(0))
    assert detect(samples) == pytest.approx([2.0, 4.0])


def test_a_small_sharp_change_is_a_cut_but_the_onset_of_motion_is_not():
    rng = np.random.default_rng(4)
    base = rng.uniform(60, 200, (3, 9, 16)).astype(np.float32)
    similar = base.copy()
    similar[0, 3:6, 4:12] += 60  # a small part of the picture changes: ~0.02 of the grid
    samples = [(i / RATE, (base if i < 30 else similar) + rng.normal(0, 0.5, base.shape))
               for i in range(60)]
    assert 0.015 < grid_change(base, similar) < SegmentConfig().threshold
    assert detect(samples) == pytest.approx([3.0])
    stripes = np.full((3, 9, 16), 128, np.float32)
    stripes[0] += 60 * np.sin(2 * np.pi * np.arange(16) / 16)  # smooth bands of light
    moving = [(i / RATE, np.roll(stripes, max(0, i - 30), axis=2)  # still for 3 s, then a pan
               + rng.normal(0, 0.5, base.shape)) for i in range(60)]
    assert 0.015 < grid_change(moving[31][1], moving[30][1]) < SegmentConfig().threshold
    assert detect(moving) == []


def test_grain_motion_and_a_flash_are_not_cuts():
    rng = np.random.default_rng(1)
    samples = frames([(100, 128, 128)], rng, noise=6.0, seconds=6.0)  # strong grain only
    flash = samples[30][1] + 120  # one bright frame, then the same shot again
    samples[30] = (samples[30][0], flash)
    assert detect(samples) == []


def test_a_cross_fade_gives_one_boundary():
    rng = np.random.default_rng(2)
    a, b = np.array([30, 128, 128], np.float32), np.array([220, 100, 150], np.float32)
    samples = []
    for i in range(60):  # 2 s of a, a 1 s fade, 3 s of b
        w = min(1.0, max(0.0, (i - 20) / 10))
        grid = ((1 - w) * a + w * b)[:, None, None] + rng.normal(0, 1, (3, 9, 16))
        samples.append((i / RATE, grid.astype(np.float32)))
    cfg = SegmentConfig(threshold=0.03)
    cuts = detect(samples, cfg)
    assert 1 <= len(cuts) <= 2 and all(2.0 <= c <= 3.0 for c in cuts)
    assert [b for b, _ in plan_segments(cuts, 6.0, cfg)][1:] == cuts[:1]


def test_the_adaptive_threshold_ignores_steady_large_change():
    rng = np.random.default_rng(3)
    samples = [(i / RATE, rng.uniform(0, 255, (3, 9, 16)).astype(np.float32)) for i in range(50)]
    assert grid_change(samples[1][1], samples[0][1]) > 0.2  # every frame changes a lot...
    assert detect(samples) == []  # ... so no one change stands out as a cut


def test_pool_stays_small_and_picks_a_still_bright_middle_frame():
    cfg = SegmentConfig(min_segment_s=1.0, max_segment_s=30.0)
    pool = KeyframePool(cfg)
    for i in range(600):  # 60 s at 10 frames/s, one open segment
        t = i / 10
        pool.offer(t, frame=f"f{i}", change=0.5 if 29.0 <= t <= 31.0 else 0.0,
                   luma=0.0 if t < 5 else 0.5)
        assert len(pool) <= 2 * pool.cap
    (middle,) = pool.take(0.0, 60.0)
    assert middle.change == 0.0 and middle.luma > 0 and 20 <= middle.t <= 40
    pool.cut(60.0)
    pool.offer(60.0, "at the cut", 0.9, 0.5)
    pool.offer(60.5, "inside", 0.0, 0.5)
    pool.offer(61.2, "last", 0.0, 0.5)
    assert [c.frame for c in pool.take(60.0, 61.5)] == ["inside"]  # never the cut's frame


def test_several_keyframes_are_spread_in_order():
    pool = KeyframePool(SegmentConfig(keyframes_per_segment=3))
    for i in range(100):
        pool.offer(i / 10, i, 0.0, 0.5)
    times = [c.t for c in pool.take(0.0, 9.0)]
    assert len(times) == 3 and times == sorted(times)
    assert times[0] < 3 <= times[1] < 6 <= times[2]


def test_config_is_validated():
    with pytest.raises(ValueError, match="min_segment_s"):
        SegmentConfig(min_segment_s=2.0, max_segment_s=3.0)
    with pytest.raises(ValueError, match="threshold"):
        SegmentConfig(threshold=0.0)
    with pytest.raises(ValueError, match="min_change"):
        SegmentConfig(min_change=0.1, threshold=0.05)
    with pytest.raises(ValueError, match="analysis_fps"):
        SegmentConfig(analysis_fps=0)
    with pytest.raises(ValueError, match="decode"):
        SegmentConfig(decode="fastest")  # type: ignore[arg-type]
