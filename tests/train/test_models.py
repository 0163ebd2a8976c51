"""The trainable adapters against their inference encoders: what ``prepare``/``embed`` compute
equals what ``encode_*`` computes, frozen layers are exactly the ones asked for, and a saved run
loads back through ``load_encoder`` with the trained weights and temperature."""

from __future__ import annotations

import warnings
import wave as wavefile

import numpy as np
import pytest
import torch
from torch import nn

from tests.encoders.conftest import build_tiny_st
from tests.encoders.hf_tiny import build_tiny_clip, build_tiny_siglip, build_tiny_siglip2
from xmodal.data.augment import AudioAugment
from xmodal.data.pairs import PairDataset
from xmodal.encoders import FeatureCache, LiTConfig, LiTModel, load_encoder
from xmodal.train import (
    HFDualTrainable,
    LiTTrainable,
    SentenceTransformerTrainable,
    TensorBatch,
    TowerPair,
    TrainConfig,
    Trainer,
    make_loss,
)

ATOL = 1e-5


def _train(model, out, data, **overrides):
    base = dict(data="test", batch_size=4, steps=2, lr=1e-4, progress=False, out=str(out),
                log_every=1, checkpoint_every=100)
    cfg = TrainConfig(**{**base, **overrides})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small-batch and fine-tuning guards
        return Trainer(model, make_loss(cfg), cfg, data=data).fit()


def _eval_embed(model, side, items):
    model.module.eval()
    with torch.no_grad():
        return model.embed(side, model.prepare(side, items)).numpy()


# --- HFDualTrainable: tiny CLIP and SigLIP


def _pngs(folder, n=6, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):  # not 32x32: the processor resizes and crops as at inference
        pixels = rng.integers(0, 256, size=(30 + 3 * i, 45, 3), dtype=np.uint8)
        path = folder / f"img{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


CLIP_CAPTIONS = ["a dog", "a red car on the street", "the quick brown fox", "a bird",
                 "music", "rain on the street"]
# upper-case words have their own ids in the tiny SigLIP vocabulary: lower-casing shows
SIGLIP_CAPTIONS = ["A DOG", "a RED car on THE street", "the quick brown fox", "a bird",
                   "MUSIC", "rain on the street"]

FAMILIES = {
    "clip": (build_tiny_clip, CLIP_CAPTIONS),
    "siglip": (build_tiny_siglip, SIGLIP_CAPTIONS),
    "siglip2": (build_tiny_siglip2, SIGLIP_CAPTIONS),  # NaFlex: pixel mask and spatial shapes
}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return _pngs(tmp_path_factory.mktemp("pngs"))


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def hf_folder(request, tmp_path_factory):
    build, captions = FAMILIES[request.param]
    return request.param, build(tmp_path_factory.mktemp(f"tiny_{request.param}")), captions


def _prefix(family):
    return "hf-clip" if family == "clip" else "hf-siglip"


def _hf_encoder(hf_folder):
    family, folder, _ = hf_folder
    return load_encoder(f"{_prefix(family)}:{folder}")


def test_hf_prepare_embed_equals_the_inference_encoder(hf_folder, images):
    family, _, captions = hf_folder
    encoder = _hf_encoder(hf_folder)
    model = HFDualTrainable(encoder)
    assert model.module.training  # the adapter trains
    texts = _eval_embed(model, 1, captions)
    np.testing.assert_allclose(texts, encoder.encode_text(captions), atol=ATOL)
    np.testing.assert_allclose(_eval_embed(model, 0, images), encoder.encode_image(images),
                               atol=ATOL)
    if family != "clip":  # padded to the full context, as SigLIP was trained
        ids = model.prepare(1, captions)["input_ids"]
        assert ids.shape[1] == encoder.card.max_text_tokens
        np.testing.assert_allclose(_eval_embed(model, 1, [c.lower() for c in captions]), texts,
                                   atol=ATOL)


