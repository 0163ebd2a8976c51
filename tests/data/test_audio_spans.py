"""Spans of sound (``data/audio_spans.py``): waves built from tones and silences whose times are
known (the oracle), checked to a frame or two (25 ms hops)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xmodal.data.audio_spans import SpanConfig, sound_spans

RATE = 16000
HOP = 0.025


def tone(hz: float, seconds: float, amp: float = 0.5, seed: int = 0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    noise = np.random.default_rng(seed).normal(0, 0.002, t.size)
    return (amp * np.sin(2 * np.pi * hz * t) + noise).astype(np.float32)


def hush(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def spans(wave: np.ndarray, max_s: float = 10.0, **kw) -> list[tuple[float, float]]:
    return list(sound_spans(wave, sample_rate=RATE, max_s=max_s, config=SpanConfig(**kw)))


def close(got: list[tuple[float, float]], want: list[tuple[float, float]],
          tol: float = 2 * HOP) -> bool:
    return len(got) == len(want) and np.allclose(got, want, atol=tol)


def test_tones_between_silences_are_found_where_they_sound():
    wave = np.concatenate([hush(3), tone(440, 2), hush(4), tone(2000, 3), hush(2.5)])
    assert close(spans(wave), [(3, 5), (9, 12)])


def test_a_change_of_sound_without_silence_is_a_cut():
    wave = np.concatenate([tone(300, 6), tone(3000, 7, seed=1)])
    assert close(spans(wave), [(0, 6), (6, 13)])


def test_loudness_alone_is_no_change():
    wave = np.concatenate([tone(700, 5, amp=0.1), tone(700, 4, amp=0.8)])
    assert close(spans(wave), [(0, 9)])


def test_short_pauses_are_bridged_and_a_repeating_sound_stays_one_span():
    beep = np.concatenate([tone(900, 0.6), hush(0.3)])  # a beep every 0.9 s
    chirp = np.concatenate([tone(500, 0.4), tone(1500, 0.4)])  # two alternating tones
    wave = np.concatenate([np.tile(beep, 8), hush(3), np.tile(chirp, 10)])  # 7.2 s, 3 s, 8 s
    got = spans(wave)
    assert close(got, [(0, 7.2 - 0.3), (10.2, 18.2)])


def test_a_silence_of_two_seconds_always_ends_a_span():
    wave = np.concatenate([tone(900, 3), hush(2.2), tone(900, 3)])
    assert close(spans(wave), [(0, 3), (5.2, 8.2)])
    near = np.concatenate([tone(900, 3), hush(1.5), tone(900, 3)])  # same sound, short gap
    assert close(spans(near), [(0, 7.5)])


def test_long_sounds_are_split_evenly_at_most_max_s():
    got = spans(np.concatenate([tone(600, 25), hush(1)]))
    assert close(got, [(0, 25 / 3), (25 / 3, 50 / 3), (50 / 3, 25)])
    assert all(b - a <= 10.0 + 1e-9 for a, b in got)


def test_a_click_is_widened_into_the_silence_after_it_or_before_it_at_the_end():
    click = tone(3000, 0.1)
    assert close(spans(np.concatenate([hush(2), click, hush(5)])), [(2, 3)])
    assert close(spans(np.concatenate([hush(5), click])), [(4.1, 5.1)], tol=HOP)
    # a click 0.6 s before another sound: no change within min_s of a span's edge, one span
    wave = np.concatenate([hush(2), click, hush(0.6), tone(400, 3), hush(3)])
    assert close(spans(wave), [(2, 5.7)])


def test_silence_and_sound_under_the_floor_give_no_span():
    assert spans(hush(30)) == [] and spans(np.zeros(0, np.float32)) == []
    faint = 0.0005 * np.sin(2 * np.pi * 440 * np.arange(5 * RATE) / RATE)  # -69 dBFS
    assert spans(faint.astype(np.float32)) == []


def test_a_quiet_recording_keeps_its_sounds():
    wave = np.concatenate([hush(1), tone(440, 2, amp=0.02), hush(3), tone(880, 2, amp=0.02)])
    assert close(spans(wave), [(1, 3), (6, 8)])


def test_spans_are_ordered_disjoint_bounded_and_deterministic():
    rng = np.random.default_rng(7)
    parts = [tone(float(rng.uniform(100, 6000)), float(rng.uniform(0.05, 14)),
                  amp=float(rng.uniform(0.01, 0.9)), seed=k) if k % 3 else
             hush(float(rng.uniform(0.1, 4))) for k in range(40)]
    wave = np.concatenate(parts)
    got = spans(wave, max_s=7.5)
    assert got == spans(wave, max_s=7.5)  # the same call repeated
    duration = wave.size / RATE
    assert got and all(0 <= a < b <= duration and b - a <= 7.5 + 1e-9 for a, b in got)
    assert all(x[1] <= y[0] + 1e-9 for x, y in itertools.pairwise(got))


def test_bad_input_is_refused_with_the_problem():
    with pytest.raises(ValueError, match="mono"):
        spans(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="finite"):
        spans(np.array([0.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="max_s"):
        spans(tone(440, 3), max_s=1.5)
    with pytest.raises(ValueError, match="bridge_s"):
        SpanConfig(bridge_s=3.0, silence_cut_s=2.0)
