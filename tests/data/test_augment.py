"""xmodal.data.augment against physical oracles: FFT peaks, tone envelopes, exact SNR and gain."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xmodal.data.augment import (
    AudioAugment,
    AugmentDraw,
    add_noise,
    gain,
    pitch_shift,
    time_stretch,
)

pytest.importorskip("scipy.signal")  # pitch_shift resamples with scipy (the audio extra)

FREQ = 440.0


def sine(freq: float = FREQ, seconds: float = 2.0, sr: int = 16000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)  # (n,)


def middle(x: np.ndarray) -> np.ndarray:
    return x[x.size // 4 : 3 * x.size // 4]  # (n // 2,) away from the edges


def dominant_hz(x: np.ndarray, sr: int) -> tuple[float, float]:
    """FFT peak of the middle half (Hann-windowed) and the bin width, in Hz."""
    mid = middle(x).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(mid.size)))  # (bins,)
    return float(np.argmax(spectrum)) * sr / mid.size, sr / mid.size


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    c = clean.astype(np.float64)
    noise = noisy.astype(np.float64) - c
    return float(10 * np.log10(np.mean(c**2) / np.mean(noise**2)))


# --- time_stretch ------------------------------------------------------------------------------


@pytest.mark.parametrize("sr", [16000, 44100])
@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_changes_length_not_pitch(sr: int, rate: float) -> None:
    x = sine(sr=sr)
    y = time_stretch(x, rate, sample_rate=sr)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - x.size / rate) <= 0.035 * sr  # within one hop (n_fft / 4 <= 32 ms)
    hz, bin_hz = dominant_hz(y, sr)
    assert abs(hz - FREQ) <= bin_hz
    # a steady sine keeps roughly its level (RMS of 0.5 * sin is 0.5 / sqrt(2)); a phase vocoder
    # without phase locking loses ~9 % when slowing down by 0.8 (librosa's loses the same)
    rms = np.sqrt(np.mean(middle(y).astype(np.float64) ** 2))
    assert 0.85 * 0.5 / np.sqrt(2) < rms < 1.02 * 0.5 / np.sqrt(2)


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_moves_events_in_time(rate: float) -> None:
    # Duration as heard, not just array length: a tone from 0.5 s to 1.5 s must sound from
    # 0.5 / rate to 1.5 / rate seconds.
    sr = 16000
    x = sine(sr=sr)
    x[: sr // 2] = 0
    x[3 * sr // 2 :] = 0
    y = time_stretch(x, rate, sample_rate=sr).astype(np.float64)
    frame = sr // 100  # 10 ms envelope
    env = np.sqrt(np.mean(y[: y.size // frame * frame].reshape(-1, frame) ** 2, axis=1))
    on = np.flatnonzero(env > env.max() / 2)
    onset, offset = on[0] * frame / sr, (on[-1] + 1) * frame / sr
    assert onset == pytest.approx(0.5 / rate, abs=0.06)  # smeared by ~ the 128 ms window
    assert offset == pytest.approx(1.5 / rate, abs=0.06)


def test_time_stretch_rate_one_is_identity() -> None:
    rng = np.random.default_rng(1)
    for x in (sine(sr=22050), (0.1 * rng.standard_normal(30000)).astype(np.float32)):
        y = time_stretch(x, 1.0, sample_rate=22050)
        assert y.shape == x.shape
        assert np.max(np.abs(middle(y) - middle(x))) < 1e-5


def test_time_stretch_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    sr = 22050  # both use n_fft 2048, hop 512 here
    x = (sine(330.0, 1.0, sr) + sine(1250.0, 1.0, sr, amp=0.2)).astype(np.float32)
    for rate in (0.8, 1.25):
        ours = time_stretch(x, rate, sample_rate=sr)
        ref = librosa.effects.time_stretch(x, rate=rate)
        assert ours.shape == ref.shape
        assert np.corrcoef(middle(ours), middle(ref))[0, 1] > 0.99


def test_time_stretch_short_wave() -> None:
    y = time_stretch(np.ones(100, np.float32), 0.5, sample_rate=16000)
    assert y.shape == (200,) and np.isfinite(y).all()


# --- pitch_shift -------------------------------------------------------------------------------


@pytest.mark.parametrize("sr", [16000, 44100])
@pytest.mark.parametrize(("semitones", "expected"), [(12.0, 880.0), (-12.0, 220.0), (2.0, 493.88)])
def test_pitch_shift_moves_pitch_keeps_length(sr: int, semitones: float, expected: float) -> None:
    x = sine(sr=sr)
    y = pitch_shift(x, semitones, sample_rate=sr)
    assert y.shape == x.shape and y.dtype == np.float32
    hz, bin_hz = dominant_hz(y, sr)
    assert abs(hz - expected) <= bin_hz


# --- add_noise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [-5.0, 0.0, 10.0, 25.5, 40.0, 60.0])
def test_add_noise_exact_snr(target: float) -> None:
    x = sine(sr=16000)
    y = add_noise(x, target, rng=np.random.default_rng(3))
    assert y.dtype == np.float32 and y.shape == x.shape
    assert abs(snr_db(x, y) - target) < 1e-6


def test_add_noise_is_white_gaussian_and_seeded() -> None:
    x = sine(sr=16000)
    a = add_noise(x, 10.0, rng=np.random.default_rng(5))
    b = add_noise(x, 10.0, rng=np.random.default_rng(5))
    c = add_noise(x, 10.0, rng=np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    noise = a.astype(np.float64) - x
    assert abs(np.mean(noise)) < 0.05 * np.std(noise)
    lag1 = np.corrcoef(noise[:-1], noise[1:])[0, 1]
    assert abs(lag1) < 0.05  # white: successive samples uncorrelated


def test_add_noise_silent_and_input_untouched() -> None:
    silent = np.zeros(1000, np.float32)
    assert np.array_equal(add_noise(silent, 10.0, rng=np.random.default_rng(0)), silent)
    x = sine(sr=8000)
    before = x.copy()
    add_noise(x, 10.0, rng=np.random.default_rng(0))
    assert np.array_equal(x, before)


# --- gain --------------------------------------------------------------------------------------


@pytest.mark.parametrize("db", [-12.0, -3.5, 0.0, 6.0])
def test_gain_exact_factor(db: float) -> None:
    x = sine(sr=8000)
    y = gain(x, db)
    assert y.dtype == np.float32
    assert np.array_equal(y, (x.astype(np.float64) * 10 ** (db / 20)).astype(np.float32))
    ratio_db = 20 * np.log10(np.abs(y).max() / np.abs(x).max())
    assert ratio_db == pytest.approx(db, abs=1e-5)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wave", "message"),
    [
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN"),
        (np.array([0.1, np.inf], np.float32), "Inf"),
        (np.zeros((2, 100), np.float32), "mono"),
        (np.zeros(100, np.int16), "float"),
        (np.zeros(0, np.float32), "empty"),
    ],
)
def test_bad_waves_raise(wave: np.ndarray, message: str) -> None:
    rng = np.random.default_rng(0)
    calls = [
        lambda: time_stretch(wave, 1.1, sample_rate=16000),
        lambda: pitch_shift(wave, 1.0, sample_rate=16000),
        lambda: add_noise(wave, 10.0, rng=rng),
        lambda: gain(wave, 1.0),
        lambda: AudioAugment(p=0.0)(wave, sample_rate=16000, rng=rng),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_rate_raises(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        time_stretch(sine(), rate, sample_rate=16000)


@pytest.mark.parametrize("sr", [0, -16000, 16000.0, True, "16000"])
def test_bad_sample_rate_raises(sr: object) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        time_stretch(sine(), 1.1, sample_rate=sr)  # type: ignore[arg-type]


# --- AudioAugment ------------------------------------------------------------------------------


def test_augment_deterministic_per_seed() -> None:
    aug = AudioAugment(p=1.0)
    x = sine(seconds=1.0)
    a = aug(x, sample_rate=16000, rng=np.random.default_rng(11))
    b = aug(x, sample_rate=16000, rng=np.random.default_rng(11))
    c = aug(x, sample_rate=16000, rng=np.random.default_rng(12))
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    # sample + apply replays __call__ exactly, so a logged draw reproduces the clip
    draw = aug.sample(np.random.default_rng(11))
    assert np.array_equal(aug.apply(x, draw, sample_rate=16000), a)
    assert all(v is not None for v in dataclasses.asdict(draw).values())
    assert a.size == round(x.size / draw.time_stretch)


def test_augment_p_zero_or_all_disabled_is_identity() -> None:
    x = sine(seconds=0.5)
    rng = np.random.default_rng(0)
    assert AudioAugment(p=0.0).sample(rng) == AugmentDraw()
    assert np.array_equal(AudioAugment(p=0.0)(x, sample_rate=16000, rng=rng), x)
    off = AudioAugment(
        time_stretch=None, pitch_shift_semitones=None, noise_snr_db=None, gain_db=None, p=1.0
    )
    assert off.sample(rng) == AugmentDraw()
    assert np.array_equal(off(x, sample_rate=16000, rng=rng), x)


def test_augment_disabled_fields_skip() -> None:
    x = sine(seconds=0.5)
    only_gain = AudioAugment(
        time_stretch=None, pitch_shift_semitones=None, noise_snr_db=None, gain_db=(-3.0, -3.0), p=1
    )
    y = only_gain(x, sample_rate=16000, rng=np.random.default_rng(0))
    assert np.array_equal(y, gain(x, -3))
    only_stretch = AudioAugment(
        time_stretch=(0.5, 0.5), pitch_shift_semitones=None, noise_snr_db=None, gain_db=None, p=1
    )
    y = only_stretch(x, sample_rate=16000, rng=np.random.default_rng(0))
    assert np.array_equal(y, time_stretch(x, 0.5, sample_rate=16000))
    only_noise = AudioAugment(
        time_stretch=None, pitch_shift_semitones=None, noise_snr_db=(20.0, 20.0), gain_db=None, p=1
    )
    y = only_noise(x, sample_rate=16000, rng=np.random.default_rng(0))
    assert abs(snr_db(x, y) - 20.0) < 1e-6


def test_augment_probability_and_ranges() -> None:
    aug = AudioAugment(p=0.3)
    rng = np.random.default_rng(2)
    draws = [aug.sample(rng) for _ in range(4000)]
    for name in ("time_stretch", "pitch_shift_semitones", "gain_db", "noise_snr_db"):
        values = [getattr(d, name) for d in draws if getattr(d, name) is not None]
        assert len(values) / len(draws) == pytest.approx(0.3, abs=0.03)
        low, high = getattr(aug, name)
        assert low <= min(values) and max(values) <= high
        assert np.mean(values) == pytest.approx((low + high) / 2, abs=0.05 * (high - low))
    assert all((d.noise_seed is None) == (d.noise_snr_db is None) for d in draws)


def test_augment_peak_limit_scales_not_clips() -> None:
    x = sine(amp=0.9, seconds=0.5)
    kwargs = dict(time_stretch=None, pitch_shift_semitones=None, noise_snr_db=(30.0, 30.0), p=1.0)
    loud = AudioAugment(gain_db=(12.0, 12.0), max_abs=None, **kwargs)  # type: ignore[arg-type]
    limited = AudioAugment(gain_db=(12.0, 12.0), max_abs=1.0, **kwargs)  # type: ignore[arg-type]
    unlimited = loud(x, sample_rate=16000, rng=np.random.default_rng(4))
    y = limited(x, sample_rate=16000, rng=np.random.default_rng(4))
    assert np.abs(unlimited).max() > 3.0  # the limit had something to do
    assert np.abs(y).max() <= 1.0
    assert np.abs(y).max() == pytest.approx(1.0, abs=1e-6)
    # scaled: the very same waveform, smaller; clipping would flatten the peaks
    assert np.corrcoef(y, unlimited)[0, 1] > 1 - 1e-9
    scale = 1.0 / np.abs(unlimited.astype(np.float64)).max()
    np.testing.assert_allclose(y, unlimited.astype(np.float64) * scale, rtol=1e-6, atol=1e-7)
    assert np.sum(np.abs(y) > 0.99) < 0.01 * y.size
    # below the limit nothing changes
    quiet = AudioAugment(gain_db=(-6.0, -6.0), max_abs=1.0, **kwargs)  # type: ignore[arg-type]
    q = quiet(x, sample_rate=16000, rng=np.random.default_rng(4))
    noise_rng = np.random.default_rng(quiet.sample(np.random.default_rng(4)).noise_seed)
    assert np.array_equal(q, add_noise(gain(x, -6.0), 30.0, rng=noise_rng))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gain_db": (6.0, -6.0)}, "low <= high"),
        ({"pitch_shift_semitones": (1.0, -1.0)}, "low <= high"),
        ({"noise_snr_db": (40.0, 10.0)}, "low <= high"),
        ({"time_stretch": (0.0, 1.1)}, "> 0"),
        ({"time_stretch": (-0.5, 1.1)}, "> 0"),
        ({"time_stretch": (1.1, 0.9)}, "low <= high"),
        ({"gain_db": (0.0, float("nan"))}, "finite"),
        ({"gain_db": (1.0,)}, "pair"),
        ({"p": 1.5}, "p must be"),
        ({"p": -0.1}, "p must be"),
        ({"max_abs": 0.0}, "max_abs"),
    ],
)
def test_augment_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AudioAugment(**kwargs)


def test_augment_is_frozen() -> None:
    aug = AudioAugment()
    with pytest.raises(dataclasses.FrozenInstanceError):
        aug.p = 1.0  # type: ignore[misc]