def test_hf_prepared_batches_slice_by_rows(hf_folder, images):
    _, _, captions = hf_folder
    model = HFDualTrainable(_hf_encoder(hf_folder))
    model.module.eval()
    for side, items in ((0, images), (1, captions)):
        batch = model.prepare(side, items)
        assert isinstance(batch, TensorBatch) and len(batch) == len(items)
        with torch.no_grad():
            whole = model.embed(side, batch)
            parts = torch.cat([model.embed(side, batch[s : s + 2]) for s in (0, 2, 4)])
        torch.testing.assert_close(parts, whole, atol=ATOL, rtol=0)


def test_hf_freeze_layers_freezes_embeddings_and_the_first_layers_only(hf_folder):
    model = HFDualTrainable(_hf_encoder(hf_folder))
    names = model.freeze_layers(1)
    assert sorted(names) == [f"{t}.{m}" for t in ("text_model", "vision_model")
                             for m in ("embeddings", "encoder.layers.0")]
    frozen = {n for n, p in model.module.named_parameters() if not p.requires_grad}
    expected = {n for n, _ in model.module.named_parameters()
                if n.split(".")[0] in ("vision_model", "text_model")
                and (n.split(".")[1] == "embeddings" or n.split(".")[1:4] == ["encoder",
                                                                               "layers", "0"])}
    assert expected and frozen == expected
    assert any(".layers.1." in n for n, p in model.module.named_parameters() if p.requires_grad)


def test_hf_trained_model_saves_and_loads_with_its_temperature(hf_folder, images, tmp_path):
    family, _, captions = hf_folder
    encoder = _hf_encoder(hf_folder)
    model = HFDualTrainable(encoder)
    before = encoder.encode_text(captions)
    data = PairDataset(anchors=tuple(images), positives=tuple(captions), negatives=None,
                       anchor_modality="image", name="tiny")
    result = _train(model, tmp_path / "run", data, loss="clip" if family == "clip" else "siglip",
                    mini_batch_size=2)  # GradCache: the prepared batches are sliced
    assert result.model_path is not None
    loaded = load_encoder(f"{_prefix(family)}:{result.model_path}")
    assert loaded.card.logit_scale == pytest.approx(1 / result.temperature, rel=1e-5)
    trained = _eval_embed(model, 1, captions)
    assert np.abs(trained - before).max() > 1e-4  # the weights moved
    np.testing.assert_allclose(loaded.encode_text(captions), trained, atol=ATOL)
    np.testing.assert_allclose(loaded.encode_image(images), _eval_embed(model, 0, images),
                               atol=ATOL)
    if family != "clip":
        assert result.logit_bias is not None
        assert float(loaded.model.logit_bias.detach()) == pytest.approx(result.logit_bias, rel=1e-5)
        assert loaded.card.logit_bias == pytest.approx(result.logit_bias, rel=1e-5)


# --- SentenceTransformerTrainable

ST_QUERIES = ["a dog barking", "the quick brown fox jumps over the lazy dog", "music",
              "a red car parked on the street"]
ST_DOCS = ["a big dog", "a brown fox", "singing bird sound", "a car in the street"]


@pytest.fixture(scope="module", params=["plain", "prompts", "prompts-not-pooled"])
def st_folder(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"st_{request.param}")
    prompts = None if request.param == "plain" else {"query": "query: ", "document": "passage: "}
    folder = build_tiny_st(root, prompts=prompts)
    if request.param == "prompts-not-pooled":  # mean pooling leaves the prompt's tokens out
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), local_files_only=True)
        model[1].include_prompt = False
        folder = root / "st-excluded"
        model.save_pretrained(str(folder))
    return folder


def test_st_prepare_embed_equals_query_and_document_encoding(st_folder):
    encoder = load_encoder(f"st:{st_folder}")
    model = SentenceTransformerTrainable(encoder)
    assert model.module.training
    queries, docs = _eval_embed(model, 0, ST_QUERIES), _eval_embed(model, 1, ST_DOCS)
    np.testing.assert_allclose(queries, encoder.encode_query(ST_QUERIES), atol=ATOL)
    np.testing.assert_allclose(docs, encoder.encode_document(ST_DOCS), atol=ATOL)
    if encoder.card.query_prompt:  # the prompts made a difference
        assert np.abs(queries - encoder.encode_text(ST_QUERIES)).max() > 1e-4
        assert np.abs(docs - encoder.encode_text(ST_DOCS)).max() > 1e-4
    batch = model.prepare(0, ST_QUERIES)
    with torch.no_grad():
        parts = torch.cat([model.embed(0, batch[:1]), model.embed(0, batch[1:])])
    np.testing.assert_allclose(parts.numpy(), queries, atol=ATOL)


