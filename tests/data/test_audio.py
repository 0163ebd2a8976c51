"""xmodal.data.audio against independent oracles: files written here, FFT peaks, scipy directly."""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest

from xmodal.data.audio import (
    DEFAULT_MAX_SECONDS,
    AudioDecodeError,
    DecodedAudio,
    load_audio,
    load_audios,
    window_weights,
    windows,
)

sf = pytest.importorskip("soundfile")
signal = pytest.importorskip("scipy.signal")

SR_IN, SR_OUT, FREQ = 44100, 16000, 440.0


def stereo_sine(seconds: float = 1.0, rate: int = SR_IN) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([np.sin(2 * np.pi * FREQ * t), np.zeros_like(t)], axis=1)  # (n, 2)


def peak_hz(wave: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)])


def middle_amplitude(wave: np.ndarray) -> float:
    """Amplitude of a sine from its RMS over the middle half (codec edges excluded)."""
    mid = wave[len(wave) // 4 : 3 * len(wave) // 4]
    return float(np.sqrt(2 * np.mean(mid.astype(np.float64) ** 2)))


FORMATS = [
    ("wav", "WAV", "PCM_16", 0.01),
    ("flac", "FLAC", "PCM_16", 0.01),
    ("ogg", "OGG", "VORBIS", 0.05),
    ("mp3", "MP3", "MPEG_LAYER_III", 0.05),
]


@pytest.mark.parametrize(("ext", "fmt", "subtype", "tol"), FORMATS, ids=[f[0] for f in FORMATS])
def test_files_decode_to_mono_at_target_rate(tmp_path, ext, fmt, subtype, tol):
    if fmt not in sf.available_formats() or subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"libsndfile here cannot write {fmt}/{subtype}")
    x = stereo_sine()
    path = tmp_path / f"sine.{ext}"
    sf.write(path, x, SR_IN, format=fmt, subtype=subtype)
    wave = load_audio(path, sample_rate=SR_OUT)
    assert wave.dtype == np.float32 and wave.ndim == 1
    expected = round(len(x) * SR_OUT / SR_IN)
    slack = 1 if fmt in ("WAV", "FLAC") else 0.02 * expected  # lossy codecs pad/trim a little
    assert abs(len(wave) - expected) <= slack
    assert abs(peak_hz(wave, SR_OUT) - FREQ) <= 2
    assert middle_amplitude(wave) == pytest.approx(0.5, abs=tol)  # (sine + zeros) / 2
    assert np.abs(wave).max() <= 1.0
    # Same bytes in memory give the same result; str paths too.
    np.testing.assert_array_equal(load_audio(path.read_bytes(), sample_rate=SR_OUT), wave)
    np.testing.assert_array_equal(load_audio(str(path), sample_rate=SR_OUT), wave)


def test_int16_array_scaled_exactly():
    pcm = np.array([16384, -16384, 0, -32768, 32767], dtype=np.int16)
    wave = load_audio((pcm, SR_OUT), sample_rate=SR_OUT)
    np.testing.assert_array_equal(wave[:4], np.array([0.5, -0.5, 0.0, -1.0], dtype=np.float32))
    assert wave[4] == pytest.approx(32767 / 32768)
    uint8 = np.array([128, 192, 0], dtype=np.uint8)
    np.testing.assert_array_equal(load_audio(uint8, sample_rate=8000), [0.0, 0.5, -1.0])


def test_tuple_layouts_and_bare_array_rate():
    x = 0.9 * stereo_sine(0.5)  # (n, 2), no clipping after resampling
    a = load_audio((x, SR_IN), sample_rate=SR_OUT)
    b = load_audio((x.T, SR_IN), sample_rate=SR_OUT)  # (channels, n) since 2 <= 8 < n
    np.testing.assert_array_equal(a, b)
    mono = load_audio((x[:, 0], SR_IN), sample_rate=SR_OUT)
    np.testing.assert_allclose(a, mono / 2, atol=1e-6)
    # A bare array is taken to be at sample_rate already: no resampling.
    bare = np.linspace(-1, 1, 1000)
    np.testing.assert_array_equal(load_audio(bare, sample_rate=SR_OUT), bare.astype(np.float32))
    with pytest.raises(AudioDecodeError, match="ambiguous"):
        load_audio((np.zeros((20, 30)), SR_OUT), sample_rate=SR_OUT)


