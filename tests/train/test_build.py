"""From a config to a run: the caption-wise held-out split, synthetic and mined negatives,
dedup, and whole runs (text–text with a tiny sentence-transformers model, image–text LiT)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.train.conftest import text_pairs, write_jsonl
from xmodal.data.dedup import normalize_caption
from xmodal.data.pairs import PairDataset, load_pairs
from xmodal.train.build import build_negatives, build_run, split_holdout, train_from_config
from xmodal.train.config import TrainConfig


def _text_data(captions, anchors=None) -> PairDataset:
    anchors = anchors or [f"q{i}" for i in range(len(captions))]
    return PairDataset(anchors=tuple(anchors), positives=tuple(captions), negatives=None,
                       anchor_modality="text", name="t")


# --- split_holdout

def _many() -> PairDataset:
    captions = [f"caption number {i // 2}" for i in range(1000)]  # 500 captions, 2 rows each
    captions = [c.upper() if i % 4 == 1 else c for i, c in enumerate(captions)]  # same, normed
    return _text_data(captions)


def test_split_keeps_each_caption_on_one_side():
    train, test = split_holdout(_many(), 0.3)
    assert test is not None and len(train) + len(test) == 1000
    train_keys = {normalize_caption(c) for c in train.positives}
    test_keys = {normalize_caption(c) for c in test.positives}
    assert not train_keys & test_keys
    assert sorted(train.anchors + test.anchors) == sorted(_many().anchors)  # rows intact


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_split_takes_about_the_fraction(fraction):
    data = _text_data([f"a distinct caption {i}" for i in range(1000)])
    _, test = split_holdout(data, fraction)
    assert abs(len(test) / 1000 - fraction) <= 0.05


def test_split_is_deterministic():
    a_train, a_test = split_holdout(_many(), 0.2)
    b_train, b_test = split_holdout(_many(), 0.2)
    assert a_train == b_train and a_test == b_test


def test_split_zero_is_no_split():
    data = _many()
    assert split_holdout(data, 0.0) == (data, None)


def test_split_that_leaves_a_side_empty_is_an_error():
    with pytest.raises(ValueError, match="holdout"):
        split_holdout(_text_data(["one caption", "one caption"]), 0.5)  # one caption: one side
    with pytest.raises(ValueError, match="holdout"):
        split_holdout(_text_data([f"c{i}" for i in range(5)]), 1e-9)


# --- synthetic negatives

SWAPPABLE = ["a red car on the street", "two big dogs in the park", "a small blue cup",
             "three green birds on a roof", "a white cat behind the door",
             "a big yellow bus near a house"]
PLAIN = ["music", "sound", "lazy text", "query passage", "jumps", "passage text"]


def _grouped():
    """Each group: a caption with attribute swaps and one without (topped up)."""
    captions = [c for pair in zip(SWAPPABLE, PLAIN, strict=True) for c in pair]
    groups = np.repeat(np.arange(len(SWAPPABLE)), 2)
    return _text_data(captions), groups


def _synthetic(data, groups, seed=0, m=3):
    cfg = TrainConfig(data="/d", hard_negatives="synthetic", negatives_per_row=m, seed=seed)
    return build_negatives(cfg, data, groups)


def test_synthetic_negatives_per_row_and_never_the_own_group():
    data, groups = _grouped()
    rows = _synthetic(data, groups)
    assert len(rows) == len(data)
    for i, row in enumerate(rows):
        assert len(row) == 3 and len(set(row)) == 3
        own = {data.positives[j] for j in np.flatnonzero(groups == groups[i])}
        assert not own & set(row), (i, row)


def test_synthetic_top_up_comes_from_other_groups():
    data, groups = _grouped()
    rows = _synthetic(data, groups)
    group_of = dict(zip(data.positives, groups, strict=True))
    for i in range(1, len(data), 2):  # the plain captions: every negative is a top-up
        assert all(neg in group_of and group_of[neg] != groups[i] for neg in rows[i])
    swapped = [neg for i in range(0, len(data), 2) for neg in rows[i] if neg not in group_of]
    assert swapped  # the swappable captions did get attribute swaps


def test_synthetic_is_deterministic_by_seed():
    data, groups = _grouped()
    assert _synthetic(data, groups, seed=3) == _synthetic(data, groups, seed=3)
    assert _synthetic(data, groups, seed=3) != _synthetic(data, groups, seed=4)


def test_top_up_with_too_few_other_groups_is_an_error_not_a_hang():
    from xmodal.train.build import _top_up

    data = PairDataset(anchors=("a", "b", "c"), positives=("x", "y", "z"), negatives=None,
                       anchor_modality="text", name="t")
    groups = np.array([0, 0, 1])
    rows = _top_up([[], [], []], data, groups, 1, seed=0)
    assert rows[0] == ("z",) and rows[1] == ("z",) and rows[2][0] in ("x", "y")
    with pytest.raises(ValueError, match="row 0 needs 2 negatives but only 1"):
        _top_up([[], [], []], data, groups, 2, seed=0)


def test_no_negatives_for_none_and_data():
    data, groups = _grouped()
    for source in ("none", "data"):
        assert build_negatives(TrainConfig(hard_negatives=source), data, groups) is None


# --- mined negatives

def test_mined_negatives_are_other_rows_captions(tiny_st):
    pairs = text_pairs(30)
    data = _text_data([p for _, p in pairs], [a for a, _ in pairs])
    groups = np.arange(len(data))
    cfg = TrainConfig(data="/d", model=f"st:{tiny_st}", hard_negatives="mined",
                      mine_with=f"st:{tiny_st}", negatives_per_row=2)
    rows = build_negatives(cfg, data, groups)
    assert len(rows) == len(data)
    captions = set(data.positives)
    for i, row in enumerate(rows):
        assert len(row) == 2 and len(set(row)) == 2
        assert set(row) <= captions and data.positives[i] not in row, (i, row)


# --- whole runs

def _config(tmp_path, data, **overrides) -> TrainConfig:
    base = dict(data=data, out=str(tmp_path / "run"), steps=3, batch_size=4, lr=1e-3,
                progress=False, log_every=1, checkpoint_every=10, resume=False)
    return TrainConfig(**{**base, **overrides})


def _pairs_with_duplicates(tmp_path):
    """40 pairs, plus exact copies of 3 rows whose captions fall on the training side."""
    rows = text_pairs(40)
    train, _ = split_holdout(_text_data([p for _, p in rows], [a for a, _ in rows]), 0.2)
    picked = [(a, p) for a, p in rows if p in set(train.positives)][:3]
    return write_jsonl(tmp_path / "pairs.jsonl", rows + picked), len(train)


def test_build_run_dedups_and_fits_text_pairs(tmp_path, tiny_st):
    path, n_train = _pairs_with_duplicates(tmp_path)
    cfg = _config(tmp_path, path, model=f"st:{tiny_st}", dedup=True, holdout=0.2)
    run = build_run(cfg)
    assert len(load_pairs(path)) == 43
    assert len(run.train) == n_train  # the 3 planted copies are gone, nothing else
    assert run.held_out is not None and len(run.train) + len(run.held_out) == 40
    assert not set(run.train.positives) & set(run.held_out.positives)
    assert run.dedup is not None and len(run.dedup.removed) == 3
    report = (tmp_path / "run" / "dedup.txt").read_text()
    assert "removed 3 (exact 3" in report
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run.trainer.fit()
    assert result.steps == 3 and len(result.losses) == 3
    assert all(np.isfinite(result.losses))
    assert result.model_path is not None and result.model_path.is_dir()


def test_without_dedup_the_copies_stay(tmp_path, tiny_st):
    path, n_train = _pairs_with_duplicates(tmp_path)
    run = build_run(_config(tmp_path, path, model=f"st:{tiny_st}", dedup=False, holdout=0.2))
    assert len(run.train) == n_train + 3 and run.dedup is None
    assert not (tmp_path / "run" / "dedup.txt").exists()


def test_train_from_config_measures_the_held_out_split(tmp_path, tiny_st):
    path = write_jsonl(tmp_path / "pairs.jsonl", text_pairs(40))
    cfg = _config(tmp_path, path, model=f"st:{tiny_st}", holdout=0.2, steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, figures = train_from_config(cfg)
    assert result.steps == 2 and figures is not None
    _, held_out = split_holdout(load_pairs(path), 0.2)
    n_captions = len({normalize_caption(p) for p in held_out.positives})
    assert figures.n_captions == n_captions
    assert figures.n_items == len(set(held_out.anchors)) == len(held_out)
    assert figures.chance_to_text_at_10 == pytest.approx(min(1.0, 10 / n_captions))
    for table in (figures.to_text, figures.from_text):
        assert set(table) == {1, 5, 10}
        assert all(0.0 <= v <= 1.0 for v in table.values())
        assert table[1] <= table[5] <= table[10]


def test_train_from_config_without_holdout_has_no_figures(tmp_path, tiny_st):
    path = write_jsonl(tmp_path / "pairs.jsonl", text_pairs(12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, figures = train_from_config(_config(tmp_path, path, model=f"st:{tiny_st}", steps=1))
    assert figures is None


def test_build_run_needs_data(tmp_path):
    with pytest.raises(ValueError, match="no data"):
        build_run(TrainConfig(out=str(tmp_path)))


def test_lit_refuses_text_text_data(tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", text_pairs(8))
    with pytest.raises(ValueError, match="st:PATH"):
        build_run(_config(tmp_path, path, model="lit", dedup=False))


def _image_folder(folder, n=24):
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        Image.new("RGB", (32, 32), colour).save(folder / f"img{i:02d}.png")
        (folder / f"img{i:02d}.txt").write_text(f"a picture of colour number {i}\n")
    return str(folder)


def test_lit_image_text_run_saves_a_loadable_model(tmp_path):
    from xmodal.encoders import load_encoder

    data = _image_folder(tmp_path / "images")
    cfg = _config(tmp_path, data, model="lit", towers=("efficientnet-lite0", "minilm"), dim=64,
                  batch_size=8, steps=3, feature_cache=str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, figures = train_from_config(cfg)
    assert result.steps == 3 and figures is None and result.model_path is not None
    encoder = load_encoder("lit:" + str(result.model_path))
    vectors = np.asarray(encoder.encode_image([str(tmp_path / "images" / "img00.png")]))
    assert vectors.shape == (1, cfg.dim)
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-4)


def test_near_duplicate_images_are_merged_by_tower_features(tmp_path):
    # img00 copied with one pixel changed (a different file hash, the same picture) under the
    # same caption: only dedup_threshold catches it, through EfficientNet's features.
    from PIL import Image

    folder = tmp_path / "images"
    _image_folder(folder, n=12)
    img = Image.open(folder / "img00.png").convert("RGB")
    img.putpixel((0, 0), (0, 0, 0))
    img.save(folder / "img99.png")
    (folder / "img99.txt").write_text("a picture of colour number 0\n")
    base = dict(model="lit", towers=("efficientnet-lite0", "minilm"), dim=16, batch_size=4,
                steps=1, feature_cache=str(tmp_path / "cache"))
    exact = build_run(_config(tmp_path / "a", str(folder), **base))
    assert len(exact.train) == 13 and not exact.dedup.removed
    near = build_run(_config(tmp_path / "b", str(folder), dedup_threshold=0.98, **base))
    assert len(near.train) == 12
    (removal,) = near.dedup.removed
    assert removal.kept_as is not None and removal.similarity > 0.98
    assert "near duplicate" in removal.reason


def test_image_augment_runs_and_caches_variants_of_every_image(tmp_path):
    from PIL import Image

    from xmodal.data.image_augment import ImageAugment
    from xmodal.encoders import FeatureCache

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):  # random pixels: every crop and flip is new content
        pixels = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")
        (folder / f"img{i}.txt").write_text(f"noise picture number {i}\n")
    data = str(folder)
    cfg = _config(tmp_path, data, model="lit", towers=("efficientnet-lite0", "minilm"), dim=16,
                  batch_size=4, steps=2, image_augment=True, augment_copies=2,
                  feature_cache=str(tmp_path / "cache"))
    run = build_run(cfg)
    assert isinstance(run.trainer.model.augment, ImageAugment)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 2-step run on noise: the collapse monitor speaks
        run.trainer.fit()
    # the 8 originals and 2 variants each, cached by content
    assert FeatureCache(tmp_path / "cache").count("efficientnet-lite0", "image") == 8 * 3


@pytest.mark.parametrize(("flag", "towers", "data_kind"), [
    ("audio_augment", ("efficientnet-lite0", "minilm"), "image"),
    ("image_augment", ("aisfx", "minilm"), "audio")])
def test_augmentation_of_the_other_modality_is_refused(tmp_path, flag, towers, data_kind):
    from xmodal.train.build import _augmentation

    cfg = TrainConfig(model="lit", towers=towers, **{flag: True})
    with pytest.raises(ValueError, match=f"{flag} cannot augment {data_kind} items"):
        _augmentation(cfg, data_kind)