def test_st_freeze_layers(st_folder):
    model = SentenceTransformerTrainable(load_encoder(f"st:{st_folder}"))
    model.freeze_layers(1)
    frozen = {n for n, p in model.module.named_parameters() if not p.requires_grad}
    assert frozen
    assert all(".embeddings." in n or ".encoder.layer.0." in n for n in frozen), frozen
    assert all(not p.requires_grad for n, p in model.module.named_parameters()
               if ".embeddings." in n or ".encoder.layer.0." in n)
    assert any(".encoder.layer.1." in n for n, p in model.module.named_parameters()
               if p.requires_grad)


def test_st_trained_model_saves_and_loads(st_folder, tmp_path):
    encoder = load_encoder(f"st:{st_folder}")
    model = SentenceTransformerTrainable(encoder)
    before = encoder.encode_query(ST_QUERIES)
    data = PairDataset(anchors=tuple(ST_QUERIES), positives=tuple(ST_DOCS), negatives=None,
                       anchor_modality="text", name="tiny")
    result = _train(model, tmp_path / "run", data, loss="infonce", lr=1e-3)
    loaded = load_encoder(f"st:{result.model_path}")
    assert loaded.card.query_prompt == encoder.card.query_prompt
    assert loaded.card.document_prompt == encoder.card.document_prompt
    trained = _eval_embed(model, 0, ST_QUERIES)
    assert np.abs(trained - before).max() > 1e-4
    np.testing.assert_allclose(loaded.encode_query(ST_QUERIES), trained, atol=ATOL)
    np.testing.assert_allclose(loaded.encode_document(ST_DOCS), _eval_embed(model, 1, ST_DOCS),
                               atol=ATOL)


# --- LiTTrainable over the packaged aisfx and minilm towers

RATE = 44100
CLIP_CAPTIONS_AUDIO = ["a low hum", "a high whistle", "a beep", "a siren"]


def _wavs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (freq, seconds) in enumerate([(220, 1.0), (880, 1.5), (440, 1.2), (1500, 2.0)]):
        t = np.arange(int(RATE * seconds)) / RATE
        pcm = (0.4 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
        path = folder / f"clip{i}.wav"
        with wavefile.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm.tobytes())
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def lit_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("lit")
    config = LiTConfig(towers={"audio": "aisfx", "text": "minilm"}, dim=32)
    return LiTModel.build(config, load_tower=load_encoder, seed=0), _wavs(root / "wavs"), root


def _counting(lit):
    """Count the items each tower embeds (wrapping the towers' encode_* in place)."""
    calls = {"audio": 0, "text": 0}
    for modality, tower in lit.towers.items():
        name = f"encode_{modality}"
        method = tower.__dict__.get(name) or getattr(tower, name)

        def counted(items, _m=method, _k=modality, **kw):
            calls[_k] += len(items)
            return _m(items, **kw)

        setattr(tower, name, counted)
    return calls


def test_lit_prepare_is_the_tower_features_and_embed_the_projection(lit_setup):
    lit, clips, root = lit_setup
    cache = FeatureCache(root / "cache_plain")
    model = LiTTrainable(lit, cache=cache)
    assert model.modalities == ("audio", "text")
    assert not any(p.requires_grad for t in lit.towers.values()
                   for p in getattr(t, "model", nn.Identity()).parameters())
    feats = model.prepare(0, clips)
    np.testing.assert_allclose(feats.numpy(), lit.tower_features("audio", clips), atol=ATOL)
    np.testing.assert_allclose(feats.numpy(), lit.tower_features("audio", clips, cache=cache),
                               atol=ATOL)
    text = model.prepare(1, CLIP_CAPTIONS_AUDIO)
    np.testing.assert_allclose(text.numpy(), lit.tower_features("text", CLIP_CAPTIONS_AUDIO),
                               atol=ATOL)
    assert cache.count("aisfx", "audio") == 4 and cache.count("minilm", "text") == 4
    with torch.no_grad():
        torch.testing.assert_close(model.embed(0, feats), lit.project("audio", feats))
        torch.testing.assert_close(model.embed(1, text), lit.project("text", text))
        out = model.embed(0, feats[1:3])
    assert out.shape == (2, 32)
    np.testing.assert_allclose(out.norm(dim=-1).numpy(), 1.0, atol=1e-6)
    assert model.freeze_layers(2) == []


