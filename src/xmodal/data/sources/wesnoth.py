"""Battle for Wesnoth's sound effects: the everyday ones (animals, fire, tools, ambiences).

Debian ``wesnoth-1.16-data`` 1:1.16.9-1 ships 271 OGG/WAV files under
``usr/share/games/wesnoth/1.16/data/core/sounds/`` (``ambient/``, ``horn-signals/`` and the
top level), GPL-2+ like the rest of the game's data (``usr/share/doc/wesnoth-1.16-data/
copyright``). Only the first matching rule of :data:`RULES`, an explicit whitelist, is kept:
birds, campfire, dawn and dusk calls, horses, wolves, bats, axe and hatchet chops, coins, fire,
thunder, rumbles, horn signals (51 clips). Dropped: fantasy creatures (drakes, gryphons, nagas,
wose, undead), magic and spells, weapon hits and misses (swords, bows, maces, guns), the
pain and death cries of people (voices), the fanfare, and sounds whose name does not say
what is heard ("potion", "net", "tail").
"""

from __future__ import annotations

from pathlib import Path

from ._common import AudioClip, Source, deb_root, require_deb, require_path
from ._whitelist import Rule, whitelisted_clips

PKG, VERSION = "wesnoth-1.16-data", "1:1.16.9-1"
SOUNDS = "usr/share/games/wesnoth/1.16/data/core/sounds"
LICENSE = "GPL-2+"

# Path under SOUNDS without its suffix (a regular expression) → caption, label. The two
# ambiences are the game's dawn and dusk sounds; their captions were checked on spectra.
RULES: list[Rule] = [
    (r"ambient/birds\d", "birds singing", "animal"),
    (r"ambient/campfire", "campfire crackling", "environment"),
    (r"ambient/morning", "rooster crowing at dawn", "animal"),
    (r"ambient/night", "wolf howling at dusk", "animal"),
    (r"ambient/ship", "wooden ship on the sea", "environment"),
    (r"axe", "axe chop", "tool"),
    (r"hatchet", "hatchet chop", "tool"),
    (r"bat-flapping", "bat wings flapping", "animal"),
    (r"bat-hit-\d", "bat squeak", "animal"),
    (r"horse(-elf)?-canter", "horse cantering", "animal"),
    (r"horse-(die|hit-\d)", "horse whinnying", "animal"),
    (r"wolf-growl-\d", "wolf growling", "animal"),
    (r"wolf-hit-\d", "wolf yelp", "animal"),
    (r"wolf-die-\d", "wolf whimpering", "animal"),
    (r"cave-in", "rocks falling, cave-in", "environment"),
    (r"rumble", "low rumble", "environment"),
    (r"lightning", "thunder", "environment"),
    (r"explosion", "explosion", "impact"),
    (r"fire", "fire whoosh", "environment"),
    (r"flame-big", "big burst of flame", "environment"),
    (r"fuse", "burning fuse hissing", "object"),
    (r"gold", "coins jingling", "object"),
    (r"open-chest", "chest lid creaking open", "object"),
    (r"water-blast", "water splash", "environment"),
    (r"fist", "punch", "human"),
    (r"horn-signals/horn-\d", "horn signal", "signal"),
]


def load_wesnoth_sounds(*, limit: int | None = None, root: Path | None = None
                        ) -> Source[AudioClip]:
    """The whitelisted sounds, sorted by path; label = a coarse category ("animal", "tool").

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``wesnoth-1.16-data`` package (default its ``deb_root``).

    Raises:
        SourceMissingError: the package is not unpacked.

    Example:
        >>> clips = load_wesnoth_sounds(limit=4).items
        >>> [c.caption for c in clips]
        ['birds singing', 'birds singing', 'birds singing', 'campfire crackling']
        >>> clips[3].label, clips[3].license, clips[3].path.name
        ('environment', 'GPL-2+', 'campfire.ogg')
    """
    if root is None:
        root = require_deb(PKG, VERSION, "Wesnoth sounds")
    folder = require_path(root / SOUNDS, "Wesnoth sounds",
                          f"apt-get download {PKG}={VERSION} && dpkg -x it into {deb_root(PKG)}")
    clips = whitelisted_clips(folder, RULES, suffixes=(".ogg", ".wav"), license=LICENSE,
                              origin=f"Debian {PKG} {VERSION}", root=root)
    return Source(name="wesnoth-sounds", items=tuple(clips[:limit]),
                  origin=f"Debian {PKG} {VERSION}", license=LICENSE)
