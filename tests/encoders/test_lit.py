"""Locked-tower models: heads trained (by xmodal's Trainer) on a learnable toy task, save/load,
the ``lit:`` encoder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xmodal.encoders import (
    Encoder,
    EncoderLoadError,
    FeatureCache,
    LiTConfig,
    LiTEncoder,
    LiTModel,
    UnsupportedModalityError,
    load_encoder,
)

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 50, 220)}
SHAPES = ("dog", "cat", "bird")  # drawn as square, circle, triangle: vocabulary words of tiny_st
SIZES = {"big": 10, "small": 5}
CLASSES = [(c, s, z) for c in COLOURS for s in SHAPES for z in SIZES]  # 18: chance R@1 = 1/18


def draw(colour: str, shape: str, size: str, rng: np.random.Generator):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (32, 32), (235, 235, 235))
    r = SIZES[size] + int(rng.integers(-1, 2))
    cx, cy = (int(v) for v in rng.integers(r + 1, 31 - r, size=2))
    fill = tuple(int(np.clip(v + rng.integers(-20, 21), 0, 255)) for v in COLOURS[colour])
    pen = ImageDraw.Draw(img)
    if shape == "dog":
        pen.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "cat":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return img


def toy_pairs(folder, per_class: int, seed: int):
    """PNG files of coloured shapes and their captions ("a big red dog")."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, captions, labels = [], [], []
    for k in range(per_class):
        for label, (colour, shape, size) in enumerate(CLASSES):
            path = folder / f"{label}-{k}.png"
            draw(colour, shape, size, rng).save(path)
            paths.append(path)
            captions.append(f"a {size} {colour} {shape}")
            labels.append(label)
    return paths, captions, labels


def fit_heads(model, paths, captions, *, cache, group_ids, out, steps=150, batch_size=48,
              lr=3e-3, seed=0):
    """Train the heads and the temperature with xmodal's Trainer (CLIP loss, AdamW)."""
    import warnings

    from xmodal.data.pairs import PairDataset
    from xmodal.train import LiTTrainable, TrainConfig, Trainer, make_loss

    data = PairDataset(anchors=tuple(str(p) for p in paths), positives=tuple(captions),
                       negatives=None, anchor_modality="image", name="toy")
    cfg = TrainConfig(data="toy", steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                      schedule="constant", out=str(out), progress=False, resume=False,
                      log_every=steps, checkpoint_every=steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the batch-below-256 guard
        return Trainer(LiTTrainable(model, cache=cache), make_loss(cfg), cfg, data=data,
                       group_ids=group_ids).fit()


@pytest.fixture(scope="module")
def towers(tiny_st, tiny_clip):
    return {"text": f"st:{tiny_st}", "image": f"hf-clip:{tiny_clip}"}


@pytest.fixture(scope="module")
def fitted(towers, tmp_path_factory):
    root = tmp_path_factory.mktemp("lit_toy")
    train = toy_pairs(root / "train", per_class=8, seed=1)
    test = toy_pairs(root / "test", per_class=1, seed=2)
    model = LiTModel.build(LiTConfig(towers=towers, dim=32), load_tower=load_encoder, seed=0)
    cache = FeatureCache(root / "cache")
    result = fit_heads(model, train[0], train[1], group_ids=train[2], cache=cache,
                       out=root / "run")
    return model, result, test, cache, train


def recall_at_1(encoder, images, captions) -> float:
    img = encoder.encode_image(images)  # (n, d)
    txt = encoder.encode_text(captions)  # (n, d)
    return float(np.mean((txt @ img.T).argmax(axis=1) == np.arange(len(captions))))


def test_fit_decreases_the_loss_and_retrieves_held_out_images(fitted):
    model, result, (paths, captions, _), _, _ = fitted
    losses = np.asarray(result.losses)
    assert result.steps == 150 and np.isfinite(losses).all()
    assert losses[-15:].mean() < 0.5 * losses[:5].mean()
    assert result.temperature != pytest.approx(0.07)  # the temperature learnt too
    r1 = recall_at_1(LiTEncoder(model, name="toy"), paths, captions)
    assert r1 >= 5 / len(CLASSES), r1  # chance is 1/18


def test_save_load_gives_identical_vectors_and_a_lit_card(fitted, tmp_path):
    model, result, (paths, captions, _), _, _ = fitted
    folder = model.save(tmp_path / "toy-lit")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    enc = load_encoder(f"lit:{folder}")
    assert isinstance(enc, Encoder)
    before = LiTEncoder(model, name="toy")
    np.testing.assert_array_equal(enc.encode_image(paths), before.encode_image(paths))
    np.testing.assert_array_equal(enc.encode_text(captions), before.encode_text(captions))
    card = enc.card
    assert (card.family, card.dim, card.modalities) == ("lit", 32, ("text", "image"))
    assert card.name == f"lit:{folder}"
    assert card.logit_scale == pytest.approx(1 / result.temperature)
    vectors = enc.encode_query(["a big red dog"])
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1)


