from __future__ import annotations

import numpy as np
import pytest

from xmodal.encoders import ClapEncoder, EncoderLoadError, UnsupportedModalityError, load_encoder

from .hf_tiny import CLAP_RATE, LOGIT_SCALE

TEXTS = ["a dog barking", "rain on the street", "music"]


def _clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * CLAP_RATE))).astype(np.float32)


def _normed(t):
    return (t / t.norm(dim=-1, keepdim=True)).numpy()


@pytest.fixture(scope="module")
def enc(tiny_clap):
    return load_encoder(f"hf-clap:{tiny_clap}")


@pytest.fixture(scope="module")
def reference(tiny_clap):
    from transformers import AutoFeatureExtractor, AutoTokenizer, ClapModel

    model = ClapModel.from_pretrained(tiny_clap, local_files_only=True).eval()
    return (model, AutoTokenizer.from_pretrained(tiny_clap, local_files_only=True),
            AutoFeatureExtractor.from_pretrained(tiny_clap, local_files_only=True))


def test_text_matches_transformers(enc, reference):
    import torch

    model, tok, _ = reference
    assert isinstance(enc, ClapEncoder)
    v = enc.encode_text(TEXTS, batch_size=2)
    assert v.shape == (3, 24) and v.dtype == np.float32
    with torch.no_grad():
        ref = model.get_text_features(**tok(TEXTS, padding=True, return_tensors="pt"))
    np.testing.assert_allclose(v, _normed(ref.pooler_output), atol=1e-5)


def test_short_clip_matches_transformers_without_random_crop(enc, reference):
    import torch

    model, _, fe = reference
    wave = _clip(3.0, seed=1)
    v = enc.encode_audio([wave])
    assert v.shape == (1, 24) and v.dtype == np.float32
    inputs = fe([wave], sampling_rate=CLAP_RATE, truncation="rand_trunc", return_tensors="pt")
    with torch.no_grad():
        ref = model.get_audio_features(**inputs)  # unfused model: is_longer unused
    np.testing.assert_allclose(v, _normed(ref.pooler_output), atol=1e-5)


def test_audio_is_deterministic_and_leaves_numpy_rng_alone(enc):
    clips = [_clip(25.0, seed=2), _clip(4.0, seed=3)]
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = enc.encode_audio(clips)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.testing.assert_array_equal(a, enc.encode_audio(clips))
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)


def test_long_clip_is_the_weighted_mean_of_its_windows(enc):
    wave = _clip(25.0, seed=4)
    n = 10 * CLAP_RATE
    full = enc.encode_audio([wave])[0]
    parts = enc.encode_audio([wave[:n], wave[n : 2 * n], wave[2 * n :]])  # 10 s, 10 s, 5 s
    pooled = np.array([1.0, 1.0, 0.5]) @ parts
    np.testing.assert_allclose(full, pooled / np.linalg.norm(pooled), atol=1e-5)
    assert not np.allclose(full, parts[0], atol=1e-3)  # not just the first window


def test_card_and_other_modalities(enc):
    card = enc.card
    assert card.family == "clap" and card.dim == 24 and card.modalities == ("text", "audio")
    assert card.sample_rate == CLAP_RATE and card.audio_window_s == 10.0
    assert card.logit_scale == pytest.approx(LOGIT_SCALE, rel=1e-6)
    assert card.max_text_tokens == 30
    with pytest.raises(UnsupportedModalityError, match="embeds text, audio, not image"):
        enc.encode_image(["x.png"])


def test_bad_clips_are_reported_or_raised(enc, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav")
    good = _clip(2.0, seed=5)
    items = [good, str(bad), (good, CLAP_RATE)]
    report = enc.encode_audio(items, errors="report")
    assert report.indices.tolist() == [0, 2] and [p.index for p in report.failed] == [1]
    np.testing.assert_allclose(report.vectors[0], report.vectors[1], atol=1e-6)
    with pytest.raises(ValueError, match=r"cannot embed 1 item\(s\): item 1 \(.*broken\.wav"):
        enc.encode_audio(items)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(EncoderLoadError, match="model folder not found"):
        load_encoder(f"hf-clap:{tmp_path / 'nowhere'}")



def test_ingest_pools_a_long_files_vector_from_its_segments(enc, tmp_path):
    """The model runs over a long file once (its windows): the stored whole-file vector is
    still what ``encode_audio`` gives for the file."""
    import soundfile as sf

    from xmodal.data.corpus import file_sha256
    from xmodal.index import document_id, open_index
    from xmodal.index.ingest import ingest

    path = (tmp_path / "long.wav").resolve()
    sf.write(str(path), _clip(25.0, seed=5), CLAP_RATE, subtype="FLOAT")
    with open_index(f"exact:{tmp_path / 'idx'}") as index:
        ingest(index, [path], encoders={"audio": enc}, captions=False, lexical=False)
        col = index.collection(index.collections()[0].name)
        main = col.get([document_id(str(path), file_sha256(path))])[0]
        assert col.count() == 1 + 3  # the file and its 10 s, 10 s, 5 s windows
    np.testing.assert_allclose(main.vector, enc.encode_audio([str(path)])[0], atol=1e-5)
