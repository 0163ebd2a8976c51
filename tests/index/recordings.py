"""Long recordings with known times, built at test time, and a tiny encoder that hears them.

A recording is a WAV made of *parts*: pure tones of distinct frequencies, each lasting a known
span (:func:`write_recording` returns the spans). :class:`ToneEncoder` decodes through xmodal's
real audio path (``EncoderBase``: ``data/audio.py``) and embeds a wave as its spectrum in
:data:`DIM` bands of :data:`BAND_HZ` Hz, window by window (``audio_window_s`` = 10 s, the
``windows`` / ``window_weights`` layout), mean-pooled like CLAP: a tone lands in one band, so
parts of different tones are near orthogonal, and a window straddling two parts mixes them.
No model is loaded; a 5-minute recording embeds in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xmodal.data.audio import window_weights, windows
from xmodal.encoders.base import EncoderBase
from xmodal.encoders.card import ModelCard

RATE = 8000
DIM = 32
BAND_HZ = RATE / 2 / DIM  # 125 Hz per band
WINDOW_S = 10.0


def band_hz(band: int) -> float:
    """A tone at the centre of band ``band`` (0..DIM-1)."""
    return (band + 0.5) * BAND_HZ


def spectrum(wave: np.ndarray) -> np.ndarray:
    """Energy per band of one window, unit norm, shape (DIM,) float32."""
    power = np.abs(np.fft.rfft(wave)) ** 2  # (n // 2 + 1,)
    freqs = np.fft.rfftfreq(wave.size, 1 / RATE)  # (n // 2 + 1,)
    bands = np.minimum((freqs / BAND_HZ).astype(int), DIM - 1)
    v = np.bincount(bands, weights=power, minlength=DIM).astype(np.float64)  # (DIM,)
    v = np.sqrt(v) + 1e-6  # amplitude: a mixture's halves weigh by duration
    return (v / np.linalg.norm(v)).astype(np.float32)


class ToneEncoder(EncoderBase):
    """Audio only (no captions), 10 s windows at 8 kHz; counts the items it embeds."""

    decode_overlap = "never"  # the pipeline's measuring runs a first batch again: not counted

    def __init__(self, name: str = "tone", window_s: float = WINDOW_S) -> None:
        self.card = ModelCard(name=name, family="lit", dim=DIM, modalities=("audio",),
                              sample_rate=RATE, audio_window_s=window_s)
        self.items = 0

    def _embed_audio(self, waves: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        out = []
        window_s = float(self.card.audio_window_s or WINDOW_S)
        for wave in waves:
            self.items += 1
            cut = windows(wave, sample_rate=RATE, window_s=window_s)  # (n_windows, len)
            w = window_weights(wave, sample_rate=RATE, window_s=window_s)  # (n_windows,)
            real = np.rint(w * cut.shape[1]).astype(int)
            rows = np.stack([spectrum(row[:n]) for row, n in zip(cut, real, strict=True)])
            pooled = w @ rows / w.sum()  # (DIM,)
            out.append(pooled / np.linalg.norm(pooled))
        return np.stack(out).astype(np.float32)  # (n, DIM)


def tone(hz: float, seconds: float, *, seed: int = 0) -> np.ndarray:
    """A tone with a little noise, shape (seconds * RATE,) float32."""
    t = np.arange(round(seconds * RATE)) / RATE
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.5 * np.sin(2 * np.pi * hz * t) + noise).astype(np.float32)


def write_wave(path: Path, wave: np.ndarray) -> Path:
    """Write a mono WAV at :data:`RATE`."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, RATE, subtype="FLOAT")
    return path


def write_recording(path: Path, parts: Sequence[tuple[int, float]],
                    seed: int = 0) -> list[tuple[float, float]]:
    """Write a recording of ``parts`` (band, seconds) in order; returns each part's span."""
    waves, spans, at = [], [], 0.0
    for n, (band, seconds) in enumerate(parts):
        waves.append(tone(band_hz(band), seconds, seed=seed + n))
        spans.append((at, at + seconds))
        at += seconds
    write_wave(path, np.concatenate(waves))
    return spans


def part_spans(spans: Sequence[tuple[float, float]],
               window_s: float = WINDOW_S) -> list[tuple[float, float]]:
    """The segment spans ingest should find in a recording of ``spans`` (parts of distinct
    tones, no silence): each part cut evenly in ``ceil(length / window_s)`` pieces."""
    out = []
    for a, b in spans:
        n = int(np.ceil((b - a) / window_s - 1e-9))
        out += [(a + (b - a) * i / n, a + (b - a) * (i + 1) / n) for i in range(n)]
    return out


def write_excerpt(path: Path, source: Path, t_start: float, seconds: float = 10.0) -> Path:
    """Write ``seconds`` of ``source`` from ``t_start`` (a query by example)."""
    import soundfile as sf

    wave, rate = sf.read(str(source), dtype="float32")
    a = round(t_start * rate)
    return write_wave(path, wave[a : a + round(seconds * rate)])
