"""Multimodal sentence-transformers models through ``st:``: a tiny CLIP and a tiny CLAP loaded by
sentence-transformers' ``Transformer`` module (processor and all), saved with
``SentenceTransformer.save_pretrained`` and loaded back with ``load_encoder("st:FOLDER")``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xmodal.encoders import EncodeReport, UnsupportedModalityError, load_encoder

from .hf_tiny import CLAP_RATE, build_tiny_clap, build_tiny_clip

TEXTS = ["a dog barking", "a red car on the street", "music"]


def _st(folder):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def st_clip(tmp_path_factory):
    """A tiny transformers CLIP folder wrapped by sentence-transformers, saved as an st model."""
    tmp = tmp_path_factory.mktemp("st_clip")
    model = _st(build_tiny_clip(tmp))
    out = tmp / "st"
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def st_clap(tmp_path_factory):
    """A tiny unfused CLAP as an st model; its extractor truncates with ``rand_trunc``, the
    unfused checkpoints' setting (the extractor's default, ``fusion``, feeds 4 channels)."""
    tmp = tmp_path_factory.mktemp("st_clap")
    clap = build_tiny_clap(tmp)
    model = _st(clap)
    model[0].processor.feature_extractor.truncation = "rand_trunc"
    out = tmp / "st"
    model.save_pretrained(str(out))
    return out


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (30 + 9 * i, 44, 3), dtype=np.uint8))
            for i in range(n)]


def _waves(*seconds: float) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [(0.1 * rng.standard_normal(int(s * CLAP_RATE))).astype(np.float32) for s in seconds]


def test_clip_card_lists_text_and_image(st_clip):
    enc = load_encoder(f"st:{st_clip}")
    assert enc.card.family == "sentence-transformers" and enc.card.modalities == ("text", "image")
    assert enc.card.dim == 24 and enc.card.max_text_tokens == 32
    assert enc.card.sample_rate is None
    with pytest.raises(UnsupportedModalityError, match="embeds text, image, not audio"):
        enc.encode_audio(["x.wav"])


def test_clip_images_and_texts_match_sentence_transformers(st_clip, tmp_path):
    enc, model = load_encoder(f"st:{st_clip}"), _st(st_clip)
    images = _images(3)
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"img{i}.png")
        img.save(paths[-1])
    want = model.encode(images, normalize_embeddings=True)
    v = enc.encode_image(paths, batch_size=2)  # decoded by xmodal, embedded by st
    assert v.shape == (3, 24) and v.dtype == np.float32
    np.testing.assert_allclose(v, want, atol=1e-5)
    np.testing.assert_allclose(enc.encode_image(images), want, atol=1e-5)
    t = enc.encode_text(TEXTS)
    np.testing.assert_allclose(t, model.encode(TEXTS, normalize_embeddings=True), atol=1e-5)
    # the same CLIP through xmodal's own transformers route
    clip = load_encoder(f"hf-clip:{st_clip.parent / 'clip'}")
    np.testing.assert_allclose(v, clip.encode_image(paths), atol=1e-5)
    np.testing.assert_allclose(t, clip.encode_text(TEXTS), atol=1e-5)


def test_a_text_that_names_an_image_file_stays_text(st_clip, tmp_path, monkeypatch):
    """sentence-transformers reads a string naming an existing image file as that image."""
    enc, model = load_encoder(f"st:{st_clip}"), _st(st_clip)
    monkeypatch.chdir(tmp_path)
    as_text = model.encode(["cat.png"], normalize_embeddings=True)  # no such file yet: text
    _images(1)[0].save("cat.png")
    assert not np.allclose(model.encode(["cat.png"], normalize_embeddings=True), as_text)
    np.testing.assert_allclose(enc.encode_text(["cat.png"]), as_text, atol=1e-5)


def test_corrupt_image_is_reported_by_name(st_clip, tmp_path):
    enc = load_encoder(f"st:{st_clip}")
    good = tmp_path / "good.png"
    _images(1)[0].save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    report = enc.encode_image([good, bad, good], errors="report")
    assert isinstance(report, EncodeReport)
    assert report.indices.tolist() == [0, 2] and report.vectors.shape == (2, 24)
    assert [p.index for p in report.failed] == [1] and "broken.png" in report.failed[0].item
    np.testing.assert_allclose(report.vectors[0], enc.encode_image([good])[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"item 1 \(.*broken\.png"):
        enc.encode_image([good, bad])


def test_text_only_st_model_still_refuses_images(tiny_st):
    enc = load_encoder(f"st:{tiny_st}")
    assert enc.card.modalities == ("text",)
    with pytest.raises(UnsupportedModalityError, match="embeds text, not image"):
        enc.encode_image(_images(1))


def test_clap_audio_matches_sentence_transformers(st_clap):
    enc, model = load_encoder(f"st:{st_clap}"), _st(st_clap)
    assert enc.card.modalities == ("text", "audio")
    assert enc.card.sample_rate == CLAP_RATE and enc.card.audio_window_s == 10.0
    waves = _waves(1.0, 3.5, 7.25)  # each inside one 10 s window
    want = model.encode([{"array": w, "sampling_rate": CLAP_RATE} for w in waves],
                        normalize_embeddings=True)
    v = enc.encode_audio([(w, CLAP_RATE) for w in waves], batch_size=2)
    assert v.shape == (3, 24)
    np.testing.assert_allclose(v, want, atol=1e-5)
    t = enc.encode_text(TEXTS)
    np.testing.assert_allclose(t, model.encode(TEXTS, normalize_embeddings=True), atol=1e-5)
    with pytest.raises(UnsupportedModalityError, match="not image"):
        enc.encode_image(_images(1))


def test_long_clap_audio_is_windowed_deterministically(st_clap):
    """A 25 s clip: three windows (10, 10, 5 s) averaged by length, as hf-clap does."""
    enc, model = load_encoder(f"st:{st_clap}"), _st(st_clap)
    (wave,) = _waves(25.0)
    v = enc.encode_audio([wave])
    cut = [wave[: 10 * CLAP_RATE], wave[10 * CLAP_RATE : 20 * CLAP_RATE], wave[20 * CLAP_RATE :]]
    parts = model.encode([{"array": c, "sampling_rate": CLAP_RATE} for c in cut],
                         normalize_embeddings=True)  # (3, d)
    mean = (10 * parts[0] + 10 * parts[1] + 5 * parts[2]) / 25
    np.testing.assert_allclose(v[0], mean / np.linalg.norm(mean), atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_audio([wave]))  # no random crop
    clap = load_encoder(f"hf-clap:{st_clap.parent / 'clap'}")  # same weights, xmodal's route
    np.testing.assert_allclose(v, clap.encode_audio([wave]), atol=1e-5)


def test_bad_audio_is_reported(st_clap, tmp_path):
    enc = load_encoder(f"st:{st_clap}")
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (wave,) = _waves(2.0)
    report = enc.encode_audio([(wave, CLAP_RATE), bad], errors="report")
    assert report.indices.tolist() == [0] and [p.index for p in report.failed] == [1]
    assert "noise.wav" in report.failed[0].item
