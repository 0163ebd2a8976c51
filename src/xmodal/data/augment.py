"""Audio augmentation for contrastive training (training only: inference never augments).

Audio-text contrastive models (CLAP and its kin) see few distinct clips per caption, so each
epoch shows a clip slightly changed in ways its caption does not describe. Each change keeps
what a caption names ("a dog barks", "piano melody") and alters what it does not:

- :func:`time_stretch` plays the clip faster or slower (duration x 1/rate) at the same pitch,
  with a phase vocoder: tempo varies between recordings, the sound's identity does not.
- :func:`pitch_shift` moves the pitch by some semitones at the same duration (stretch, then
  resample back to the original length): voices, engines and instruments vary in pitch.
- :func:`gain` scales the level: recording levels are arbitrary, loudness is not content.
- :func:`add_noise` adds white noise at a chosen signal-to-noise ratio, for the microphones,
  rooms and hiss of real recordings; the SNR is exact, so a range in dB means what it says.

:class:`AudioAugment` holds the ranges, draws the values with a given ``numpy`` generator
(:meth:`AudioAugment.sample` returns them as an :class:`AugmentDraw`, for logging) and applies
them in a fixed order (stretch, pitch, gain, noise), then limits the peak by scaling.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from xmodal._optional import require

__all__ = ["AudioAugment", "AugmentDraw", "add_noise", "gain", "pitch_shift", "time_stretch"]

Range = tuple[float, float]


def _check_wave(wave: np.ndarray) -> np.ndarray:
    """Return ``wave`` as float64 after checking it is a finite, non-empty, 1-D float array."""
    arr = np.asarray(wave)
    if arr.ndim != 1:
        raise ValueError(f"wave must be mono, shape (n,); got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"wave must be a float array (scale PCM first); got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError("wave is empty")
    if np.isnan(arr).any():
        raise ValueError("wave contains NaN")
    if np.isinf(arr).any():
        raise ValueError("wave contains Inf")
    return arr.astype(np.float64)  # (n,)


def _check_rate(sample_rate: int) -> int:
    bad = isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral)
    if bad or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int; got {sample_rate!r}")
    return int(sample_rate)


def _n_fft(sample_rate: int) -> int:
    """2048 points at 22.05 kHz (about 93 ms, librosa's default), as a power of two at any rate."""
    return max(256, 2 ** round(math.log2(2048 * sample_rate / 22050)))


def time_stretch(wave: np.ndarray, rate: float, *, sample_rate: int) -> np.ndarray:
    """Play ``wave`` ``rate`` times faster at the same pitch (phase vocoder).

    STFT with a periodic Hann window (``n_fft`` 2048 at 22.05 kHz, scaled to the rate; hop
    ``n_fft // 4``; frames centred with zero padding); frames are read at steps of ``rate``,
    magnitudes interpolated, phases advanced by each bin's measured frequency; overlap-add with
    division by the summed squared window.

    Args:
        wave: Mono float wave, shape ``(n,)``.
        rate: Speed factor, > 0; the output has ``round(n / rate)`` samples.
        sample_rate: Sample rate in Hz (sets the FFT size).

    Returns:
        The stretched wave, float32, shape ``(round(n / rate),)``.

    Example:
        >>> import numpy as np
        >>> wave = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
        >>> time_stretch(wave, 2.0, sample_rate=16000).shape
        (8000,)
    """
    x = _check_wave(wave)  # (n,)
    sr = _check_rate(sample_rate)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a finite number > 0; got {rate}")
    n_fft = _n_fft(sr)
    hop = n_fft // 4
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # (n_fft,) periodic Hann
    padded = np.pad(x, n_fft // 2)  # (n + n_fft,)
    n_frames = 1 + (padded.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]  # (frames, n_fft)
    spec = np.fft.rfft(padded[idx] * window, axis=1).T  # (bins, frames)

    steps = np.arange(0, n_frames, rate)  # (m,) fractional input frame of each output frame
    spec = np.pad(spec, ((0, 0), (0, 2)))  # (bins, frames + 2): room for the last step + 1
    lo = np.floor(steps).astype(np.int64)  # (m,)
    alpha = steps - lo  # (m,)
    c0, c1 = spec[:, lo], spec[:, lo + 1]  # (bins, m) each
    mag = (1 - alpha) * np.abs(c0) + alpha * np.abs(c1)  # (bins, m)
    expected = 2 * np.pi * hop * np.arange(spec.shape[0]) / n_fft  # (bins,) phase per hop
    dphase = np.angle(c1) - np.angle(c0) - expected[:, None]  # (bins, m)
    dphase -= 2 * np.pi * np.round(dphase / (2 * np.pi))  # to [-pi, pi]: keeps the sum small
    advance = np.cumsum(expected[:, None] + dphase, axis=1)  # (bins, m)
    phase = np.angle(spec[:, :1]) + np.pad(advance[:, :-1], ((0, 0), (1, 0)))  # (bins, m)
    frames = np.fft.irfft((mag * np.exp(1j * phase)).T, n=n_fft, axis=1) * window  # (m, n_fft)

    m = frames.shape[0]
    total = n_fft + hop * (m - 1)
    out_idx = (np.arange(n_fft)[None, :] + hop * np.arange(m)[:, None]).ravel()  # (m * n_fft,)
    out = np.bincount(out_idx, weights=frames.ravel(), minlength=total)  # (total,)
    wsum = np.bincount(out_idx, weights=np.tile(window**2, m), minlength=total)  # (total,)
    nonzero = wsum > 1e-10
    out[nonzero] /= wsum[nonzero]
    length = round(x.size / rate)
    out = out[n_fft // 2 : n_fft // 2 + length]  # (<= length,) centre padding removed
    return np.pad(out, (0, length - out.size)).astype(np.float32)  # (length,)


def pitch_shift(wave: np.ndarray, semitones: float, *, sample_rate: int) -> np.ndarray:
    """Shift the pitch by ``semitones`` at the same duration.

    The standard method: :func:`time_stretch` by ``2 ** (-semitones / 12)``, then resample
    (``scipy.signal.resample_poly``, ratio as a fraction with denominator <= 1000, so the pitch
    is exact to a few 1e-6 semitones) back to the input length.

    Args:
        wave: Mono float wave, shape ``(n,)``.
        semitones: Shift, positive up; 12 is an octave.
        sample_rate: Sample rate in Hz.

    Returns:
        The shifted wave, float32, shape ``(n,)``.

    Example:
        >>> import numpy as np
        >>> wave = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
        >>> shifted = pitch_shift(wave, 12.0, sample_rate=16000)
        >>> shifted.shape, int(np.argmax(np.abs(np.fft.rfft(shifted))))  # 1 Hz bins
        ((16000,), 880)
    """
    x = _check_wave(wave)  # (n,)
    if not math.isfinite(semitones):
        raise ValueError(f"semitones must be finite; got {semitones}")
    ratio = Fraction(2.0 ** (-semitones / 12)).limit_denominator(1000)  # stretch rate
    stretched = time_stretch(x, float(ratio), sample_rate=sample_rate)  # (~n / ratio,)
    signal = require("scipy.signal", "audio")
    # ratio new samples per stretched sample: duration back to n samples, frequencies x 1/ratio.
    out = signal.resample_poly(stretched.astype(np.float64), ratio.numerator, ratio.denominator)
    out = out[: x.size]  # (<= n,)
    return np.pad(out, (0, x.size - out.size)).astype(np.float32)  # (n,)


def gain(wave: np.ndarray, db: float) -> np.ndarray:
    """Multiply ``wave`` by ``10 ** (db / 20)``.

    Example:
        >>> import numpy as np
        >>> gain(np.array([0.5, -0.25], dtype=np.float32), 6.020599913279624)
        array([ 1. , -0.5], dtype=float32)
    """
    x = _check_wave(wave)  # (n,)
    if not math.isfinite(db):
        raise ValueError(f"db must be finite; got {db}")
    return (x * 10.0 ** (db / 20)).astype(np.float32)  # (n,)


def add_noise(wave: np.ndarray, snr_db: float, *, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at exactly ``snr_db`` (powers: mean squares over the clip).

    The noise drawn from ``rng`` is scaled to the target power; a correction step then absorbs
    the float32 rounding of the sum, so ``output - wave`` measures ``snr_db`` to ~1e-9 dB.
    A silent wave (power 0) has no SNR and is returned unchanged.

    Example:
        >>> import numpy as np
        >>> wave = np.sin(np.arange(1000) / 5).astype(np.float32)
        >>> noisy = add_noise(wave, 20.0, rng=np.random.default_rng(0))
        >>> noise = noisy.astype(np.float64) - wave
        >>> snr = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise**2))
        >>> round(float(snr), 6)
        20.0
    """
    x = _check_wave(wave)  # (n,)
    if not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite; got {snr_db}")
    power = float(np.mean(x**2))
    if power == 0.0:
        return x.astype(np.float32)  # (n,)
    target = power / 10.0 ** (snr_db / 10)
    noise = rng.standard_normal(x.size)  # (n,)
    noise *= math.sqrt(target / np.mean(noise**2))
    out = (x + noise).astype(np.float32)  # (n,)
    for _ in range(3):  # the float32 sum rounds each sample; rescale until the power is exact
        actual = float(np.mean((out.astype(np.float64) - x) ** 2))
        if actual == 0.0 or abs(actual / target - 1) < 1e-12:
            break
        noise *= math.sqrt(target / actual)
        out = (x + noise).astype(np.float32)  # (n,)
    return out


def _check_range(name: str, value: Range | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if len(value) != 2:
        raise ValueError(f"{name} must be a (low, high) pair or None; got {value!r}")
    low, high = value
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError(f"{name} bounds must be finite; got {value!r}")
    if low > high:
        raise ValueError(f"{name} needs low <= high; got {value!r}")
    if positive and low <= 0:
        raise ValueError(f"{name} rates must be > 0; got {value!r}")


@dataclass(frozen=True)
class AugmentDraw:
    """The values one :meth:`AudioAugment.sample` drew; ``None`` means not applied.

    Example:
        >>> AugmentDraw(gain_db=3.0).gain_db
        3.0
    """

    time_stretch: float | None = None
    pitch_shift_semitones: float | None = None
    gain_db: float | None = None
    noise_snr_db: float | None = None
    noise_seed: int | None = None  # seeds the noise itself, so a draw replays exactly


@dataclass(frozen=True)
class AudioAugment:
    """Random training augmentation: ranges to draw from, ``None`` to disable one transform.

    Each enabled transform is applied with probability ``p``, its value uniform in its range,
    in the order stretch, pitch, gain, noise. Then, when the peak exceeds ``max_abs``, the whole
    wave is scaled down to it. It is never clipped: clipping adds harmonics (a spectral artefact
    that clean inference audio lacks, which the encoder could learn to key on), while scaling
    keeps the waveform's shape and only changes the level, which gain varies anyway.

    Example:
        >>> import numpy as np
        >>> wave = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
        >>> aug = AudioAugment(p=1.0)
        >>> a = aug(wave, sample_rate=16000, rng=np.random.default_rng(7))
        >>> b = aug(wave, sample_rate=16000, rng=np.random.default_rng(7))
        >>> bool(np.array_equal(a, b)), bool(np.abs(a).max() <= 1.0)
        (True, True)
    """

    time_stretch: Range | None = (0.9, 1.1)
    pitch_shift_semitones: Range | None = (-2.0, 2.0)
    noise_snr_db: Range | None = (10.0, 40.0)
    gain_db: Range | None = (-6.0, 6.0)
    p: float = 0.5
    max_abs: float | None = 1.0

    def __post_init__(self) -> None:
        _check_range("time_stretch", self.time_stretch, positive=True)
        _check_range("pitch_shift_semitones", self.pitch_shift_semitones)
        _check_range("noise_snr_db", self.noise_snr_db)
        _check_range("gain_db", self.gain_db)
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1]; got {self.p}")
        if self.max_abs is not None and not (math.isfinite(self.max_abs) and self.max_abs > 0):
            raise ValueError(f"max_abs must be a finite number > 0 or None; got {self.max_abs}")

    def sample(self, rng: np.random.Generator) -> AugmentDraw:
        """Draw which transforms apply and their values (a coin and a value per enabled one).

        Example:
            >>> import numpy as np
            >>> AudioAugment(p=0.0).sample(np.random.default_rng(0)) == AugmentDraw()
            True
            >>> draw = AudioAugment(p=1.0, time_stretch=None).sample(np.random.default_rng(0))
            >>> draw.time_stretch is None, round(draw.gain_db, 3)
            (True, -5.802)
        """
        values: dict[str, float | int | None] = {}
        for name in ("time_stretch", "pitch_shift_semitones", "gain_db", "noise_snr_db"):
            bounds: Range | None = getattr(self, name)
            if bounds is None:
                continue
            coin, value = rng.random(), float(rng.uniform(bounds[0], bounds[1]))
            values[name] = value if coin < self.p else None
        if self.noise_snr_db is not None:
            seed = int(rng.integers(2**63))
            values["noise_seed"] = seed if values["noise_snr_db"] is not None else None
        return AugmentDraw(**values)  # type: ignore[arg-type]

    def apply(self, wave: np.ndarray, draw: AugmentDraw, *, sample_rate: int) -> np.ndarray:
        """Apply ``draw`` to ``wave``, then the peak limit; float32, shape ``(n',)``.

        Example:
            >>> import numpy as np
            >>> AudioAugment().apply(np.full(4, 0.5, np.float32), AugmentDraw(gain_db=12.0),
            ...                      sample_rate=16000)
            array([1., 1., 1., 1.], dtype=float32)
        """
        out = _check_wave(wave).astype(np.float32)  # (n,)
        _check_rate(sample_rate)
        if draw.time_stretch is not None:
            out = time_stretch(out, draw.time_stretch, sample_rate=sample_rate)  # (n / rate,)
        if draw.pitch_shift_semitones is not None:
            out = pitch_shift(out, draw.pitch_shift_semitones, sample_rate=sample_rate)  # (n',)
        if draw.gain_db is not None:
            out = gain(out, draw.gain_db)  # (n',)
        if draw.noise_snr_db is not None:
            noise_rng = np.random.default_rng(draw.noise_seed)
            out = add_noise(out, draw.noise_snr_db, rng=noise_rng)  # (n',)
        peak = float(np.abs(out).max())
        if self.max_abs is not None and peak > self.max_abs:
            out = (out.astype(np.float64) * (self.max_abs / peak)).astype(np.float32)  # (n',)
            out = np.clip(out, -self.max_abs, self.max_abs)  # float32 rounding only, < 1 ulp
        return out

    def __call__(
        self, wave: np.ndarray, *, sample_rate: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw with ``rng`` and apply: ``self.apply(wave, self.sample(rng), ...)``.

        Example:
            >>> import numpy as np
            >>> wave = np.zeros(8, np.float32)
            >>> AudioAugment(p=0.0)(wave, sample_rate=16000, rng=np.random.default_rng(0)).shape
            (8,)
        """
        return self.apply(wave, self.sample(rng), sample_rate=sample_rate)
