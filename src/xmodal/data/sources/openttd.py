"""OpenTTD's OpenSFX base sounds: edited Freesound recordings of vehicles, machines and animals.

Debian ``openttd-opensfx`` 1.0.3-2 ships the 73 sounds in one archive,
``usr/share/games/openttd/baseset/opensfx/opensfx.cat``: a table of little-endian u32 pairs
(offset with the top bit set, size), whose entry count is the first offset (top bit cleared)
divided by 8; at each offset one length byte, a NUL-terminated name, then ``size`` bytes of
RIFF WAV (44.1 kHz 16-bit mono). The name holds the sound's quoted title, the original
recording(s) (``Original "<file>.wav" by ...``) and the item's licence (CC-BY-3.0, CC-BY-SA-3.0
or CC0-1.0; the readme lists the same per source recording). The WAVs are written once under
``data_dir()/openttd-opensfx/1.0.3-2/`` (all 73, named ``<index>-<title>.wav``).

Kept: 44 everyday sounds (trains, planes, buses, ship horns, sawmill, chainsaw, animals, wind,
applause, crashes). Dropped: the 18 "Toyland" cartoon sounds, the two empty entries, the
good/bad year jingles, the UI beep, the three "splat" build cues, and the two "breakdown"
sounds whose titles name a game event rather than what is heard (a dropped gun, a dumpster),
and "Heavy wind" (the same bytes as "Wind").
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ._common import AudioClip, Source, build_once, data_dir, deb_root, require_deb, require_path

PKG, VERSION = "openttd-opensfx", "1.0.3-2"
CAT = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"
NAME = "openttd-sounds"
TOP_BIT = 0x80000000

# Title in the .cat → (caption, label). The caption is the title's phrase, with the original
# recording's words where they say what is heard; titles not listed here are dropped.
CAPTIONS: dict[str, tuple[str, str]] = {
    "Factory Whistle": ("factory whistle", "signal"),
    "Steam train station departure": ("steam train whistle, leaving the station", "vehicle"),
    "Steam engine going in tunnel": ("steam train whistle, going into a tunnel", "vehicle"),
    "Ship horn": ("ship horn", "vehicle"),
    "Ferry horn": ("ferry horn", "vehicle"),
    "Propeller plane start": ("propeller plane engine starting", "vehicle"),
    "Early jet take off": ("passenger jet taking off", "vehicle"),
    "Diesel/electric train station departure": ("diesel train horn in the distance", "vehicle"),
    "Mining machinery": ("mining machinery, elevator", "machine"),
    "Electric sparking": ("electric sparks crackling", "electric"),
    "Steam (of steam engine)": ("steam engine hissing", "machine"),
    "Level crossing": ("level crossing bells", "signal"),
    "Crash": ("crash", "impact"),
    "Explosion": ("explosion", "impact"),
    "Big crash": ("big crash", "impact"),
    "Cash till": ("cash register till", "machine"),
    "Morse": ("morse code beeping", "signal"),
    "Plane wheels touching ground": ("plane tyres touching down", "vehicle"),
    "Helicopter": ("helicopter", "vehicle"),
    "Truck/old bus start, pull away": ("truck starting and pulling away", "vehicle"),
    "Truck/old bus start, pull away with horn": (
        "truck starting and pulling away, air horn", "vehicle"),
    "Modern bus start": ("bus pulling away", "vehicle"),
    "Old bus start": ("old bus engine starting", "vehicle"),
    "Applause": ("applause, enthusiastic audience", "crowd"),
    "Oooh sound": ("crowd going oooh", "crowd"),
    "Jackhammer": ("jackhammer", "tool"),
    "Modern car horn": ("car horn", "vehicle"),
    "Sheep": ("sheep bleating in a field", "animal"),
    "Cow": ("cow mooing", "animal"),
    "Horse": ("horse neighing", "animal"),
    "Building bridge": ("hammering metal in a smithy", "tool"),
    "Sawmill": ("sawmill, circular saw crosscutting", "machine"),
    "Wind": ("wind", "weather"),
    "Lumber mill: Crashing tree": ("tree falling down", "nature"),
    "Lumber mill: Falling tree": ("cutting a tree down", "nature"),
    "Lumber mill: Chainsaw": ("chainsaw", "tool"),
    "Mach 1+ Jet take off": ("jet plane roaring close by", "vehicle"),
    "Modern jet take off": ("jet plane taking off", "vehicle"),
    "Maglev train station departure": ("metro train leaving the station", "vehicle"),
    "Monorail train station departure": ("train passing by and slowing down", "vehicle"),
    "Tropical: Bird (1)": ("tropical bird calls", "animal"),
    "Tropical: Bird (2)": ("tropical bird calls", "animal"),
    "Tropical: Lion roar": ("lion roar", "animal"),
    "Tropical: Monkeys": ("monkeys screaming", "animal"),
}
# The licence sentence in an entry's name, as SPDX ids.
LICENSES = {
    "Creative Commons Attribution 3.0 Unported": "CC-BY-3.0",
    "Creative Commons Attribution 3.0": "CC-BY-3.0",
    "Creative Commons Attribution-ShareAlike 3.0 Unported": "CC-BY-SA-3.0",
    "Creative Commons Zero 1.0": "CC0-1.0",
}
_TITLE = re.compile(r'^"([^"]*)"')
_LICENSE = re.compile(r"License: (.+?)\.(?:\s|$)")


@dataclass(frozen=True)
class CatEntry:
    """One sound of an OpenTTD ``.cat``: its index, name and where its WAV bytes lie."""

    index: int
    name: str  # the whole name: title, original recordings, editors, licence
    offset: int  # of the WAV bytes in the file
    size: int  # of the WAV bytes

    @property
    def title(self) -> str:
        """The quoted title at the start of the name ("Sawmill")."""
        match = _TITLE.match(self.name)
        return match.group(1) if match else ""

    @property
    def license(self) -> str:
        """The name's licence as an SPDX id ("CC-BY-3.0"), or "" when it names none."""
        match = _LICENSE.search(self.name)
        return LICENSES.get(match.group(1).strip(), "") if match else ""


