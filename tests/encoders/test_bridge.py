"""The ConSE label-space bridge: float64 oracles for the mixing and the fused cosine, and a
bridged LiT model over the real packaged towers (build, save, load, encode)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from xmodal.encoders import EncoderLoadError, LiTConfig, LiTModel, load_encoder
from xmodal.encoders.bridge import BridgedHead, ConseBridge, TextClassMix, class_prior
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


def test_conse_with_a_prior_ranks_and_weighs_classes_by_probability_over_prior():
    rng = np.random.default_rng(4)
    names = _unit(rng.normal(size=(30, 8)))  # (C, d)
    probs = rng.dirichlet(np.full(30, 0.4), size=6)  # (n, C)
    prior = rng.dirichlet(np.ones(30)) + 1e-3  # (C,)
    bridge = ConseBridge(torch.from_numpy(names), top_k=4, power=0.5,
                         prior=torch.from_numpy(prior))
    got = bridge(torch.from_numpy(probs)).numpy()
    for row, p in zip(got, probs, strict=True):
        ratio = p / prior  # pointwise mutual information, up to a constant
        top = np.argsort(-ratio)[:4]
        weights = ratio[top] ** 0.5 / (ratio[top] ** 0.5).sum()
        np.testing.assert_allclose(row, _unit((weights[:, None] * names[top]).sum(0)), atol=1e-6)
    # a prior that is not uniform changes the vectors; a uniform one is plain ConSE
    plain = ConseBridge(torch.from_numpy(names), top_k=4, power=0.5)(torch.from_numpy(probs))
    assert np.abs(got - plain.numpy()).max() > 1e-2
    uniform = ConseBridge(torch.from_numpy(names), top_k=4, power=0.5,
                          prior=torch.full((30,), 7.0))(torch.from_numpy(probs))
    torch.testing.assert_close(uniform, plain)


def test_class_prior_is_the_mean_of_rows_rescaled_to_sum_one():
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(12), size=9)  # (n, C)
    stored = probs / np.linalg.norm(probs, axis=1, keepdims=True)  # the tower's p / |p|
    np.testing.assert_allclose(class_prior(stored).numpy(), probs.mean(0), rtol=1e-6)
    assert class_prior(np.array([[1.0, 0.0]])).tolist() == pytest.approx([1.0, 1e-8])
    for bad in (np.zeros((0, 3)), np.array([[0.5, np.nan]]), np.array([[-0.1, 1.1]]),
                np.ones(3)):
        with pytest.raises(ValueError, match="class probabilities"):
            class_prior(bad)


def test_set_prior_checks_its_input_and_needs_a_bridge_built_with_one():
    names = torch.from_numpy(_unit(np.random.default_rng(7).normal(size=(5, 3))))
    bridge = ConseBridge(names, top_k=2, prior=torch.ones(5))
    bridge.set_prior(torch.tensor([1.0, 2.0, 3.0, 2.0, 2.0]))
    assert bridge.prior.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.2, 0.2])  # normalised
    for bad in (torch.ones(4), torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0]),
                torch.tensor([1.0, float("inf"), 1.0, 1.0, 1.0])):
        with pytest.raises(ValueError, match="class prior must be"):
            bridge.set_prior(bad)
    with pytest.raises(ValueError, match="without a class prior"):
        ConseBridge(names, top_k=2).set_prior(torch.ones(5))
    assert not ConseBridge(names, top_k=2).has_prior and bridge.has_prior


def test_text_class_mix_equals_the_float64_formula():
    rng = np.random.default_rng(8)
    names = _unit(rng.normal(size=(40, 6)))  # (C, d)
    texts = rng.normal(size=(5, 6)) * 3.0  # (n, d), not unit length
    got = TextClassMix(torch.from_numpy(names), top_k=4, tau=0.2)(torch.from_numpy(texts))
    for row, x in zip(got.numpy(), texts, strict=True):
        t = x / np.linalg.norm(x)
        cos = names @ t
        top = np.argsort(-cos)[:4]
        w = np.exp(cos[top] / 0.2) / np.exp(cos[top] / 0.2).sum()
        want = _unit(t + _unit((w[:, None] * names[top]).sum(0)))
        np.testing.assert_allclose(row, want, atol=1e-6)
    with pytest.raises(ValueError, match="tau"):
        TextClassMix(torch.from_numpy(names), tau=0.0)
    with pytest.raises(ValueError, match="top_k"):
        TextClassMix(torch.from_numpy(names), top_k=41)


def test_bridged_text_side_with_a_class_mix_is_its_mixed_vector():
    rng = np.random.default_rng(9)
    names = torch.from_numpy(_unit(rng.normal(size=(50, 6))))
    mix = TextClassMix(names, top_k=3)
    head = torch.nn.Linear(6, 4).double()
    txt = BridgedHead(head, split=6, weight=0.25, bridge=mix)
    x = torch.from_numpy(rng.normal(size=(3, 6)))
    with torch.no_grad():
        out = txt(x)
        torch.testing.assert_close(out[:, 4:], 0.5 * mix(x))
        torch.testing.assert_close(out[:, :4], np.sqrt(0.75) * torch.nn.functional.normalize(
            head(x), dim=-1))


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


def test_a_bridge_prior_is_saved_and_an_older_model_without_one_still_loads(tmp_path):
    from PIL import Image

    config = LiTConfig(towers={"image": "efficientnet-lite0+classes", "text": "minilm"}, dim=8,
                       bridge="imagenet", bridge_prior=True)
    model = LiTModel.build(config, load_tower=load_encoder, seed=0)
    bridge = model.heads["image"].bridge
    assert bridge.prior.tolist() == pytest.approx([1e-3] * 1000)  # uniform until fitted
    assert model.heads["text"].bridge is None  # bridge_text "plain"
    prior = torch.from_numpy(np.random.default_rng(6).dirichlet(np.ones(1000)) + 1e-4)
    bridge.set_prior(prior)
    loaded = load_encoder(f"lit:{model.save(tmp_path / 'with')}")
    torch.testing.assert_close(loaded.model.heads["image"].bridge.prior, prior.float() /
                               prior.float().sum())
    images = [Image.new("RGB", (40, 40), c) for c in [(250, 200, 10), (10, 90, 30)]]
    from xmodal.encoders import LiTEncoder

    np.testing.assert_allclose(loaded.encode_image(images),
                               LiTEncoder(model, name="m").encode_image(images), atol=1e-6)
    # a model saved before the prior existed: no key in config.json, no buffer in the weights
    old = LiTModel.build(dataclasses.replace(config, bridge_prior=False),
                         load_tower=load_encoder, seed=0).save(tmp_path / "old")
    data = json.loads((old / "config.json").read_text())
    del data["bridge_prior"]
    (old / "config.json").write_text(json.dumps(data))
    assert not load_encoder(f"lit:{old}").model.heads["image"].bridge.has_prior


def test_a_model_with_the_text_class_mix_saves_and_loads(tmp_path):
    config = LiTConfig(towers={"image": "efficientnet-lite0+classes", "text": "minilm"}, dim=8,
                       bridge="imagenet", bridge_weight=0.5, bridge_text="classes")
    model = LiTModel.build(config, load_tower=load_encoder, seed=0)
    mix = model.heads["text"].bridge
    assert isinstance(mix, TextClassMix)
    torch.testing.assert_close(mix.classes, model.heads["image"].bridge.classes)
    enc = load_encoder(f"lit:{model.save(tmp_path / 'mixed')}")
    texts = ["a red bicycle", "a dog barking"]
    got = enc.encode_text(texts)
    minilm = torch.from_numpy(load_encoder("minilm").encode_text(texts))
    np.testing.assert_allclose(got[:, 8:], np.sqrt(0.5) * mix(minilm).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="bridge_text"):
        LiTConfig(towers={"image": "a", "text": "b"}, bridge="imagenet", bridge_text="words")