def test_resampling_matches_scipy_with_reduced_ratio():
    x = stereo_sine(0.5)[:, 0] * 0.9  # (n,)
    g = math.gcd(SR_IN, SR_OUT)
    assert (SR_OUT // g, SR_IN // g) == (160, 441)
    oracle = signal.resample_poly(x, 160, 441)
    got = load_audio((x, SR_IN), sample_rate=SR_OUT)
    assert got.shape == oracle.shape
    np.testing.assert_allclose(got, oracle, atol=1e-6)
    # Up-sampling keeps the tone as well.
    up = load_audio((x, 8000), sample_rate=SR_OUT)
    assert len(up) == 2 * len(x) and abs(peak_hz(up, SR_OUT) - FREQ * 8000 / SR_IN) <= 2


def test_errors_name_item_and_problem(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, stereo_sine(), SR_IN, subtype="PCM_16")
    data = good.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    noise = tmp_path / "noise.wav"
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    cases = [
        (cut, "truncated or corrupt"),
        (noise, "not an audio file or unsupported format"),
        (empty, "empty"),
        (tmp_path / "missing.wav", "not found"),
    ]
    for path, problem in cases:
        with pytest.raises(AudioDecodeError, match=problem) as info:
            load_audio(path, sample_rate=SR_OUT)
        assert str(path) in str(info.value) and isinstance(info.value, ValueError)
    with pytest.raises(AudioDecodeError, match=r"^<bytes>: truncated or corrupt"):
        load_audio(data[: len(data) // 2], sample_rate=SR_OUT)
    with pytest.raises(AudioDecodeError, match=r"^<array>: contains NaN or Inf samples"):
        load_audio((np.array([0.0, np.nan, 0.1]), SR_OUT), sample_rate=SR_OUT)
    with pytest.raises(AudioDecodeError, match=r"^<array>: contains NaN or Inf"):
        load_audio(np.array([0.0, np.inf]), sample_rate=SR_OUT)
    with pytest.raises(AudioDecodeError, match=r"^<array>: empty: 0 samples"):
        load_audio(np.zeros(0, dtype=np.float32), sample_rate=SR_OUT)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((0, 1)), SR_OUT)
    with pytest.raises(AudioDecodeError, match="empty: 0 samples"):
        load_audio(silent, sample_rate=SR_OUT)


def test_too_long_refused_from_header_without_decoding(tmp_path, monkeypatch):
    rate = 1000  # one hour of zeros at 1 kHz: 3.6 M samples, written in a blink
    path = tmp_path / "hour.wav"
    sf.write(path, np.zeros(3600 * rate, dtype=np.int16), rate, subtype="PCM_16")

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a clip that the header shows is too long")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    with pytest.raises(AudioDecodeError) as info:
        load_audio(path, sample_rate=SR_OUT)
    assert str(info.value) == f"{path}: too long: 3,600.0 s, over the limit of 600 s"
    assert DEFAULT_MAX_SECONDS == 600
    with pytest.raises(AudioDecodeError, match=r"too long: 4\.0 s, over the limit of 2\.5 s"):
        load_audio((np.zeros(4 * rate), rate), sample_rate=rate, max_seconds=2.5)


def test_header_declaring_two_hours_is_refused(tmp_path):
    rate, seconds = 8000, 7200
    declared = rate * 2 * seconds  # mono PCM_16 bytes for two hours
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", declared) + bytes(rate * 2)  # one second present
    path = tmp_path / "liar.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 24 + 8 + declared) + body)
    # libsndfile clamps the frame count to the data present; the log shows the lie.
    with pytest.raises(AudioDecodeError, match=r"truncated or corrupt: the header declares"):
        load_audio(path, sample_rate=SR_OUT)


def test_windows_fixed_split_and_weights():
    rate = SR_OUT
    wave = np.random.default_rng(1).uniform(-1, 1, 25 * rate).astype(np.float32)
    w = windows(wave, sample_rate=rate)
    assert w.shape == (3, 10 * rate) and w.dtype == np.float32
    np.testing.assert_array_equal(w[:2].ravel(), wave[: 20 * rate])
    np.testing.assert_array_equal(w[2, : 5 * rate], wave[20 * rate :])
    assert not w[2, 5 * rate :].any()
    np.testing.assert_allclose(window_weights(wave, sample_rate=rate), [1, 1, 0.5])

    short = wave[: 3 * rate]
    ws = windows(short, sample_rate=rate)
    assert ws.shape == (1, 10 * rate) and not ws[0, 3 * rate :].any()
    np.testing.assert_allclose(window_weights(short, sample_rate=rate), [0.3], rtol=1e-6)

    exact = wave[: 20 * rate]
    we = windows(exact, sample_rate=rate)
    assert we.shape == (2, 10 * rate)
    np.testing.assert_array_equal(we.ravel(), exact)
    np.testing.assert_array_equal(window_weights(exact, sample_rate=rate), [1, 1])

    # Deterministic: the same clip gives identical windows, every time.
    np.testing.assert_array_equal(windows(wave.copy(), sample_rate=rate), w)
    assert windows(np.ones(5), sample_rate=1, window_s=2.0).shape == (3, 2)
    with pytest.raises(ValueError):
        windows(np.zeros(0), sample_rate=rate)


def test_load_audios_reports_bad_items(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, stereo_sine(0.2), SR_IN)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    items = [good, bad, (np.full(800, 0.25), 8000)]
    out = load_audios(items, sample_rate=SR_OUT)
    assert isinstance(out, DecodedAudio)
    assert out.indices == (0, 2) and len(out.waves) == 2
    (problem,) = out.failed
    assert problem.index == 1 and problem.item == str(bad)
    assert problem.reason.startswith("not an audio file")
    np.testing.assert_array_equal(out.waves[0], load_audio(good, sample_rate=SR_OUT))
    assert len(out.waves[1]) == 1600

    pooled = load_audios(items, sample_rate=SR_OUT, workers=2)
    assert pooled.indices == out.indices and pooled.failed == out.failed
    for a, b in zip(pooled.waves, out.waves, strict=True):
        np.testing.assert_array_equal(a, b)


def test_streamed_wav_with_unknown_size_is_not_truncated():
    rate = 8000
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    pcm = np.full(rate, 16384, dtype=np.int16).tobytes()
    unknown = struct.pack("<I", 0xFFFFFFFF)  # what a writer to a pipe puts in the sizes
    data = b"RIFF" + unknown + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    wave = load_audio(data + b"data" + unknown + pcm, sample_rate=rate)
    np.testing.assert_array_equal(wave, np.full(rate, 0.5, dtype=np.float32))


def test_missing_soundfile_names_the_extra(tmp_path, monkeypatch):
    from xmodal._optional import MissingDependencyError

    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[audio\]"):
        load_audio(tmp_path / "x.wav", sample_rate=SR_OUT)
    with pytest.raises(MissingDependencyError):  # not a bad item: the batch stops
        load_audios([b"RIFF"], sample_rate=SR_OUT)


def test_mp3_with_a_large_id3_tag_decodes_whole_and_a_cut_one_is_refused():
    # Scratch's Cat.mp3: 8 KB, of which an ID3v2 tag is most; libsndfile estimates 44,673
    # samples from the file size, and the file holds 21,888 (checked by walking its frames)
    from xmodal.data.sources._common import deb_root

    path = deb_root("scratch") / "usr/share/scratch/Media/Sounds/Animal/Cat.mp3"
    blob = path.read_bytes()
    assert blob[:3] == b"ID3"
    wave = load_audio(blob, sample_rate=22050)  # the MP3 is 44.1 kHz
    assert wave.shape == (21888 // 2,)
    with pytest.raises(AudioDecodeError, match="truncated or corrupt"):
        load_audio(blob[: int(len(blob) * 0.8)], sample_rate=22050)
