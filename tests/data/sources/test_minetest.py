"""Minetest Game sounds (Debian minetest-data, unpacked by scripts/install-data.sh)."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from xmodal.data.audio import load_audio
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources.minetest import load_minetest_sounds


def test_minetest_sounds():
    src = load_minetest_sounds()
    items = src.items
    assert src.name == "minetest-sounds"
    assert len(items) == 92  # of 108 OGG files
    assert Counter(c.label for c in items) == {
        "footsteps": 32, "tool": 19, "fire": 14, "door": 10, "impact": 7, "water": 4,
        "vehicle": 3, "household": 2, "nature": 1}
    captions = Counter(c.caption for c in items)
    assert captions["gravel footstep"] == 4 and captions["snow footstep"] == 5
    assert captions["stone footstep"] == 3  # default_hard_footstep
    for caption in ("small fire", "large fire", "glass breaking", "door opening",
                    "pickaxe striking rock", "flowing water", "explosion"):
        assert caption in captions
    assert not any(c.startswith(("default", "doors", "env sounds", "xpanes")) for c in captions)
    footsteps = {c.caption.removesuffix(" footstep") for c in items if c.label == "footsteps"}
    assert len(footsteps) == 11


def test_minetest_licences_follow_the_readmes():
    items = load_minetest_sounds().items
    assert Counter(c.license for c in items) == {"CC-BY-3.0": 36, "CC0-1.0": 35,
                                                 "CC-BY-SA-3.0": 21}
    by_file = {c.path.name: c.license for c in items}
    assert by_file["default_grass_footstep.1.ogg"] == "CC-BY-SA-3.0"  # Mito551
    assert by_file["default_snow_footstep.1.ogg"] == "CC0-1.0"  # Ryding
    assert by_file["default_gravel_dug.1.ogg"] == "CC0-1.0"  # lolamadeus
    assert by_file["doors_door_open.ogg"] == "CC-BY-3.0"
    assert by_file["doors_glass_door_open.ogg"] == "CC0-1.0"
    assert by_file["tnt_explode.ogg"] == "CC0-1.0"
    assert by_file["carts_cart_moving.1.ogg"] == "CC-BY-SA-3.0"
    assert all(c.origin.startswith("Debian minetest-data 5.6.1") for c in items)
    assert items[0].origin.endswith(": mods/carts/sounds/carts_cart_moving.1.ogg")


def test_minetest_drops_game_cues_and_copies():
    items = load_minetest_sounds().items
    names = {c.path.name for c in items}
    assert not any(n.startswith(("default_place_node", "default_dug_node", "player_damage",
                                 "default_item_smoke", "default_cool_lava")) for n in names)
    assert len({c.path for c in items}) == len(items)
    assert len({hashlib.md5(c.path.read_bytes()).hexdigest() for c in items}) == len(items)


def test_minetest_files_decode():
    for clip in load_minetest_sounds().items:
        wave = load_audio(clip.path, sample_rate=16000)
        assert len(wave) > 100 and np.abs(wave).max() > 0.01, clip


def test_minetest_limit_and_missing(tmp_path, monkeypatch):
    assert [c.caption for c in load_minetest_sounds(limit=4).items][-1] == "glass breaking"
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_minetest_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_minetest_sounds()
