"""aisfx tower: in-memory spectrogram = aisfx's file pipeline, pooling, similarity, bad items."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from xmodal.data.audio import load_audio
from xmodal.data.sources import load_sonic_pi
from xmodal.encoders import MissingDependencyError, load_encoder
from xmodal.encoders.towers import AisfxEncoder
from xmodal.encoders.towers.aisfx import SAMPLE_RATE, blocks, log_mel

# One sample per category, each under 3.6 s.
NAMES = ["ambi_choir", "drum_cymbal_open", "bd_808", "elec_beep", "loop_amen", "misc_crow",
         "guit_harmonics", "tabla_ghe1", "bass_hit_c"]
# librosa.load (aisfx's file path) imports audioread, which imports modules Python 3.13 drops.
AUDIOREAD = "ignore::DeprecationWarning"


@pytest.fixture(scope="module")
def enc() -> AisfxEncoder:
    return load_encoder("aisfx")


@pytest.fixture(scope="module")
def paths() -> dict[str, object]:
    return {c.path.stem: c.path for c in load_sonic_pi().items}


@pytest.fixture(scope="module")
def tone_file(tmp_path_factory):
    """A 3.3 s, 44.1 kHz mono FLAC: a chirp plus noise (frames not a multiple of the hop)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(3.3 * SAMPLE_RATE)) / SAMPLE_RATE
    wave = 0.4 * np.sin(2 * np.pi * (200 + 400 * t) * t) + 0.05 * rng.standard_normal(t.size)
    path = tmp_path_factory.mktemp("aisfx") / "chirp.flac"
    sf.write(path, wave.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return path


def test_card(enc):
    assert enc.card.family == "aisfx" and enc.card.modalities == ("audio",)
    assert enc.card.dim == 512 and enc.card.sample_rate == 44100
    assert enc.card.audio_window_s == pytest.approx(100 * 1024 / 44100)


@pytest.mark.filterwarnings(AUDIOREAD)
def test_spectrogram_equals_aisfx_file_function(tone_file):
    from aisfx import inference as ai
    from aisfx.spectrogram.spectrogram_librosa import compute_spectrogram

    ref = compute_spectrogram(str(tone_file), ai.SAMPLE_RATE, ai.SPEC_BLOCK_LENGTH,
                              ai.SPEC_HOP_LENGTH, ai.MEL_BINS, ai.F_MIN, ai.F_MAX).T
    ours = log_mel(load_audio(tone_file, sample_rate=SAMPLE_RATE))  # (frames, 96)
    assert ours.shape == ref.shape == (143, 96)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["loop_amen", "bd_808", "short"])
def test_fast_spectrogram_equals_librosa_melspectrogram(paths, name):
    # log_mel's float32 scipy STFT against librosa's own mel spectrogram (the slow path), on real
    # clips and on one shorter than a single 2048-sample window.
    import librosa
    from aisfx import inference as ai

    if name == "short":
        wave = load_audio(paths["bd_808"], sample_rate=SAMPLE_RATE)[2000:3500]
    else:
        wave = load_audio(paths[name], sample_rate=SAMPLE_RATE)
    y = wave / np.abs(wave).max()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large")
        spec = librosa.feature.melspectrogram(
            y=y, sr=ai.SAMPLE_RATE, n_mels=ai.MEL_BINS, norm=1.0, fmin=ai.F_MIN, fmax=ai.F_MAX,
            htk=True, power=2.0, hop_length=ai.SPEC_HOP_LENGTH, win_length=ai.SPEC_BLOCK_LENGTH,
        )  # (96, frames)
    ref = np.log10(spec.astype(np.float64) * 10000.0 + 1).T
    ours = log_mel(wave)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings(AUDIOREAD)
def test_embedding_equals_aisfx_pipeline_mean_of_blocks(enc, tone_file):
    from aisfx import inference as ai
    from aisfx.preprocessing import spectrogram_normalize
    from aisfx.spectrogram.spectrogram_librosa import compute_spectrogram

    spec = compute_spectrogram(str(tone_file), ai.SAMPLE_RATE, ai.SPEC_BLOCK_LENGTH,
                               ai.SPEC_HOP_LENGTH, ai.MEL_BINS, ai.F_MIN, ai.F_MAX).T
    per_block = ai.model_get_embedding(spectrogram_normalize(spec, "original"), 0.5, False,
                                       enc.model, "cpu")  # (n_blocks, 512)
    assert per_block.shape == (2, 512)  # 143 frames: blocks at 0 and 50 (7 frames padded)
    ref = torch.nn.functional.normalize(per_block.mean(0), dim=0).numpy()
    v = enc.encode_audio([tone_file])
    assert v.shape == (1, 512) and v.dtype == np.float32
    np.testing.assert_allclose(v[0], ref, atol=1e-5)


def test_shapes_unit_norm_deterministic_and_short_clips(enc, paths):
    short = np.sin(np.arange(500, dtype=np.float32) / 5)  # 11 ms: one zero-padded block
    assert blocks(short).shape == (1, 100, 96)
    clips = [paths["bd_808"], short, paths["ambi_choir"]]
    v = enc.encode_audio(clips, batch_size=2)
    assert v.shape == (3, 512) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_audio(clips, batch_size=2))


def test_clip_is_nearest_to_its_shifted_quieter_self(enc, paths):
    waves = [load_audio(paths[n], sample_rate=SAMPLE_RATE) for n in NAMES]
    pad = np.zeros(SAMPLE_RATE // 4, dtype=np.float32)  # 0.25 s later, at 30 % gain
    moved = [0.3 * np.concatenate([pad, w]) for w in waves]
    sims = enc.encode_audio(moved) @ enc.encode_audio(waves).T  # (9, 9)
    assert (sims.argmax(axis=1) == np.arange(len(NAMES))).all()


def test_bad_items_are_reported_the_rest_encoded(enc, paths, tmp_path):
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(200))
    items = [paths["bd_808"], tmp_path / "missing.wav", corrupt, paths["elec_beep"]]
    report = enc.encode_audio(items, errors="report")
    assert report.indices.tolist() == [0, 3]
    assert [p.index for p in report.failed] == [1, 2]
    np.testing.assert_allclose(report.vectors, enc.encode_audio([items[0], items[3]]), atol=1e-6)
    with pytest.raises(ValueError, match="cannot embed"):
        enc.encode_audio(items)


def test_missing_aisfx_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "aisfx.inference", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[models\]"):
        load_encoder("aisfx")
