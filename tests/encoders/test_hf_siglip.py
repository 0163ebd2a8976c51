from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xmodal.encoders import EncoderLoadError, SiglipEncoder, load_encoder

from .hf_tiny import LOGIT_BIAS, LOGIT_SCALE, build_tiny_siglip

TEXTS = ["a dog barking", "a photo of a red car", "the quick brown fox", "music"]


def _normed(t):
    return (t / t.norm(dim=-1, keepdim=True)).numpy()


@pytest.fixture(scope="module")
def enc(tiny_siglip):
    return load_encoder(f"hf-siglip:{tiny_siglip}")


def test_text_is_padded_to_max_length_like_transformers(enc, tiny_siglip):
    import torch
    from transformers import AutoTokenizer, SiglipModel

    assert isinstance(enc, SiglipEncoder)
    v = enc.encode_text(TEXTS, batch_size=3)
    assert v.shape == (4, 32) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    model = SiglipModel.from_pretrained(tiny_siglip, local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(tiny_siglip, local_files_only=True)
    batch = tok(TEXTS, padding="max_length", max_length=16, return_tensors="pt")
    with torch.no_grad():
        ref = _normed(model.get_text_features(**batch).pooler_output)
        short = tok(TEXTS, padding=True, return_tensors="pt")  # not what SigLIP was trained on
        unpadded = _normed(model.get_text_features(**short).pooler_output)
    np.testing.assert_allclose(v, ref, atol=1e-5)
    assert not np.allclose(v, unpadded, atol=1e-3)  # the padding matters, and we pad
    np.testing.assert_array_equal(v, enc.encode_text(TEXTS, batch_size=3))  # deterministic
    np.testing.assert_allclose(v, enc.encode_text(TEXTS), atol=1e-6)  # padded: any batch


def test_text_is_lower_cased(enc, tiny_siglip):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_siglip, local_files_only=True)
    assert tok("A DOG")["input_ids"] != tok("a dog")["input_ids"]  # this tokenizer keeps case
    np.testing.assert_array_equal(enc.encode_text(["A DOG"]), enc.encode_text(["a dog"]))


def test_image_matches_transformers(enc, tiny_siglip):
    import torch
    from transformers import AutoImageProcessor, SiglipModel

    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 255, (50, 30, 3), dtype=np.uint8))
              for _ in range(3)]
    v = enc.encode_image(images, batch_size=2)
    assert v.shape == (3, 32) and v.dtype == np.float32
    model = SiglipModel.from_pretrained(tiny_siglip, local_files_only=True).eval()
    proc = AutoImageProcessor.from_pretrained(tiny_siglip, local_files_only=True)
    with torch.no_grad():
        ref = model.get_image_features(**proc(images=images, return_tensors="pt"))
    np.testing.assert_allclose(v, _normed(ref.pooler_output), atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_image(images, batch_size=2))


def test_card_reads_scale_and_bias(enc):
    card = enc.card
    assert card.family == "siglip" and card.dim == 32 and card.modalities == ("text", "image")
    assert card.logit_scale == pytest.approx(LOGIT_SCALE, rel=1e-6)
    assert card.logit_bias == pytest.approx(LOGIT_BIAS, rel=1e-6)
    assert card.max_text_tokens == 16 and card.sample_rate is None


def test_long_text_is_truncated_and_reported(enc):
    long = " ".join(["the quick brown fox"] * 5)  # 20 words
    report = enc.encode_text(["a dog", long], errors="report")
    assert [(p.index, "truncated to 16" in p.reason) for p in report.truncated] == [(1, True)]


def test_context_length_mismatch_is_refused(tmp_path):
    folder = build_tiny_siglip(tmp_path, context=16, tokenizer_context=64)
    with pytest.raises(EncoderLoadError,
                       match="tokenizer/model context-length mismatch: 64 vs 16"):
        load_encoder(f"hf-siglip:{folder}")


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(EncoderLoadError, match="model folder not found"):
        load_encoder(f"hf-siglip:{tmp_path / 'nowhere'}")


def test_siglip2_loads_with_naflex_images(tmp_path):
    from .hf_tiny import build_tiny_siglip2

    enc = load_encoder(f"hf-siglip:{build_tiny_siglip2(tmp_path)}")
    rng = np.random.default_rng(2)
    images = [Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)),
              Image.fromarray(rng.integers(0, 255, (64, 24, 3), dtype=np.uint8))]
    v = enc.encode_image(images)
    assert v.shape == (2, 32) and enc.card.family == "siglip"
    np.testing.assert_array_equal(v, enc.encode_image(images))
    np.testing.assert_allclose(enc.encode_text(["A DOG"]), enc.encode_text(["a dog"]), atol=1e-6)
