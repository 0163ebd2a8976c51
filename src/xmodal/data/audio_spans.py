"""Where the sounds are in a long recording: time spans of sound, cut at silences and changes.

A long recording (or a video's soundtrack) is indexed as segments, one vector per span. Fixed
windows (0–10 s, 10–20 s, …) straddle the change from one sound to the next and embed long
silences, so a query by a sound finds a window that is half another sound, or a window whose
mean is mostly silence. :func:`sound_spans` cuts where the content changes instead, in one
numpy pass over the wave (a 30-minute recording at 44.1 kHz: a few seconds on one core):

1. **Frames**: every ``hop_s`` (25 ms), the level (dB of the frame's mean power) and the power
   in ``bands`` log-spaced bands (60 Hz to 16 kHz) of a Hann-windowed frame of two hops.
2. **Sound**: a frame sounds when its level is above ``floor_db`` (absolute, dBFS) and within
   ``range_db`` of the loud frames (the 99.5th percentile), so a quiet recording keeps its
   quiet sounds and a loud one drops its hiss. Pauses shorter than ``bridge_s`` (0.5 s) are
   bridged (words of a sentence, a sound's repeats); a silence of ``silence_cut_s`` (2 s) or
   more always ends a span.
3. **Changes**: within a stretch of sound (silences between ``bridge_s`` and
   ``silence_cut_s`` left out of the timeline), the novelty at a frame is the cosine distance
   between the mean level-normalised log band powers of the ``context_s`` (2 s) of sound before
   and after it; a change is a novelty peak (the largest within ± ``context_s``) above
   ``novelty_min`` and ``novelty_ratio`` times the stretch's median novelty (a steady sound,
   a loop, speech averaged over 2 s: low; one sound giving way to another: high). A change
   less than ``min_s`` from a span's edge is ignored.
4. **Spans**: the sound between changes, from its first sounding frame to its last (the
   silence around it left out); one longer than ``max_s`` (the model's window) is split
   evenly; one shorter than ``min_s`` (1 s: a click) is widened to ``min_s`` into the silence
   after it (before it, at the end), never over a neighbour.

A wave with no sound gives no span. The spans are deterministic (a function of the samples
and the settings), in order and disjoint, each within ``[0, duration]`` and at most ``max_s``
long. Measured on the video benchmark's composed soundtrack (53 shots, a system sound at the
start of each) and recording (35 looped sounds, 30 minutes): the span each query sound finds
first lies inside its shot or part ± 0.5 s for 26 of 27 distinct sounds in each, where fixed
10 s windows gave 2 and 21 (``benchmarks/video.py``).

Example:
    >>> rate = 8000
    >>> t = np.arange(3 * rate) / rate
    >>> wave = np.concatenate([np.sin(2 * np.pi * 440 * t), np.zeros(3 * rate),
    ...                        np.sin(2 * np.pi * 1500 * t)]).astype(np.float32)
    >>> [(round(a, 1), round(b, 1)) for a, b in sound_spans(wave, sample_rate=rate, max_s=10)]
    [(0.0, 3.0), (6.0, 9.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SpanConfig", "sound_spans"]

_CHUNK = 2048  # frames analysed at a time (bounded memory: ~2048 × 2205 float32 at 44.1 kHz)


@dataclass(frozen=True)
class SpanConfig:
    """How :func:`sound_spans` finds sound and changes (see the module docstring)."""

    hop_s: float = 0.025  # analysis frame step
    bands: int = 32  # log-spaced power bands, 60 Hz to 16 kHz
    floor_db: float = -60.0  # a quieter frame is silence (dBFS)
    range_db: float = 40.0  # ... and one this far under the loud frames (99.5th percentile)
    bridge_s: float = 0.5  # shorter pauses are bridged
    silence_cut_s: float = 2.0  # longer silences always end a span
    context_s: float = 2.0  # sound compared before and after a frame
    novelty_min: float = 0.1  # a change's novelty (cosine distance) is at least this ...
    novelty_ratio: float = 3.0  # ... and this times its stretch's median novelty
    min_s: float = 1.0  # no change this close to a span's edge; shorter spans are widened

    def __post_init__(self) -> None:
        if not (0 < self.hop_s <= 0.1 and self.bands >= 4 and self.range_db > 0):
            raise ValueError(f"need 0 < hop_s <= 0.1, bands >= 4, range_db > 0, got "
                             f"{self.hop_s}, {self.bands}, {self.range_db}")
        if not (0 <= self.bridge_s <= self.silence_cut_s and self.context_s > 0
                and self.min_s > 0 and self.novelty_ratio >= 0 and self.novelty_min >= 0):
            raise ValueError("need 0 <= bridge_s <= silence_cut_s, context_s > 0, min_s > 0, "
                             f"novelty_min and novelty_ratio >= 0, got {self}")


def sound_spans(wave: np.ndarray, *, sample_rate: int, max_s: float,
                config: SpanConfig = SpanConfig()) -> tuple[tuple[float, float], ...]:
    """The time spans (seconds) of the sounds in ``wave``, each at most ``max_s`` long.

    Args:
        wave: Mono samples, ``(n,)`` float, in [-1, 1].
        sample_rate: Samples per second.
        max_s: The longest span (the audio model's window); longer sounds are split evenly.
        config: Thresholds (the defaults are the measured ones).

    Returns:
        Disjoint ``(t_start, t_end)`` in time order; empty when nothing sounds.

    Raises:
        ValueError: ``wave`` is not 1-D, holds a non-finite value, or ``max_s`` is under twice
            ``config.min_s``.

    Example:
        >>> sound_spans(np.zeros(16000, np.float32), sample_rate=16000, max_s=10.0)
        ()
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or not np.isfinite(wave).all():
        raise ValueError(f"need a finite mono wave (n,), got shape {wave.shape}")
    if not max_s >= 2 * config.min_s:
        raise ValueError(f"max_s must be at least 2 * min_s = {2 * config.min_s}, got {max_s}")
    hop = max(1, round(sample_rate * config.hop_s))
    level, power = _frames(wave, sample_rate, hop, config.bands)  # (f,), (f, bands)
    if level.size == 0:
        return ()
    sounding = level > max(config.floor_db, float(np.percentile(level, 99.5)) - config.range_db)
    fps = sample_rate / hop
    spans: list[tuple[float, float]] = []
    for stretch in _stretches(sounding, fps, config):
        frames = np.concatenate([np.arange(a, b) for a, b in stretch])  # (m,) sounding frames
        for s, e in _changes(power[frames], fps, config):
            a, b = frames[s] * hop / sample_rate, (frames[e - 1] + 1) * hop / sample_rate
            parts = max(1, int(np.ceil((b - a) / max_s - 1e-9)))
            spans.extend((a + (b - a) * i / parts, a + (b - a) * (i + 1) / parts)
                         for i in range(parts))
    return _widened(spans, wave.size / sample_rate, config.min_s)


def _frames(wave: np.ndarray, rate: int, hop: int, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Per hop: the level in dB and the power in ``bands`` log-spaced bands."""
    n = wave.size // hop
    size = 2 * hop
    nfft = 1 << (size - 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1 / rate)  # (bins,)
    edges = np.geomspace(60.0, max(120.0, min(rate / 2, 16000.0)), bands + 1)
    which = np.searchsorted(edges, freqs) - 1  # band of each bin, -1 / bands: outside
    inside = np.flatnonzero((which >= 0) & (which < bands))
    to_bands = np.zeros((freqs.size, bands), np.float32)  # (bins, bands)
    to_bands[inside, which[inside]] = 1.0
    hann = np.hanning(size).astype(np.float32)
    padded = np.concatenate([wave, np.zeros(2 * hop, np.float32)])
    level = np.empty(n, np.float32)
    power = np.empty((n, bands), np.float32)
    for s in range(0, n, _CHUNK):
        e = min(n, s + _CHUNK)
        frames = np.lib.stride_tricks.sliding_window_view(
            padded[s * hop : (e + 1) * hop], size)[::hop][: e - s]  # (m, 2 hop), a view
        mid = frames[:, hop // 2 : hop // 2 + hop]  # (m, hop): the hop each frame stands for
        level[s:e] = 10 * np.log10(np.mean(mid.astype(np.float64) ** 2, axis=1) + 1e-12)
        spectrum = np.abs(np.fft.rfft(frames * hann, nfft)) ** 2  # (m, bins)
        power[s:e] = spectrum.astype(np.float32) @ to_bands  # (m, bands)
    return level, power


def _stretches(sounding: np.ndarray, fps: float,
               config: SpanConfig) -> list[list[tuple[int, int]]]:
    """Runs of sounding frames (pauses under ``bridge_s`` bridged), grouped into stretches
    that no silence of ``silence_cut_s`` interrupts."""
    step = np.diff(np.concatenate([[0], sounding.astype(np.int8), [0]]))
    runs: list[tuple[int, int]] = []
    for a, b in zip(np.flatnonzero(step == 1), np.flatnonzero(step == -1), strict=True):
        if runs and a - runs[-1][1] < config.bridge_s * fps:
            runs[-1] = (runs[-1][0], int(b))
        else:
            runs.append((int(a), int(b)))
    stretches: list[list[tuple[int, int]]] = []
    for a, b in runs:
        if stretches and a - stretches[-1][-1][1] < config.silence_cut_s * fps:
            stretches[-1].append((a, b))
        else:
            stretches.append([(a, b)])
    return stretches


def _changes(power: np.ndarray, fps: float, config: SpanConfig) -> list[tuple[int, int]]:
    """``(start, end)`` frame ranges of one stretch's ``(m, bands)`` powers, cut at changes."""
    m = len(power)
    c = max(1, round(config.context_s * fps))
    edge = config.min_s * fps
    cuts = [0]
    if m > 2 * c:
        logs = np.log(power.astype(np.float64) + 1e-10)  # (m, bands)
        logs -= logs.mean(axis=1, keepdims=True)  # level-normalised: loudness is no change
        total = np.concatenate([np.zeros((1, logs.shape[1])), np.cumsum(logs, axis=0)])
        t = np.arange(c, m - c + 1)  # (k,) frames with a full context each side
        before, after = total[t] - total[t - c], total[t + c] - total[t]  # (k, bands) sums
        cosine = (before * after).sum(axis=1) / (
            np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1) + 1e-12)
        novelty = 1.0 - cosine  # (k,)
        padded = np.pad(novelty, c, constant_values=-np.inf)
        local = np.lib.stride_tricks.sliding_window_view(padded, 2 * c + 1).max(axis=1)  # (k,)
        floor = max(config.novelty_min, config.novelty_ratio * float(np.median(novelty)))
        for at in t[(novelty >= local) & (novelty > floor)]:
            if at - cuts[-1] >= edge and m - at >= edge:
                cuts.append(int(at))
    return list(zip(cuts, [*cuts[1:], m], strict=True))


def _widened(spans: list[tuple[float, float]], duration: float,
             min_s: float) -> tuple[tuple[float, float], ...]:
    """Spans shorter than ``min_s`` widened into the silence after them (then before them),
    never over a neighbour nor past ``[0, duration]``."""
    out: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(spans):
        if b - a < min_s:
            after = spans[i + 1][0] if i + 1 < len(spans) else duration
            b = max(b, min(a + min_s, after))
            before = out[-1][1] if out else 0.0
            a = min(a, max(b - min_s, before))
        out.append((float(a), float(min(b, duration))))
    return tuple(out)
