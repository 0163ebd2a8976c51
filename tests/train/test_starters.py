"""The shipped image–text starter model: loads from the package and retrieves real emoji."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xmodal.data.sources import load_gm_instruments, load_openmoji, load_sonic_pi
from xmodal.encoders import load_encoder
from xmodal.encoders.registry import STARTERS
from xmodal.train.starters import caption_key, held_out


@pytest.fixture(scope="module")
def starter():
    return load_encoder("starter-image")


def test_card_and_recorded_figures(starter):
    assert starter.card.family == "lit" and starter.card.dim == 512
    assert set(starter.card.modalities) == {"image", "text"}
    notes = json.loads((STARTERS / "image" / "config.json").read_text())["notes"]
    figures = notes["held_out"]
    assert figures["to_text"]["10"] >= 0.70 and figures["from_text"]["10"] >= 0.70
    assert figures["chance_to_text_at_10"] < 0.05


def test_retrieves_held_out_emoji_by_caption(starter):
    # 40 held-out OpenMoji emoji (captions never trained on): each caption's own image should
    # rank in the top 5 of the 40 for most of them (chance: 5/40).
    items = [e for e in load_openmoji().items if held_out(e.caption)][:40]
    img = starter.encode_image([str(e.path) for e in items])  # (40, 512)
    txt = starter.encode_text([caption_key(e.caption) for e in items])  # (40, 512)
    ranks = (img @ txt.T).T.argsort(axis=1)[:, ::-1]  # (40, 40) captions → images
    hits = np.mean([i in ranks[i, :5] for i in range(len(items))])
    assert hits > 0.5


def test_audio_starter_retrieves_held_out_sounds_by_caption():
    enc = load_encoder("starter-audio")
    assert set(enc.card.modalities) == {"audio", "text"} and enc.card.dim == 512
    notes = json.loads((STARTERS / "audio" / "config.json").read_text())["notes"]
    assert notes["held_out"]["to_text"]["10"] > 3 * notes["held_out"]["chance_to_text_at_10"]
    clips = [c for c in [*load_sonic_pi().items, *load_gm_instruments().items]
             if held_out(c.caption)][:30]
    audio = enc.encode_audio([str(c.path) for c in clips])  # (30, 512)
    text = enc.encode_text([caption_key(c.caption) for c in clips])  # (30, 512)
    ranks = (audio @ text.T).T.argsort(axis=1)[:, ::-1]  # captions → clips
    assert np.mean([i in ranks[i, :5] for i in range(len(clips))]) > 0.5  # chance: 5/30
