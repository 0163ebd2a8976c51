"""Lincity-NG ambiences (Debian lincity-ng-data, unpacked by scripts/install-data.sh)."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from xmodal.data.audio import load_audio
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources.lincity import load_lincity_sounds


def test_lincity_sounds():
    src = load_lincity_sounds()
    items = src.items
    assert src.name == "lincity-sounds"
    assert len(items) == 107  # of 141 WAV files
    assert Counter(c.label for c in items) == {
        "machine": 31, "ambience": 21, "vehicle": 13, "crowd": 13, "tool": 8, "water": 8,
        "animal": 6, "fire": 3, "electric": 3, "impact": 1}
    by_file = {c.path.stem: c.caption for c in items}
    assert by_file["TraficHigh1"] == "heavy traffic ambience"
    assert by_file["SportsCroud2"] == "sports crowd ambience"
    assert by_file["Tip1"] == "rubbish tip ambience"
    assert by_file["Harbor1"] == "harbour ambience"
    assert by_file["WindMill3"] == "windmill ambience"
    assert by_file["RocketTakeoff1"] == "rocket taking off"
    captions = {c.caption for c in items}
    assert not any(w in c for c in captions for w in ("trafic", "croud", "green", "shanty"))
    assert all(c.license == "GPL-2+" for c in items)
    assert items[0].origin == "Debian lincity-ng-data 2.9~git20150314-5: sounds/Blacksmith1.wav"


def test_lincity_drops_abstract_ui_and_ambiguous_copies():
    items = load_lincity_sounds().items
    stems = {c.path.stem for c in items}
    for dropped in ("Green1", "Commune1", "Shanty1", "Monument1", "PowerSolar2", "Click",
                    "WindowOpen", "Build1", "Raze1", "SubstationOn", "FireWasteland1",
                    "Tip2", "CoalMine2", "Water2", "Harbor3", "WindMillHTech1"):
        assert dropped not in stems
    assert len({hashlib.md5(c.path.read_bytes()).hexdigest() for c in items}) == len(items)


def test_lincity_files_decode():
    for clip in load_lincity_sounds().items:
        wave = load_audio(clip.path, sample_rate=16000)
        assert len(wave) > 1000 and np.abs(wave).max() > 0.01, clip


def test_lincity_limit_and_missing(tmp_path, monkeypatch):
    assert len(load_lincity_sounds(limit=3).items) == 3
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_lincity_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_lincity_sounds()
