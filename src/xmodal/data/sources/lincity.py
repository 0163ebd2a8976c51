"""Lincity-NG city ambiences: traffic, farms, harbour, railway, industry, mines, crowds, windmills.

Debian ``lincity-ng-data`` 2.9~git20150314-5 ships 141 short WAV loops (8-44.1 kHz, 16-bit,
mostly 4 s) in ``usr/share/games/lincity-ng/sounds/<CamelCase><N>.wav``, one to five variants
per building. The caption is the CamelCase stem's words with the game's misspellings fixed
("Trafic" → "traffic", "Croud" → "crowd"), the building said the way a person would ("Tip" →
"rubbish tip", "Health" → "hospital", "IndustryHigh" → "heavy industry") and " ambience"
appended to the loops of a place. Licence: GPL-2+ (Debian's copyright; upstream dual-licenses
the sounds GPL / CC-BY-SA-2.0).

Kept: 107 clips. Dropped: abstract or game-only sounds (``Green``, ``Commune``, ``Shanty``,
``Monument``, ``PowerSolar``, ``FireWasteland``), UI cues (``Click``, ``Window*``, ``Build``,
``Raze``, ``SubstationOn/Off``), and both copies of the files whose bytes the package ships
under two names (``CoalMine2`` = ``Tip2``, ``Harbor3`` = ``Water2``, ``WindMillHTech1`` =
``PowerSolar1``): at most one name can be right.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._common import AudioClip, Source, deb_root, require_deb, require_path
from ._sounds import file_md5

PKG, VERSION = "lincity-ng-data", "2.9~git20150314-5"
SOUNDS = "usr/share/games/lincity-ng/sounds"
NAME = "lincity-sounds"
LICENSE = "GPL-2+"

# CamelCase stem without its variant number → (caption, label). Stems not listed are dropped.
CAPTIONS: dict[str, tuple[str, str]] = {
    "Blacksmith": ("blacksmith ambience", "tool"),
    "CoalMine": ("coal mine ambience", "machine"),
    "DirtTrack": ("dirt road traffic ambience", "vehicle"),
    "Farm": ("farm ambience", "animal"),
    "OrganicFarm": ("farm ambience", "animal"),
    "Fire": ("building on fire", "fire"),
    "FireStation": ("fire station ambience", "ambience"),
    "Harbor": ("harbour ambience", "water"),
    "Health": ("hospital ambience", "ambience"),
    "IndustryHigh": ("heavy industry ambience", "machine"),
    "IndustryLight": ("light industry ambience", "machine"),
    "MarketEmpty": ("empty market ambience", "crowd"),
    "MarketLow": ("quiet market ambience", "crowd"),
    "MarketMed": ("market ambience", "crowd"),
    "MarketFull": ("busy market ambience", "crowd"),
    "Mill": ("mill ambience", "machine"),
    "MonumentConstruction": ("construction site ambience", "tool"),
    "OreMine": ("ore mine ambience", "machine"),
    "ParklandLake": ("park lake ambience", "water"),
    "ParklandPlane": ("park ambience", "ambience"),
    "Pottery": ("pottery workshop ambience", "tool"),
    "PowerCoalEmpty": ("coal power station ambience", "machine"),
    "PowerCoalLow": ("coal power station ambience", "machine"),
    "PowerCoalMed": ("coal power station ambience", "machine"),
    "PowerCoalFull": ("coal power station ambience", "machine"),
    "PowerLine": ("power line hum", "electric"),
    "RailTrain": ("railway train ambience", "vehicle"),
    "Recycle": ("recycling centre ambience", "machine"),
    "ResidentialHigh": ("busy residential area ambience", "ambience"),
    "ResidentialMed": ("residential area ambience", "ambience"),
    "ResidentialLow": ("quiet residential area ambience", "ambience"),
    "ResidentialLowLow": ("quiet residential area ambience", "ambience"),
    "Rocket": ("rocket launch pad ambience", "machine"),
    "RocketTakeoff": ("rocket taking off", "vehicle"),
    "RocketExplosion": ("rocket explosion", "impact"),
    "School": ("school ambience", "crowd"),
    "University": ("university ambience", "crowd"),
    "SportsCroud": ("sports crowd ambience", "crowd"),
    "Substation": ("electrical substation hum", "electric"),
    "Tip": ("rubbish tip ambience", "machine"),
    "TraficHigh": ("heavy traffic ambience", "vehicle"),
    "TraficLow": ("light traffic ambience", "vehicle"),
    "Water": ("water ambience", "water"),
    "WindMill": ("windmill ambience", "machine"),
    "WindMillHTech": ("wind turbine ambience", "machine"),
}
_VARIANT = re.compile(r"\d+$")


def load_lincity_sounds(*, limit: int | None = None, root: Path | None = None
                        ) -> Source[AudioClip]:
    """The Lincity-NG building ambiences, sorted by file name; label = a coarse category.

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``lincity-ng-data`` package (default ``deb_root(PKG)``).

    Raises:
        SourceMissingError: the package is not unpacked.

    Example:
        >>> clips = load_lincity_sounds(limit=4).items
        >>> [c.caption for c in clips]
        ['blacksmith ambience', 'blacksmith ambience', 'blacksmith ambience', 'coal mine ambience']
        >>> clips[3].label, clips[3].license, clips[3].origin
        ('machine', 'GPL-2+', 'Debian lincity-ng-data 2.9~git20150314-5: sounds/CoalMine1.wav')
    """
    if root is None:
        root = require_deb(PKG, VERSION, "Lincity-NG sounds")
    folder = require_path(root / SOUNDS, "Lincity-NG sounds",
                          f"apt-get download {PKG}={VERSION} && dpkg -x it into {deb_root(PKG)}")
    files = sorted(folder.glob("*.wav"))
    digests = [file_md5(path) for path in files]
    # Bytes the package ships under two different captions (or under a dropped name) go
    # everywhere: at most one name can be right. Same bytes, same caption: kept once.
    names: dict[str, set[str | None]] = {}
    for path, digest in zip(files, digests, strict=True):
        names.setdefault(digest, set()).add(_found(path)[0])
    items, seen = [], set()
    for path, digest in zip(files, digests, strict=True):
        caption, label = _found(path)
        if caption is not None and len(names[digest]) == 1 and digest not in seen:
            items.append(AudioClip(path=path, label=label, caption=caption, license=LICENSE,
                                   origin=f"Debian {PKG} {VERSION}: sounds/{path.name}"))
        seen.add(digest)
    return Source(name=NAME, items=tuple(items[:limit]), origin=f"Debian {PKG} {VERSION}",
                  license=LICENSE)


def _found(path: Path) -> tuple[str | None, str]:
    return CAPTIONS.get(_VARIANT.sub("", path.stem), (None, ""))