def test_lit_augmented_variants_are_cached_and_chosen_per_step(lit_setup):
    lit, clips, root = lit_setup
    cache = FeatureCache(root / "cache_aug")
    model = LiTTrainable(lit, cache=cache, augment=AudioAugment(p=1.0), copies=2, seed=3)
    original = lit.tower_features("audio", clips)
    picks = {}
    for step in range(6):
        feats = model.prepare(0, clips, step=step).numpy()
        for i, clip in enumerate(clips):
            options = [original[i], model._memo[0][(clip, 1)], model._memo[0][(clip, 2)]]
            match = [k for k, o in enumerate(options) if np.allclose(feats[i], o, atol=ATOL)]
            assert match, (step, i)
            picks.setdefault(i, []).append(match[0])
    assert cache.count("aisfx", "audio") == 4 * 3  # originals and two variants each
    variants = np.stack([model._memo[0][(c, k)] for c in clips for k in (1, 2)])
    assert np.abs(variants - np.repeat(original, 2, axis=0)).max(axis=1).min() > 1e-4
    assert any(len(set(p)) > 1 for p in picks.values())  # the choice changes across steps

    again = LiTTrainable(lit, cache=cache, augment=AudioAugment(p=1.0), copies=2, seed=3)
    calls = _counting(lit)
    try:
        for step in range(6):
            np.testing.assert_array_equal(again.prepare(0, clips, step=step).numpy(),
                                          model.prepare(0, clips, step=step).numpy())
        assert calls == {"audio": 0, "text": 0}  # everything came from the cache
        lit.tower_features("audio", clips[:1])  # the counter counts
        assert calls == {"audio": 1, "text": 0}
    finally:
        for modality, tower in lit.towers.items():
            tower.__dict__.pop(f"encode_{modality}", None)
    assert cache.count("aisfx", "audio") == 12


def test_lit_training_saves_a_lit_folder_with_the_trained_scale(lit_setup, tmp_path):
    lit, clips, root = lit_setup
    fresh = LiTModel(lit.config, lit.towers, seed=1)  # the module fixture's heads stay as built
    model = LiTTrainable(fresh, cache=FeatureCache(root / "cache_train"))
    data = PairDataset(anchors=tuple(clips), positives=tuple(CLIP_CAPTIONS_AUDIO),
                       negatives=None, anchor_modality="audio", name="tones")
    result = _train(model, tmp_path / "run", data, lr=1e-2, steps=3)
    loaded = load_encoder(f"lit:{result.model_path}")
    assert loaded.card.family == "lit" and loaded.card.modalities == ("text", "audio")
    assert loaded.card.logit_scale == pytest.approx(1 / result.temperature, rel=1e-5)
    assert result.temperature != pytest.approx(0.07)  # the temperature learnt
    np.testing.assert_allclose(loaded.encode_audio(clips), _eval_embed(model, 0, clips),
                               atol=ATOL)
    np.testing.assert_allclose(loaded.encode_text(CLIP_CAPTIONS_AUDIO),
                               _eval_embed(model, 1, CLIP_CAPTIONS_AUDIO), atol=ATOL)


def test_lit_refuses_an_augmentation_of_the_other_modality(lit_setup):
    from xmodal.data.image_augment import ImageAugment

    lit, _, _ = lit_setup
    with pytest.raises(ValueError, match="ImageAugment cannot augment the audio tower"):
        LiTTrainable(lit, augment=ImageAugment())