def test_bad_items_are_reported_through_the_tower(fitted):
    model, _, (paths, _, _), _, _ = fitted
    enc = LiTEncoder(model, name="toy")
    report = enc.encode_image([paths[0], b"not an image", paths[1]], errors="report")
    assert report.indices.tolist() == [0, 2] and report.vectors.shape == (2, 32)
    assert [p.index for p in report.failed] == [1]
    np.testing.assert_allclose(report.vectors, enc.encode_image(paths[:2]), atol=1e-6)
    with pytest.raises(ValueError, match="cannot embed"):
        enc.encode_image([b"not an image"])
    texts = enc.encode_text(["a red dog", "", "a cat"], errors="report")
    assert texts.indices.tolist() == [0, 2] and [p.index for p in texts.failed] == [1]
    with pytest.raises(UnsupportedModalityError, match="not audio"):
        enc.encode_audio([np.zeros(100, np.float32)])


def test_second_fit_reads_the_cache_and_is_deterministic(fitted, towers, tmp_path):
    _, result, _, cache, (paths, captions, labels) = fitted
    model = LiTModel.build(LiTConfig(towers=towers, dim=32), load_tower=load_encoder, seed=0)
    calls = []
    for modality, tower in model.towers.items():
        method = getattr(tower, f"encode_{modality}")
        setattr(tower, f"encode_{modality}",
                lambda items, _m=method, **kw: calls.append(len(items)) or _m(items, **kw))
    again = fit_heads(model, paths, captions, group_ids=labels, cache=cache, out=tmp_path)
    assert calls == []  # no tower ran
    assert again.losses == result.losses


def test_mlp_head_round_trip(towers, tmp_path):
    model = LiTModel.build(LiTConfig(towers=towers, dim=8, head="mlp", hidden=16),
                           load_tower=load_encoder, seed=3)
    folder = model.save(tmp_path / "mlp")
    loaded = LiTModel.load(folder, load_tower=load_encoder)
    assert loaded.config == model.config and loaded.config.head == "mlp"
    a = LiTEncoder(model, name="a").encode_text(["a red dog"])
    np.testing.assert_array_equal(a, LiTEncoder(loaded, name="b").encode_text(["a red dog"]))


def test_max_pixels_is_the_image_towers(towers):
    from PIL import Image

    enc = LiTEncoder(LiTModel.build(LiTConfig(towers=towers, dim=8), load_tower=load_encoder),
                     name="px")
    assert enc.max_pixels == enc.model.towers["image"].max_pixels == 50_000_000
    enc.max_pixels = 100
    assert enc.model.towers["image"].max_pixels == 100
    got = enc.encode_image([Image.new("RGB", (11, 10)), Image.new("RGB", (10, 10))],
                           errors="report")
    assert got.indices.tolist() == [1] and "over the limit of 100" in got.failed[0].reason


def test_unloadable_tower_is_a_clear_error(towers, tmp_path):
    folder = LiTModel.build(LiTConfig(towers=towers, dim=8), load_tower=load_encoder).save(
        tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["towers"]["text"] = "st:/nonexistent/tower"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(EncoderLoadError, match="text tower 'st:/nonexistent/tower'"):
        load_encoder(f"lit:{folder}")
    with pytest.raises(EncoderLoadError, match="not a LiT model folder"):
        load_encoder(f"lit:{tmp_path / 'missing'}")
    with pytest.raises(EncoderLoadError, match="does not embed image"):
        LiTModel.build(LiTConfig(towers={"text": towers["text"], "image": towers["text"]}),
                       load_tower=load_encoder)


def test_heads_fitted_to_other_towers_are_refused(towers, tiny_clip, tmp_path):
    folder = LiTModel.build(LiTConfig(towers=towers, dim=8), load_tower=load_encoder).save(
        tmp_path / "m")
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    config = json.loads((other / "config.json").read_text())
    config["towers"]["text"] = f"hf-clip:{tiny_clip}"  # 24-d, the heads expect tiny_st's 32-d
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(EncoderLoadError, match=r"fitted to other towers"):
        LiTModel.load(other, load_tower=load_encoder)


def test_config_is_validated():
    with pytest.raises(ValueError, match="2 or 3"):
        LiTConfig(towers={"text": "minilm"})
    with pytest.raises(ValueError, match="head"):
        LiTConfig(towers={"text": "minilm", "image": "x"}, head="deep")
    cfg = LiTConfig(towers={"image": "efficientnet-lite0", "text": "minilm"})
    assert list(cfg.towers) == ["text", "image"]  # canonical order


def test_audio_text_model_with_a_clap_tower(tiny_clap, tiny_st):
    from .hf_tiny import CLAP_RATE

    model = LiTModel.build(LiTConfig(towers={"audio": f"hf-clap:{tiny_clap}",
                                             "text": f"st:{tiny_st}"}, dim=8),
                           load_tower=load_encoder)
    enc = LiTEncoder(model, name="toy-audio")
    assert enc.card.sample_rate == CLAP_RATE and enc.card.modalities == ("text", "audio")
    wave = np.sin(np.arange(CLAP_RATE) * 0.3).astype(np.float32)
    assert enc.encode_audio([wave, (wave, CLAP_RATE)]).shape == (2, 8)
