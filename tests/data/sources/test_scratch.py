"""Scratch 1.4 media: costumes, backgrounds and sounds (Debian scratch, scripts/install-data.sh)."""

from __future__ import annotations

from collections import Counter

import pytest
import soundfile

from xmodal.data.audio import load_audios
from xmodal.data.images import load_images
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources.scratch import load_scratch_images, load_scratch_sounds


@pytest.fixture(scope="module")
def images():
    return load_scratch_images().items


@pytest.fixture(scope="module")
def sounds():
    return load_scratch_sounds().items


def test_image_counts_groups_and_captions(images):
    assert len(images) == 264
    assert Counter(i.group for i in images) == {
        "animals": 71, "people": 50, "things": 35, "backgrounds outdoors": 34,
        "backgrounds nature": 20, "transportation": 18, "fantasy": 17,
        "backgrounds indoors": 12, "backgrounds sports": 7}
    by_stem = {(i.path.parent.name, i.path.stem): i.caption for i in images}
    assert by_stem["Animals", "fox1"] == "fox"
    assert by_stem["Animals", "butterfly1-b"] == "butterfly"
    assert by_stem["Things", "sunglassF2"] == "sunglasses"
    assert by_stem["Things", "palmtree"] == "palm tree"
    assert by_stem["Transportation", "airplane"] == "airplane"
    assert by_stem["People", "girl3-basketball"] == "girl playing basketball"
    assert by_stem["Fantasy", "snowman1"] == "snowman"
    assert by_stem["Nature", "canyon"] == "a photo of a canyon"
    assert by_stem["Outdoors", "route66"] == "a photo of route 66"
    assert by_stem["Nature", "woods-and-bench"] == "woods and bench"  # a drawing, not a photo
    assert by_stem["Indoors", "bedroom1"] == "bedroom"
    canyon = next(i for i in images if i.path.stem == "canyon")
    assert canyon.group == "backgrounds nature" and canyon.tags == ("background", "nature", "photo")


def test_images_dropped_kinds_are_absent(images):
    names = {i.path.name for i in images}
    assert not any(i.path.parent.name == "Letters" for i in images)
    assert not any(n.endswith((".sprite", ".db")) for n in names)
    assert not {"button.gif", "buttonPressed.gif", "magiccarpet.png", "xy-grid.gif"} & names
    assert not {"cassy-dancing-1.gif", "fantasy7.png", "gobo1.gif", "squareguy.png"} & names
    assert all(i.caption and not any(ch.isdigit() for ch in i.caption.replace("66", ""))
               for i in images)


def test_images_provenance_and_decoding(images):
    assert len({i.path for i in images}) == len(images)
    assert all(i.license == "CC-BY-SA-3.0" for i in images)
    assert all(i.origin.startswith("Debian scratch 1.4.0.6~dfsg1-6.1: usr/share/scratch/Media/")
               for i in images)
    sample = images[::9]  # every kind of folder and format, quickly
    decoded = load_images([i.path for i in sample])
    assert not decoded.failed and len(decoded.images) == len(sample)
    assert {i.path.suffix for i in sample} >= {".gif", ".png", ".jpg"}


def test_limit():
    assert [i.caption for i in load_scratch_images(limit=3).items] == ["bat", "bat", "bat"]
    assert len(load_scratch_sounds(limit=5).items) == 5


def test_sound_counts_labels_and_captions(sounds):
    assert len(sounds) == 64
    assert Counter(c.label for c in sounds) == {
        "human": 17, "animal": 16, "effects": 15, "instruments": 8, "percussion": 6,
        "electronic": 2}
    captions = {c.caption for c in sounds}
    assert {"car passing", "man laughing", "dog bark", "didgeridoo", "computer beeps",
            "rooster crowing", "cymbal crash"} <= captions
    assert not {"laser", "alien creak", "suspense", "chord"} & captions
    assert not any("Music Loops" in c.origin or "/Vocals/" in c.origin for c in sounds)
    assert len({c.path for c in sounds}) == len(sounds)
    assert all(c.license == "CC-BY-SA-3.0" and c.origin.startswith("Debian scratch ")
               for c in sounds)


def test_sounds_decode_mp3s_with_their_id3_tags(sounds):
    decoded = load_audios([c.path for c in sounds], sample_rate=16000)
    assert not decoded.failed and len(decoded.waves) == len(sounds)
    mp3s = [c for c in sounds if c.path.suffix == ".mp3"]
    assert len(mp3s) == 14 and all(c.origin.endswith(".mp3") for c in mp3s)
    cat = next(c for c in mp3s if c.origin.endswith("Sounds/Animal/Cat.mp3"))
    assert cat.path.read_bytes()[:3] == b"ID3"
    wave = load_audios([cat.path], sample_rate=44100).waves[0]
    assert len(wave) == 21888  # 19 MP3 frames; libsndfile's estimate from the size: 44,673
    bird = next(c for c in sounds if c.path.name == "Bird.wav")
    assert soundfile.info(str(bird.path)).samplerate == 11025  # the package's own file


def test_missing_package(tmp_path, monkeypatch):
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_scratch_images(root=tmp_path)
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_scratch_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_scratch_images()
