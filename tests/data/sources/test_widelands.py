"""Widelands sounds (Debian widelands-data sound members, unpacked by scripts/install-data.sh)."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from xmodal.data.audio import load_audio
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources.widelands import load_widelands_sounds


def test_widelands_sounds():
    src = load_widelands_sounds()
    items = src.items
    assert src.name == "widelands-sounds"
    assert len(items) == 104  # of 116 OGG files
    assert Counter(c.label for c in items) == {
        "animal": 46, "tool": 26, "machine": 9, "household": 7, "impact": 6, "water": 6,
        "fire": 2, "nature": 2}
    by_origin = {c.origin.split(": ", 1)[1]: c.caption for c in items}
    assert by_origin["data/sound/animals/bird1_00.ogg"] == "bird song"
    assert by_origin["data/sound/farm/farm_animal_01.ogg"] == "farm animals"
    assert by_origin["data/sound/woodcutting/tree_falling_00.ogg"] == "tree falling"
    assert by_origin["data/sound/barbarians/taverns/inn_01.ogg"] == "frying food in a pan"
    assert by_origin["data/sound/atlanteans/saw/benchsaw_00.ogg"] == "bench saw cutting wood"
    assert by_origin["data/world/critters/duck/duck_02.ogg"] == "duck quacking"
    assert sum(c.caption == "bird song" for c in items) == 20
    assert all(c.license == "GPL-2+" for c in items)
    assert all(c.origin.startswith("Debian widelands-data 2:1.1-3: data/") for c in items)


def test_widelands_drops_ui_military_and_copies():
    items = load_widelands_sounds().items
    names = {c.path.stem for c in items}
    for dropped in ("click", "message_00", "lobby_chat", "lobby_freshmen", "under_attack",
                    "site_occupied", "create_construction_site", "blackwood",
                    "meal_00", "ration_00", "ration_01"):  # the last three repeat tavern files
        assert dropped not in names
    assert not any("/music/" in str(c.path) for c in items)
    assert len({c.path for c in items}) == len(items)
    assert len({hashlib.md5(c.path.read_bytes()).hexdigest() for c in items}) == len(items)


def test_widelands_files_decode():
    for clip in load_widelands_sounds().items:
        wave = load_audio(clip.path, sample_rate=16000)
        assert len(wave) > 1000 and np.abs(wave).max() > 0.01, clip


def test_widelands_limit_and_missing(tmp_path, monkeypatch):
    assert len(load_widelands_sounds(limit=7).items) == 7
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_widelands_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_widelands_sounds()
