"""Wesnoth's everyday sound effects (Debian wesnoth-1.16-data, scripts/install-data.sh)."""

from __future__ import annotations

from collections import Counter

import pytest

from xmodal.data.audio import load_audios
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources.wesnoth import RULES, load_wesnoth_sounds


@pytest.fixture(scope="module")
def clips():
    return load_wesnoth_sounds().items


def test_counts_labels_and_captions(clips):
    assert len(clips) == 51
    assert Counter(c.label for c in clips) == {
        "animal": 28, "environment": 8, "signal": 8, "object": 3, "tool": 2, "impact": 1,
        "human": 1}
    by_name = {c.path.relative_to(c.path.parents[1]).as_posix(): c.caption for c in clips
               if c.path.parent.name != "sounds"}
    by_name |= {c.path.name: c.caption for c in clips if c.path.parent.name == "sounds"}
    assert by_name["ambient/campfire.ogg"] == "campfire crackling"
    assert by_name["ambient/birds2.ogg"] == "birds singing"
    assert by_name["axe.ogg"] == "axe chop"
    assert by_name["horse-canter.wav"] == "horse cantering"
    assert by_name["wolf-growl-3.ogg"] == "wolf growling"
    assert by_name["gold.ogg"] == "coins jingling"
    assert by_name["horn-signals/horn-5.ogg"] == "horn signal"


def test_every_rule_matches_and_dropped_kinds_are_absent(clips):
    captions = {c.caption for c in clips}
    assert captions == {caption for _, caption, _ in RULES}  # no dead rule
    names = " ".join(c.path.name for c in clips)
    for dropped in ("magic", "drake", "gryphon", "human-", "sword", "bow", "mace", "gunshot",
                    "fanfare", "skeleton", "zombie", "melee-fire", "wardrums", "potion"):
        assert dropped not in names


def test_provenance_order_and_decoding(clips):
    assert len({c.path for c in clips}) == len(clips)
    assert [c.origin for c in clips] == sorted(c.origin for c in clips)
    assert all(c.license == "GPL-2+" for c in clips)
    assert all(c.origin.startswith("Debian wesnoth-1.16-data 1:1.16.9-1: usr/share/games/"
                                   "wesnoth/1.16/data/core/sounds/") for c in clips)
    decoded = load_audios([c.path for c in clips], sample_rate=16000)
    assert not decoded.failed and len(decoded.waves) == len(clips)


def test_limit_and_missing_package(tmp_path, monkeypatch):
    assert len(load_wesnoth_sounds(limit=7).items) == 7
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_wesnoth_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_wesnoth_sounds()