def read_cat(data: bytes, source: str = "<bytes>") -> list[CatEntry]:
    """The entries of an OpenTTD ``.cat`` archive held in ``data``.

    Raises:
        ValueError: ``data`` is not a well-formed ``.cat`` (table, names or WAVs out of
            bounds, a name without its NUL, an entry that is not RIFF WAV); the message names
            ``source`` and the entry.

    Example:
        >>> wav = b"RIFF" + struct.pack("<I", 4) + b"WAVE"
        >>> data = struct.pack("<II", TOP_BIT | 8, len(wav)) + b'\\x04"a"\\x00' + wav
        >>> [(e.title, e.size) for e in read_cat(data)]
        [('a', 12)]
        >>> read_cat(data[:20])
        Traceback (most recent call last):
        ...
        ValueError: <bytes>: malformed OpenTTD .cat: entry 0 (offset 8, 12 bytes of WAV) runs past the end of the file (20 bytes)
    """  # noqa: E501
    def bad(why: str) -> ValueError:
        return ValueError(f"{source}: malformed OpenTTD .cat: {why}")

    if len(data) < 8:
        raise bad(f"{len(data)} bytes, too short for an entry table")
    first = struct.unpack_from("<I", data, 0)[0]
    table = first & ~TOP_BIT
    if not first & TOP_BIT or table == 0 or table % 8 or table > len(data):
        raise bad(f"first offset {first:#x} is not a table size (top bit set, a multiple of 8 "
                  f"within the file's {len(data)} bytes)")
    entries = []
    for index in range(table // 8):
        raw, size = struct.unpack_from("<II", data, 8 * index)
        offset = raw & ~TOP_BIT
        if not raw & TOP_BIT or offset < table or offset >= len(data):
            raise bad(f"entry {index} has offset {raw:#x}, outside the file's data")
        length = data[offset]
        start = offset + 1 + length
        if start > len(data) or length == 0 or data[start - 1] != 0:
            raise bad(f"entry {index}'s name (length {length} at offset {offset}) is not "
                      "NUL-terminated within the file")
        if start + size > len(data):
            raise bad(f"entry {index} (offset {offset}, {size} bytes of WAV) runs past the end "
                      f"of the file ({len(data)} bytes)")
        if size < 12 or data[start:start + 4] != b"RIFF" or data[start + 8:start + 12] != b"WAVE":
            raise bad(f"entry {index} at offset {offset} is not a RIFF WAV")
        name = data[offset + 1:start - 1].decode("latin-1")
        entries.append(CatEntry(index=index, name=name, offset=start, size=size))
    return entries


def load_openttd_sounds(*, limit: int | None = None, root: Path | None = None
                        ) -> Source[AudioClip]:
    """The everyday OpenSFX sounds, in archive order; label = a coarse category.

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``openttd-opensfx`` package (default ``deb_root(PKG)``).

    Raises:
        SourceMissingError: the package is not unpacked.
        ValueError: the ``.cat`` archive is malformed.

    Example:
        >>> clips = load_openttd_sounds(limit=3).items
        >>> [c.caption for c in clips]
        ['factory whistle', 'steam train whistle, leaving the station', 'steam train whistle, going into a tunnel']
        >>> clips[0].label, clips[0].license, clips[0].path.suffix
        ('signal', 'CC-BY-3.0', '.wav')
    """  # noqa: E501
    default = root is None
    if root is None:
        root = require_deb(PKG, VERSION, "OpenTTD OpenSFX sounds")
    cat = require_path(root / CAT, "OpenTTD OpenSFX sounds",
                       f"apt-get download {PKG}={VERSION} && dpkg -x it into {deb_root(PKG)}")
    folder = data_dir() / "openttd-opensfx" / VERSION
    if not default:  # another copy of the archive: its own cache, keyed by path, size and time
        stat = cat.stat()
        key = f"{cat.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
        tag = hashlib.sha1(key, usedforsecurity=False).hexdigest()[:8]
        folder = folder.with_name(f"{VERSION}-{tag}")
    data = cat.read_bytes()  # 13 MB; parsing it whole checks every entry's bounds
    entries = read_cat(data, str(cat))
    build_once(folder, lambda tmp: _write_wavs(data, entries, tmp))  # all 73, kept or not
    entries = [e for e in entries if e.title in CAPTIONS]
    items = []
    for entry in entries[:limit]:
        caption, label = CAPTIONS[entry.title]
        items.append(AudioClip(
            path=folder / _file_name(entry), label=label, caption=caption,
            license=entry.license, origin=f"Debian {PKG} {VERSION}: opensfx.cat#{entry.index}"))
    return Source(name=NAME, items=tuple(items), origin=f"Debian {PKG} {VERSION}",
                  license="CC-BY-3.0 / CC-BY-SA-3.0 / CC0-1.0 per item (collection CC-BY-SA-3.0)")


def _file_name(entry: CatEntry) -> str:
    """``<index>-<title slug>.wav``: named from the archive alone, so the cache stays valid
    when the caption table changes."""
    slug = re.sub(r"[^a-z0-9]+", "-", entry.title.lower()).strip("-")
    return f"{entry.index:02d}-{slug}.wav"


def _write_wavs(data: bytes, entries: list[CatEntry], folder: Path) -> None:
    for entry in entries:
        (folder / _file_name(entry)).write_bytes(data[entry.offset:entry.offset + entry.size])