def test_lit_training_fits_the_bridge_prior_to_the_training_images(tmp_path):
    from xmodal.encoders.bridge import class_prior

    config = LiTConfig(towers={"image": "efficientnet-lite0+classes", "text": "minilm"}, dim=8,
                       bridge="imagenet", bridge_prior=True)
    lit = LiTModel.build(config, load_tower=load_encoder, seed=0)
    model = LiTTrainable(lit, cache=FeatureCache(tmp_path / "cache"))
    images = _pngs(tmp_path / "png", n=6)
    data = PairDataset(anchors=tuple(images), positives=tuple(CLIP_CAPTIONS), negatives=None,
                       anchor_modality="image", name="noise")
    result = _train(model, tmp_path / "run", data, steps=2, checkpoint_every=1)
    probs = lit.tower_features("image", images)[:, 1280:]  # (6, 1000), stored p / |p|
    bridge = lit.heads["image"].bridge
    np.testing.assert_allclose(bridge.prior.numpy(), (probs / probs.sum(1, keepdims=True))
                               .mean(0) / (probs / probs.sum(1, keepdims=True)).mean(0).sum(),
                               rtol=1e-5)
    assert float(bridge.prior.max()) > 10 * float(bridge.prior.min())  # not the uniform start
    loaded = load_encoder(f"lit:{result.model_path}")
    torch.testing.assert_close(loaded.model.heads["image"].bridge.prior, bridge.prior)
    # a resumed run keeps its checkpoint's prior (fitted at step 0), even on other images
    fitted = bridge.prior.clone()
    others = _pngs(tmp_path / "others", n=6, seed=5)
    other_data = PairDataset(anchors=tuple(others), positives=tuple(CLIP_CAPTIONS),
                             negatives=None, anchor_modality="image", name="other noise")
    again = LiTModel.build(config, load_tower=load_encoder, seed=0)
    _train(LiTTrainable(again, cache=FeatureCache(tmp_path / "cache")), tmp_path / "run",
           other_data, steps=3, checkpoint_every=1)
    torch.testing.assert_close(again.heads["image"].bridge.prior, fitted)
    refit = class_prior(lit.tower_features("image", others)[:, 1280:])
    assert not torch.allclose(refit, fitted)  # a fresh fit would have given another


def test_lit_refuses_a_model_without_a_text_tower():
    class Fake:
        config = LiTConfig(towers={"audio": "aisfx", "image": "efficientnet-lite0"})

    with pytest.raises(ValueError, match="text tower"):
        LiTTrainable(Fake())


# --- TowerPair and TensorBatch


def test_tower_pair_shapes_and_unit_norm():
    torch.manual_seed(0)
    xa, xb = torch.randn(10, 6), torch.randn(10, 4)
    pair = TowerPair(nn.Linear(6, 3), nn.Linear(4, 3), lookup_a=lambda i: xa[i],
                     lookup_b=lambda t: xb[int(t)])
    a = pair.prepare(0, [2, 5, 7])
    b = pair.prepare(1, ["2", "5", "7"])
    torch.testing.assert_close(a, xa[[2, 5, 7]])
    assert b.shape == (3, 4)
    for side, batch in ((0, a), (1, b)):
        out = pair.embed(side, batch)
        assert out.shape == (3, 3)
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(3))
        torch.testing.assert_close(pair.embed(side, batch[1:]), out[1:])
    lin = pair.module[0]
    expected = torch.nn.functional.normalize(xa[[2, 5, 7]] @ lin.weight.T + lin.bias, dim=-1)
    torch.testing.assert_close(pair.embed(0, a), expected)


def test_tensor_batch_slices_and_moves():
    ids = torch.arange(12).reshape(4, 3)
    mask = torch.ones(4, 3, dtype=torch.long)
    batch = TensorBatch({"input_ids": ids, "attention_mask": mask})
    assert len(batch) == 4
    part = batch[1:3]
    assert isinstance(part, TensorBatch) and len(part) == 2
    torch.testing.assert_close(part["input_ids"], ids[1:3])
    torch.testing.assert_close(part["attention_mask"], mask[1:3])
    moved = batch.to("cpu")
    assert isinstance(moved, TensorBatch) and set(moved.tensors) == {"input_ids",
                                                                      "attention_mask"}
    torch.testing.assert_close(moved["input_ids"], ids)
    if torch.cuda.is_available():  # pragma: no cover - CPU test machines
        assert batch.to("cuda")["input_ids"].device.type == "cuda"
