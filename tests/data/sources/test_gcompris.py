"""GCompris images and sounds from Debian gcompris-qt-data (scripts/install-data.sh)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import PurePosixPath

import pytest
import soundfile
from PIL import Image

from xmodal.data.audio import load_audio
from xmodal.data.images import load_images
from xmodal.data.sources._common import SourceMissingError, deb_root
from xmodal.data.sources.debian_copyright import parse_copyright, stanza_for
from xmodal.data.sources.gcompris import load_gcompris_images, load_gcompris_sounds

ROOT = deb_root("gcompris-qt-data")


@pytest.fixture(scope="module")
def images():
    return load_gcompris_images().items


@pytest.fixture(scope="module")
def sounds():
    return load_gcompris_sounds().items


def _inner(origin: str) -> str:
    """"gcompris/src/activities/..." from the origin "Debian ...: rcc/x.rcc:gcompris/src/..."."""
    return origin.rsplit(":", 1)[1]


def test_image_counts_groups_and_captions(images):
    assert 400 <= len(images) <= 440  # 424 in 3.1-2
    groups = Counter(i.group for i in images)
    assert groups["word picture"] == 99 and groups["animal"] == 89 and groups["monument"] == 76
    assert groups["tool"] == 32 and groups["household"] == 17 and groups["instrument"] == 26
    assert set(groups) == {"word picture", "animal", "monument", "tool", "object", "instrument",
                           "household", "energy", "food", "fruit", "planet"}
    by_caption = {(i.caption, i.group) for i in images}
    for known in [("measuring tape", "tool"), ("eiffel tower", "monument"),
                  ("turkey", "word picture"), ("bicycle", "object"), ("violin", "instrument"),
                  ("komodo dragon", "animal"),
                  ("red paint", "word picture"), ("dome of the rock", "monument"),
                  ("saturn", "planet"), ("croissant", "food"), ("wildebeest", "animal")]:
        assert known in by_caption, known
    photo = next(i for i in images if i.caption == "hammer")
    assert photo.tags == ("photo",) and photo.license == "CC0-1.0"
    assert "colour" in next(i for i in images if i.caption == "red paint").tags


def test_images_are_clean(images):
    assert len({i.path for i in images}) == len(images)
    assert all(i.license and i.origin.startswith("Debian gcompris-qt-data 3.1-2: rcc/")
               for i in images)
    captions = Counter(i.caption for i in images)
    assert max(captions.values()) <= 4  # 28 "fishN" photos, 15 windmills: four each at most
    assert captions["fish"] == 4
    assert not any(c[0].isdigit() for c in captions)
    for dropped in ("tux", "background", "one", "sixteen", "zero", "dragon", "star", "rocket",
                    "question mark", "fish3", "key"):
        assert dropped not in captions, dropped


def test_no_open_clip_art(images):
    text = (ROOT / "usr/share/doc/gcompris-qt-data/copyright").read_text(encoding="utf-8")
    stanzas = parse_copyright(text)
    assert sum(s.openclipart for s in stanzas) >= 5  # the copyright file does list some
    for item in images:
        stanza = stanza_for(stanzas, _inner(item.origin).removeprefix("gcompris/"))
        assert stanza is not None and not stanza.openclipart, item
    assert not any("/traffic/" in i.origin or "/photo_hunter/" in i.origin or
                   "/reversecount/" in i.origin or PurePosixPath(_inner(i.origin)).stem == "fusee"
                   for i in images)


def test_image_files_decode(images):
    sample = images[::20]
    decoded = load_images([i.path for i in sample])
    assert not decoded.failed and len(decoded.images) == len(sample)
    for item in sample:
        with Image.open(item.path) as image:
            assert image.format == "PNG" and max(image.size) == 256


def test_warm_load_is_fast_and_limit_slices(images):
    start = time.perf_counter()
    first = load_gcompris_images(limit=3).items
    assert time.perf_counter() - start < 5
    assert first == images[:3]


def test_sounds(sounds):
    assert len(sounds) == 72
    labels = Counter(c.label for c in sounds)
    assert labels == {"instrument": 34, "field recording": 29, "animal": 9}
    captions = {c.caption for c in sounds}
    for known in ("violin", "drum kit", "flute", "a cow mooing", "an owl hooting",
                  "a sheep bleating", "train slowing down", "rain in a garden",
                  "frogs in a pond during a storm", "xylophone note", "helicopter"):
        assert known in captions, known
    assert max(Counter(c.caption for c in sounds).values()) <= 4
    assert len({c.path for c in sounds}) == len(sounds)
    assert all(c.license and c.origin for c in sounds)
    names = " ".join(c.path.name.lower() for c in sounds)
    for dropped in ("weird", "melody", "lapause", "bonus", "click", "win.wav", "voices", "intro"):
        assert dropped not in names, dropped
    assert not any("explore_world_music" in c.origin or "/core/" in c.origin for c in sounds)
    violin = next(c for c in sounds if c.caption == "violin")
    assert violin.label == "instrument" and violin.license == "GPL-3+"
    assert next(c for c in sounds if c.caption == "train slowing down").license == "free-art"


def test_sound_files_decode(sounds):
    for clip in sounds[::6]:
        info = soundfile.info(clip.path)
        assert info.frames > 0
        audio = load_audio(clip.path, sample_rate=16000)
        assert audio.ndim == 1 and len(audio) > 1600  # over 0.1 s


def test_missing_package(tmp_path, monkeypatch):
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_gcompris_images(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_gcompris_sounds()
