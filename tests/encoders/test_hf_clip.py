from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xmodal.encoders import CLIPEncoder, EncodeReport, EncoderLoadError, load_encoder

from .hf_tiny import LOGIT_SCALE

TEXTS = ["a dog barking", "a photo of a red car", "the quick brown fox", "music"]


def _images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)) for _ in range(3)]


def _normed(t):
    return (t / t.norm(dim=-1, keepdim=True)).numpy()


@pytest.fixture(scope="module")
def enc(tiny_clip):
    return load_encoder(f"hf-clip:{tiny_clip}")


def test_text_matches_transformers(enc, tiny_clip):
    import torch
    from transformers import CLIPModel, CLIPTokenizer

    assert isinstance(enc, CLIPEncoder)
    v = enc.encode_text(TEXTS, batch_size=3)
    assert v.shape == (4, 24) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    model = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    tok = CLIPTokenizer.from_pretrained(tiny_clip, local_files_only=True)
    with torch.no_grad():
        ref = model.get_text_features(**tok(TEXTS, padding=True, return_tensors="pt"))
    np.testing.assert_allclose(v, _normed(ref.pooler_output), atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_text(TEXTS, batch_size=3))  # deterministic


def test_image_matches_transformers(enc, tiny_clip):
    import torch
    from transformers import AutoImageProcessor, CLIPModel

    images = _images()
    v = enc.encode_image(images, batch_size=2)
    assert v.shape == (3, 24) and v.dtype == np.float32
    model = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    proc = AutoImageProcessor.from_pretrained(tiny_clip, local_files_only=True)
    with torch.no_grad():
        ref = model.get_image_features(**proc(images=images, return_tensors="pt"))
    np.testing.assert_allclose(v, _normed(ref.pooler_output), atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_image(images, batch_size=2))


def test_card_reads_the_weights(enc, tiny_clip):
    card = enc.card
    assert card.family == "clip" and card.dim == 24 and card.modalities == ("text", "image")
    assert card.logit_scale == pytest.approx(LOGIT_SCALE, rel=1e-6)
    assert card.max_text_tokens == 32 and card.logit_bias is None
    assert card.name == f"hf-clip:{tiny_clip}"


def test_long_text_is_truncated_and_reported(enc):
    long = " ".join(["the quick brown fox"] * 10)
    report = enc.encode_text(["a dog", long], errors="report")
    assert [p.index for p in report.truncated] == [1]
    assert "truncated to 32" in report.truncated[0].reason
    with pytest.warns(UserWarning, match="truncated 1 item"):
        enc.encode_text([long])


def test_bad_images_are_reported_or_raised(enc, tmp_path):
    good = _images()
    png = tmp_path / "ok.png"
    good[0].save(png)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    items = [str(png), str(broken), good[1], str(tmp_path / "missing.jpg")]
    report = enc.encode_image(items, batch_size=2, errors="report")
    assert isinstance(report, EncodeReport)
    assert report.indices.tolist() == [0, 2] and report.vectors.shape == (2, 24)
    assert [p.index for p in report.failed] == [1, 3]
    np.testing.assert_allclose(report.vectors, enc.encode_image([good[0], good[1]]), atol=1e-6)
    with pytest.raises(ValueError, match=r"cannot embed .*item 1 \(.*broken\.png"):
        enc.encode_image(items)
    with pytest.raises(TypeError, match="not a single one"):
        enc.encode_image(str(png))
    assert enc.encode_image([]).shape == (0, 24)


def test_audio_is_unsupported(enc):
    from xmodal.encoders import UnsupportedModalityError

    with pytest.raises(UnsupportedModalityError, match="embeds text, image, not audio"):
        enc.encode_audio([np.zeros(100, np.float32)])


def test_missing_or_wrong_folder(tmp_path, tiny_siglip):
    with pytest.raises(EncoderLoadError, match="model folder not found"):
        load_encoder(f"hf-clip:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderLoadError, match="not a transformers model folder"):
        load_encoder(f"hf-clip:{tmp_path / 'empty'}")
    with pytest.raises(EncoderLoadError, match="holds a 'siglip' model"):
        load_encoder(f"hf-clip:{tiny_siglip}")
    with pytest.raises(ValueError, match="hf-clip:PATH, hf-siglip:PATH, hf-clap:PATH"):
        load_encoder("clip-vit-b-32")
