"""The shipped starter models: they load from the package, their cards list the training sources
with both figures, and they retrieve held-out captions of the old and the everyday sources."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xmodal.data.sources import load_gm_instruments, load_openmoji, load_sonic_pi
from xmodal.encoders import load_encoder
from xmodal.encoders.registry import STARTERS
from xmodal.train.starter_data import load_family
from xmodal.train.starters import caption_key, held_out


@pytest.fixture(scope="module")
def starter():
    return load_encoder("starter-image")


@pytest.fixture(scope="module")
def audio_starter():
    return load_encoder("starter-audio")


def _notes(which):
    return json.loads((STARTERS / which / "config.json").read_text())["notes"]


def _top5(items, captions, encode_items, encoder):
    """Share of captions whose own item ranks in the top 5 of ``items`` (caption → item)."""
    a = encode_items(items)  # (n, d)
    t = encoder.encode_text(captions)  # (n, d)
    ranks = (a @ t.T).T.argsort(axis=1)[:, ::-1]  # (n, n) captions → items
    return np.mean([i in ranks[i, :5] for i in range(len(items))])


def test_image_card_lists_sources_and_both_figures(starter):
    card = starter.card
    assert card.family == "lit" and card.dim == 512 + 768  # heads beside the ConSE bridge (MPNet)
    assert _notes("image")["settings"]["family_repeat"] == [["emoji", 2]]
    assert set(card.modalities) == {"image", "text"}
    sources = dict(card.training_sources)
    assert {"sweethome3d", "cataclysm-dda", "scratch-images", "gcompris-images", "game-icons",
            "openmoji", "emoji-datasource", "fluent-emoji"} <= set(sources)
    assert sum(sources.values()) == _notes("image")["train_pairs"] > 10_000
    figures = dict(card.figures)
    assert figures["out-of-domain hit@10 image→text"] > 0.3  # chance ≈ 0.04 (300-item draws)
    assert figures["out-of-domain hit@10 text→image"] > 0.3
    assert figures["in-domain hit@10 image→text"] > 0.4  # chance 0.008 (2,197 held-out items)
    assert (_notes("image")["out_of_domain"]["row"]
            == "bridge-trained w=0.5 p=0.5 + class prior + text class mix")
    config = starter.model.config  # what the benchmark's row measured
    assert (config.bridge_power, config.bridge_prior, config.bridge_text) == (0.5, True, "classes")
    prior = starter.model.heads["image"].bridge.prior  # fitted: the style classes weigh most
    from xmodal.encoders.towers import imagenet_classes

    top = {imagenet_classes()[i] for i in prior.topk(5).indices.tolist()}
    assert top & {"hook", "plectrum", "digital clock", "envelope"}, top


def test_retrieves_held_out_emoji_by_caption(starter):
    # 40 held-out OpenMoji emoji (captions never trained on): each caption's own image should
    # rank in the top 5 of the 40 for most of them (chance: 5/40).
    items = [e for e in load_openmoji().items if held_out(e.caption)][:40]
    hits = _top5([str(e.path) for e in items], [caption_key(e.caption) for e in items],
                 starter.encode_image, starter)
    assert hits > 0.5


def test_retrieves_held_out_everyday_objects_by_caption(starter):
    # held-out Sweet Home 3D renders and GCompris photos (chance: 5/40 each)
    for family in ("sweethome3d", "gcompris"):
        pairs = [p for p in load_family(family, "image") if held_out(p.caption)]
        pairs = list({p.caption: p for p in pairs}.values())[:40]
        hits = _top5([p.item for p in pairs], [p.caption for p in pairs], starter.encode_image,
                     starter)
        assert hits > 0.4, (family, hits)


def test_audio_card_lists_sources_and_both_figures(audio_starter):
    card = audio_starter.card
    assert set(card.modalities) == {"audio", "text"} and card.dim == 512
    sources = dict(card.training_sources)
    assert {"openttd-sounds", "widelands-sounds", "minetest-sounds", "lincity-sounds",
            "scratch-sounds", "gcompris-sounds", "sonic-pi"} <= set(sources)
    figures = dict(card.figures)
    assert figures["out-of-domain hit@10 audio→text"] > 0.4  # mean chance 0.23: small families
    notes = _notes("audio")
    assert notes["held_out"]["to_text"]["10"] > 3 * notes["held_out"]["chance_to_text_at_10"]


def test_audio_starter_retrieves_held_out_sounds_by_caption(audio_starter):
    clips = [c for c in [*load_sonic_pi().items, *load_gm_instruments().items]
             if held_out(c.caption)][:30]
    hits = _top5([str(c.path) for c in clips], [caption_key(c.caption) for c in clips],
                 audio_starter.encode_audio, audio_starter)
    assert hits > 0.5  # chance: 5/30


def test_audio_starter_retrieves_held_out_everyday_sounds_by_caption(audio_starter):
    pairs = [p for f in ("openttd", "widelands", "minetest", "lincity", "scratch", "gcompris")
             for p in load_family(f, "audio") if held_out(p.caption)]
    pairs = list({p.caption: p for p in pairs}.values())[:40]
    hits = _top5([p.item for p in pairs], [p.caption for p in pairs], audio_starter.encode_audio,
                 audio_starter)
    assert hits > 0.4  # chance: 5 / 36 (36 distinct held-out captions)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_family_repeats_give_shares_proportional_to_size_to_the_power(power):
    from xmodal.train.starters import family_repeats

    sizes = {"big": 400, "mid": 100, "small": 25}
    families = [f for f, n in sizes.items() for _ in range(n)]
    rows = family_repeats(families, power)
    share = {f: sum(families[i] == f for i in rows.tolist()) for f in sizes}
    for f, n in sizes.items():  # share_f / share_big == (n / 400) ** power, exactly here
        assert share[f] / share["big"] == pytest.approx((n / 400) ** power)
    assert sorted(set(rows.tolist())) == list(range(len(families)))  # every row kept


def test_family_repeat_multiplies_a_familys_rows_after_the_power():
    from xmodal.train.starters import family_repeats

    families = ["big"] * 400 + ["small"] * 25
    rows = family_repeats(families, 0.5, {"small": 3, "left-out": 5}).tolist()
    counts = {f: sum(families[i] == f for i in rows) for f in ("big", "small")}
    # big: once each; small: round((400 / 25) ** 0.5) = 4 copies, times 3 = 12 (by hand)
    assert counts == {"big": 400, "small": 25 * 12}
    assert rows == sorted(rows)  # each row's copies stay together, in order
    assert family_repeats(families, 1.0, {"big": 2}).tolist().count(0) == 2


def test_a_misspelt_family_to_repeat_is_refused_before_any_training(tmp_path):
    import dataclasses

    from xmodal.train.starters import IMAGE_SETTINGS, build_trainable

    settings = dataclasses.replace(IMAGE_SETTINGS, family_repeat=(("emojis", 2),))
    with pytest.raises(ValueError, match=r"family_repeat names \['emojis'\].*'emoji'"):
        build_trainable("image", settings, cache=tmp_path / "c", run_dir=tmp_path / "r")


@pytest.mark.parametrize(("power", "repeat", "message"), [
    (1.5, None, "family_power must be in"), (-0.1, None, "family_power must be in"),
    (1.0, {"big": 0}, "must be ≥ 1")])
def test_family_repeats_refuse_what_would_drop_rows(power, repeat, message):
    from xmodal.train.starters import family_repeats

    with pytest.raises(ValueError, match=message):
        family_repeats(["big", "big", "small"], power, repeat)
