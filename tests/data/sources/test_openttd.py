"""OpenTTD OpenSFX sounds (Debian openttd-opensfx, unpacked by scripts/install-data.sh)."""

from __future__ import annotations

import hashlib
import struct
import time
from collections import Counter

import numpy as np
import pytest

from xmodal.data.audio import load_audio
from xmodal.data.sources import SourceMissingError
from xmodal.data.sources._common import deb_root
from xmodal.data.sources.openttd import CAT, PKG, TOP_BIT, load_openttd_sounds, read_cat


def test_openttd_sounds_are_the_everyday_ones():
    src = load_openttd_sounds()
    items = src.items
    assert src.name == "openttd-sounds"
    assert len(items) == 44
    assert Counter(c.label for c in items) == {
        "vehicle": 18, "animal": 7, "machine": 4, "signal": 3, "impact": 3, "tool": 3,
        "crowd": 2, "nature": 2, "weather": 1, "electric": 1}
    captions = [c.caption for c in items]
    for caption in ("sawmill, circular saw crosscutting", "level crossing bells", "cow mooing",
                    "chainsaw", "applause, enthusiastic audience", "helicopter", "ship horn"):
        assert caption in captions
    assert Counter(c.license for c in items) == {"CC-BY-3.0": 30, "CC0-1.0": 13,
                                                 "CC-BY-SA-3.0": 1}
    helicopter = next(c for c in items if c.caption == "helicopter")
    assert helicopter.license == "CC-BY-SA-3.0"
    assert helicopter.origin == "Debian openttd-opensfx 1.0.3-2: opensfx.cat#24"
    assert all(c.origin.startswith("Debian openttd-opensfx 1.0.3-2: opensfx.cat#") for c in items)
    assert len({c.path for c in items}) == len(items)
    digests = {hashlib.md5(c.path.read_bytes()).hexdigest() for c in items}
    assert len(digests) == len(items)  # "Heavy wind" repeats "Wind" and is dropped


def test_openttd_drops_toyland_jingles_and_ui():
    entries = read_cat((deb_root(PKG) / CAT).read_bytes())
    assert len(entries) == 73
    kept = {int(c.origin.rsplit("#", 1)[1]) for c in load_openttd_sounds().items}
    titles = {e.index: e.title for e in entries}
    dropped = {titles[i] for i in titles if i not in kept}
    assert sum(t.startswith("Toyland") for t in dropped) == 18
    assert not any(titles[i].startswith("Toyland") for i in kept)
    assert {"Good Year", "Bad Year", "Beep", "Unused/Nothing", "Heavy wind"} <= dropped


def test_openttd_files_decode():
    for clip in load_openttd_sounds().items:
        wave = load_audio(clip.path, sample_rate=16000)
        assert 0.1 < len(wave) / 16000 < 5 and np.abs(wave).max() > 0.05, clip


def test_openttd_builds_once(tmp_path, monkeypatch):
    root = deb_root(PKG)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    cold = load_openttd_sounds(limit=5, root=root).items
    assert len(cold) == 5 and all(c.path.is_relative_to(tmp_path) for c in cold)
    mtime = cold[0].path.stat().st_mtime_ns
    start = time.perf_counter()
    warm = load_openttd_sounds(limit=5, root=root).items
    assert time.perf_counter() - start < 1.0
    assert warm == cold and warm[0].path.stat().st_mtime_ns == mtime


def _wav(n: int) -> bytes:
    body = b"fmt " + struct.pack("<I", 0) + b"data" + struct.pack("<I", n) + bytes(n)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def test_read_cat_parses_and_refuses_malformed_archives():
    name = b'"Sawmill". Original "saw.wav". License: Creative Commons Zero 1.0.\x00'
    wav = _wav(6)
    data = struct.pack("<II", TOP_BIT | 8, len(wav)) + bytes([len(name)]) + name + wav
    (entry,) = read_cat(data)
    assert (entry.title, entry.license, entry.size) == ("Sawmill", "CC0-1.0", len(wav))
    assert data[entry.offset:entry.offset + entry.size] == wav
    for cut in (0, 5, 8, 20, len(data) - 1):
        with pytest.raises(ValueError, match=r"malformed OpenTTD \.cat"):
            read_cat(data[:cut])
    with pytest.raises(ValueError, match="not a table size"):
        read_cat(struct.pack("<II", 8, 0) + data[8:])  # top bit missing
    with pytest.raises(ValueError, match="not a RIFF WAV"):
        read_cat(data.replace(b"RIFF", b"RIFX"))


def test_openttd_truncated_cat_is_a_clear_error(tmp_path, monkeypatch):
    real = (deb_root(PKG) / CAT).read_bytes()
    fake = tmp_path / "pkg"
    (fake / CAT).parent.mkdir(parents=True)
    (fake / CAT).write_bytes(real[:1_000_000])
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ValueError, match="runs past the end of the file"):
        load_openttd_sounds(root=fake)


def test_openttd_missing_package(tmp_path, monkeypatch):
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_openttd_sounds(root=tmp_path)
    monkeypatch.setenv("XMODAL_DATA_DIR", str(tmp_path))
    with pytest.raises(SourceMissingError, match=r"scripts/install-data\.sh"):
        load_openttd_sounds()
