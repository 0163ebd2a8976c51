"""Flare's everyday sound effects (Debian flare-game, scripts/install-data.sh)."""

from __future__ import annotations

from collections import Counter

import pytest

from xmodal.data.audio import load_audios
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources.flare import RULES, load_flare_sounds


@pytest.fixture(scope="module")
def clips():
    return load_flare_sounds().items


def test_counts_labels_and_captions(clips):
    assert len(clips) == 39
    assert Counter(c.label for c in clips) == {
        "human": 17, "material": 9, "environment": 6, "object": 3, "animal": 3, "tool": 1}
    by_name = {c.path.name: c.caption for c in clips}
    assert by_name["river_loop.ogg"] == "river flowing"
    assert by_name["bird_twitter_loop.ogg"] == "birds twittering"
    assert by_name["open_fire.ogg"] == by_name["open_fire_loop.ogg"] == "open fire crackling"
    assert by_name["inventory_coins.ogg"] == "coins clinking"
    assert by_name["heartbeat.ogg"] == "heartbeat"
    assert by_name["step_metal2.ogg"] == "footstep in metal armour"
    assert not any("loop" in c.caption or "inventory" in c.caption for c in clips)


def test_every_rule_matches_and_dropped_kinds_are_absent(clips):
    assert {c.caption for c in clips} == {caption for _, caption, _ in RULES}
    folders = {c.path.parent.name for c in clips}
    assert folders == {"soundfx", "environment", "inventory", "steps"}  # no enemies/npcs/powers
    names = {c.path.name for c in clips}
    assert not {"teleporter.ogg", "level_up.ogg", "no_mana.ogg", "flying_loot.ogg",
                "male_hit.ogg", "female_die.ogg", "melee_attack.ogg", "stairs.ogg",
                "inventory_object.ogg"} & names


def test_provenance_order_and_decoding(clips):
    assert len({c.path for c in clips}) == len(clips)
    assert [c.origin for c in clips] == sorted(c.origin for c in clips)
    assert all(c.license == "CC-BY-SA-3.0+" for c in clips)
    assert all(c.origin.startswith("Debian flare-game 1.14-1: usr/share/games/flare/mods/"
                                   "fantasycore/soundfx/") for c in clips)
    decoded = load_audios([c.path for c in clips], sample_rate=16000)
    assert not decoded.failed and len(decoded.waves) == len(clips)


def test_limit_and_missing_package(tmp_path, monkeypatch):
    assert [c.caption for c in load_flare_sounds(limit=2).items] == [
        "door opening", "hammering on an anvil"]
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_flare_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_flare_sounds()
