"""emoji-datasource, GM instrument renders, gensim similarity sets (scripts/install-data.sh)."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import soundfile
from PIL import Image

from xmodal.data.sources import (
    GM_INSTRUMENTS,
    GM_PERCUSSION,
    SourceMissingError,
    load_emoji_datasource,
    load_gm_instruments,
    load_lee_documents,
    load_lee_similarity,
    load_simlex999,
    load_source,
    load_wordsim353,
    render_note,
)

FAST = {"seconds": 0.5, "sample_rate": 8000}  # short renders keep the tests quick


def test_emoji_datasource():
    items = load_emoji_datasource().items
    assert len(items) == 1911  # every base emoji has a Google image; skin tones are not items
    assert len({e.path for e in items}) == len(items)
    grinning = items[0]
    assert (grinning.caption, grinning.group) == ("grinning face", "Smileys & Emotion")
    assert len({e.group for e in items}) == 10
    thumbs = next(e for e in items if e.caption == "thumbs up sign")
    assert "thumbsup" in thumbs.tags and "+1" in thumbs.tags
    assert any(" " in t for e in items for t in e.tags)  # "_" became spaces
    assert not any("_" in t for e in items for t in e.tags)
    for e in (items[0], items[-1]):
        with Image.open(e.path) as image:
            assert image.format == "PNG" and image.size == (64, 64)


def test_gm_names_are_the_gm1_list():
    assert len(GM_INSTRUMENTS) == len(set(GM_INSTRUMENTS)) == 128
    assert GM_INSTRUMENTS[0] == "acoustic grand piano" and GM_INSTRUMENTS[40] == "violin"
    assert GM_INSTRUMENTS[19] == "church organ" and GM_INSTRUMENTS[127] == "gunshot"
    assert GM_INSTRUMENTS[56] == "trumpet" and GM_INSTRUMENTS[73] == "flute"
    assert min(GM_PERCUSSION) == 35 and max(GM_PERCUSSION) == 81 and len(GM_PERCUSSION) == 47
    assert GM_PERCUSSION[36] == "bass drum 1" and GM_PERCUSSION[42] == "closed hi-hat"


def test_gm_renders_are_cached_deterministic_audio(tmp_path):
    clips = load_gm_instruments(limit=7, root=tmp_path, **FAST).items
    assert [c.caption for c in clips[:2]] == ["soft low acoustic grand piano note",
                                              "loud low acoustic grand piano note"]
    assert clips[6].label == "bright acoustic piano"  # program 1 after 3 registers × 2 dynamics
    audio, rate = soundfile.read(clips[1].path, dtype="float32")
    assert rate == 8000 and audio.shape == (4000,)  # mono, the requested length
    assert np.sqrt(np.mean(audio**2)) > 0.005  # not silent
    soft, _ = soundfile.read(clips[0].path)
    assert np.abs(soft).max() < np.abs(audio).max()  # velocity 40 is quieter than 110

    first = [c.path.read_bytes() for c in clips]
    mtime = clips[0].path.stat().st_mtime_ns
    again = load_gm_instruments(limit=7, root=tmp_path, **FAST).items
    assert again[0].path.stat().st_mtime_ns == mtime  # the cache was used
    rerendered = load_gm_instruments(limit=7, root=tmp_path, cache=False, **FAST).items
    assert [c.path.read_bytes() for c in rerendered] == first  # same bytes when rendered again
    assert np.array_equal(render_note(40, 67, 90, **FAST), render_note(40, 67, 90, **FAST))


def _dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def test_gm_pitch_follows_the_key():
    rate = 16000
    church_organ = [_dominant_hz(render_note(19, key, 110, seconds=1.0, sample_rate=rate), rate)
                    for key in (48, 60, 72)]
    assert church_organ[0] < church_organ[1] < church_organ[2]
    # a flute's fundamental dominates: A4 (key 69) is 440 Hz
    assert _dominant_hz(render_note(73, 69, 110, seconds=1.0, sample_rate=rate), rate) == \
        pytest.approx(440, rel=0.03)


def test_gm_drums(tmp_path):
    clips = load_gm_instruments(drums=True, root=tmp_path, notes=(), **FAST).items
    assert len(clips) == 47 * 2  # no notes asked for: only the drum kit at both dynamics
    assert clips[-1].caption == "loud open triangle hit" and clips[-1].label == "open triangle"
    audio, _ = soundfile.read(clips[3].path)  # loud bass drum 1
    assert np.abs(audio).max() > 0.05


def test_wordsim353():
    pairs = load_wordsim353().items
    assert len(pairs) == 353
    scores = {(p.a, p.b): p.score for p in pairs}
    assert scores["tiger", "cat"] == 7.35 and scores["tiger", "tiger"] == 10.0
    assert all(0 <= p.score <= 10 for p in pairs)


def test_simlex999():
    pairs = load_simlex999().items
    assert len(pairs) == 999 == len({(p.a, p.b) for p in pairs})
    assert (pairs[0].a, pairs[0].b, pairs[0].score) == ("old", "new", 1.58)
    assert all(0 <= p.score <= 10 for p in pairs)


def test_lee_similarity():
    docs = load_lee_documents()
    assert len(docs) == 50 and len(set(docs)) == 50
    assert len(load_lee_documents(background=True)) == 300
    pairs = load_lee_similarity().items
    assert len(pairs) == 50 * 49 // 2 == 1225
    assert Counter(p.a for p in pairs)[docs[0]] == 49
    assert {p.a for p in pairs} | {p.b for p in pairs} == set(docs)
    assert all(0 <= p.score <= 1 for p in pairs)
    assert max(pairs, key=lambda p: p.score).score > 0.9  # some pairs are near-duplicates


def test_missing_packages_name_the_install_command(tmp_path, monkeypatch):
    with pytest.raises(SourceMissingError, match="npm pack emoji-datasource-google"):
        load_emoji_datasource(root=tmp_path)
    for load in (load_lee_similarity, load_wordsim353, load_simlex999):
        with pytest.raises(SourceMissingError, match="pip download --no-deps gensim=="):
            load(root=tmp_path)
    with pytest.raises(SourceMissingError, match="apt-get install timgm6mb-soundfont"):
        load_gm_instruments(root=tmp_path, soundfont=tmp_path / "none.sf2")
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # import fails as if not installed
    with pytest.raises(SourceMissingError, match="pip install --no-deps tinysoundfont"):
        load_gm_instruments(root=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written on failure


def test_registry_has_the_new_sources():
    for name in ("emoji-datasource", "lee-similarity", "wordsim353", "simlex999"):
        assert load_source(name, limit=2).name == name
    assert len(load_source("gm-instruments", limit=1, **FAST).items) == 1
