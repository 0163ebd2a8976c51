"""The ConSE label-space bridge: float64 oracles for the mixing and the fused cosine, and a
bridged LiT model over the real packaged towers (build, save, load, encode)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xmodal.encoders import EncoderLoadError, LiTConfig, LiTModel, load_encoder
from xmodal.encoders.bridge import BridgedHead, ConseBridge
from xmodal.encoders.card import ModelCard
from xmodal.encoders.towers import imagenet_classes


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_conse_equals_the_float64_formula():
    rng = np.random.default_rng(0)
    names = _unit(rng.normal(size=(50, 12)))  # (C, d)
    probs = rng.dirichlet(np.full(50, 0.3), size=7)  # (n, C)
    got = ConseBridge(torch.from_numpy(names), top_k=5)(torch.from_numpy(probs)).numpy()
    for row, p in zip(got, probs, strict=True):
        top = np.argsort(-p)[:5]
        want = _unit((p[top, None] / p[top].sum() * names[top]).sum(0))
        np.testing.assert_allclose(row, want, atol=1e-6)
    # a rescaled probability row (the tower hands over p / |p| / √2) gives the same vector
    again = ConseBridge(torch.from_numpy(names), top_k=5)(torch.from_numpy(probs * 0.37)).numpy()
    np.testing.assert_allclose(again, got, atol=1e-6)


@pytest.mark.parametrize("power", [0.5, 2.0])
def test_conse_power_equals_the_float64_formula(power):
    rng = np.random.default_rng(2)
    names = _unit(rng.normal(size=(40, 9)))  # (C, d)
    probs = rng.dirichlet(np.full(40, 0.3), size=6)  # (n, C)
    got = ConseBridge(torch.from_numpy(names), top_k=7, power=power)(
        torch.from_numpy(probs)).numpy()
    for row, p in zip(got, probs, strict=True):
        top = np.argsort(-p)[:7]  # the top classes are chosen before the power
        weights = p[top] ** power / (p[top] ** power).sum()
        np.testing.assert_allclose(row, _unit((weights[:, None] * names[top]).sum(0)), atol=1e-6)
    rescaled = ConseBridge(torch.from_numpy(names), top_k=7, power=power)(
        torch.from_numpy(probs * 0.37)).numpy()
    np.testing.assert_allclose(rescaled, got, atol=1e-6)
    with pytest.raises(ValueError, match="power"):
        ConseBridge(torch.from_numpy(names), power=0.0)


def test_bridged_cosine_is_the_weighted_sum_of_the_two_cosines():
    rng = np.random.default_rng(1)
    names = torch.from_numpy(_unit(rng.normal(size=(1000, 6))))
    image_head, text_head = torch.nn.Linear(8, 4).double(), torch.nn.Linear(6, 4).double()
    w = 0.3
    img = BridgedHead(image_head, split=8, weight=w, bridge=ConseBridge(names, top_k=10))
    txt = BridgedHead(text_head, split=6, weight=w)
    x = torch.from_numpy(np.concatenate([rng.normal(size=(5, 8)),
                                         rng.dirichlet(np.ones(1000), size=5)], axis=1))
    t = torch.from_numpy(_unit(rng.normal(size=(3, 6))))
    with torch.no_grad():
        got = (img(x) @ txt(t).T).numpy()  # (5, 3)
        heads = _unit(image_head(x[:, :8]).numpy()) @ _unit(text_head(t).numpy()).T
        conse = ConseBridge(names, top_k=10)(x[:, 8:]).numpy() @ t.numpy().T
    np.testing.assert_allclose(got, (1 - w) * heads + w * conse, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(img(x).detach().numpy(), axis=1), 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="weight"):
        BridgedHead(text_head, split=6, weight=1.5)


class _Stub:
    def __init__(self, dim: int, modality: str) -> None:
        self.card = ModelCard(name=f"stub-{dim}", family="lit", dim=dim, modalities=(modality,))


def test_a_bridge_needs_class_probabilities_from_the_item_tower():
    config = LiTConfig(towers={"image": "efficientnet-lite0", "text": "minilm"}, dim=8,
                       bridge="imagenet")
    with pytest.raises(EncoderLoadError, match=r"efficientnet-lite0\+classes"):
        LiTModel(config, {"image": _Stub(500, "image"), "text": _Stub(6, "text")})
    with pytest.raises(ValueError, match="bridge"):
        LiTConfig(towers={"image": "a", "text": "b"}, bridge="wordnet")


@pytest.fixture(scope="module")
def bridged():
    config = LiTConfig(towers={"image": "efficientnet-lite0+classes", "text": "minilm"}, dim=16,
                       bridge="imagenet", bridge_weight=0.4, bridge_power=0.5)
    return LiTModel.build(config, load_tower=load_encoder, seed=0)


def test_bridged_model_round_trip_and_card(bridged, tmp_path):
    from PIL import Image

    folder = bridged.save(tmp_path / "bridged")
    enc = load_encoder(f"lit:{folder}")
    assert enc.card.dim == 16 + 384 and bridged.out_dim == 400
    images = [Image.new("RGB", (64, 64), c) for c in [(200, 20, 20), (20, 20, 200)]]
    texts = ["a red square", "golden retriever"]
    img, txt = enc.encode_image(images), enc.encode_text(texts)
    assert img.shape == (2, 400) and txt.shape == (2, 400)
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1.0, atol=1e-5)
    from xmodal.encoders import LiTEncoder

    same = LiTEncoder(bridged, name="b")
    np.testing.assert_allclose(img, same.encode_image(images), atol=1e-6)
    # the bridge half of a text vector is √w · MiniLM's own vector
    minilm = load_encoder("minilm").encode_text(texts)
    np.testing.assert_allclose(txt[:, 16:], np.sqrt(0.4) * minilm, atol=1e-5)
    # the saved class names are MiniLM's embeddings of the ImageNet names
    assert enc.model.heads["image"].bridge.power == 0.5  # the saved config's power
    saved = enc.model.heads["image"].bridge.classes.numpy()
    np.testing.assert_allclose(saved[207], load_encoder("minilm").encode_text(
        [imagenet_classes()[207]])[0], atol=1e-5)


def test_efficientnet_with_classes_is_the_pooled_features_beside_the_classifier():
    from PIL import Image

    plain, both = load_encoder("efficientnet-lite0"), load_encoder("efficientnet-lite0+classes")
    assert both.card.dim == 2280
    rng = np.random.default_rng(3)
    images = [Image.fromarray(rng.integers(0, 256, (80, 60, 3), dtype=np.uint8))
              for _ in range(2)]
    v, p = both.encode_image(images), plain.encode_image(images)
    np.testing.assert_allclose(v[:, :1280] * np.sqrt(2), p, atol=1e-5)
    # the probabilities part: the classifier's softmax of the same pooled features
    x = torch.from_numpy(__import__("xmodal.encoders.towers.efficientnet",
                                    fromlist=["preprocess"]).preprocess(images))
    with torch.no_grad():
        probs = torch.softmax(both.model(x), dim=-1).numpy()  # the package's own forward
    np.testing.assert_allclose(v[:, 1280:] * np.sqrt(2), _unit(probs), atol=1e-4)
