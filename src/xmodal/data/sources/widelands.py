"""Widelands' effect sounds: animals, farm animals and crafts (sawing, smithing, milling, weaving).

Debian ``widelands-data`` 2:1.1-3 (``scripts/install-data.sh`` unpacks only the sound members)
ships OGG Vorbis clips in ``usr/share/games/widelands/data/sound/<folder>/<stem>_NN.ogg`` and
``data/world/critters/<animal>/*.ogg``. The captions come from a table keyed by the stem without
its variant number, written from the folder, the stem and ``sound/wl-sound-docu.csv`` (which
names the recording each sound was made from: "pickaxe striking rock", "frying", "elk
bellowing in forest"). Licence: GPL-2+ (Debian's copyright, ``Files: *``); the CSV notes the
recordings' own licences (CC0, CC-BY-3.0, public domain), but the package distributes them as
GPL-2+.

Kept: 104 clips. Dropped: UI and game-event cues (``click``, ``message_*``, ``lobby_*``,
``create_construction_site``, ``military/*``), ``blackwood`` (a creek recording under a cryptic
name), and byte-identical copies (the empire ``meal``/``ration`` files repeat the barbarian
tavern ones).
"""

from __future__ import annotations

import re
from pathlib import Path

from ._common import AudioClip, Source, deb_root, require_deb, require_path
from ._sounds import drop_duplicates

PKG, VERSION = "widelands-data", "2:1.1-3"
DATA = "usr/share/games/widelands/data"
NAME = "widelands-sounds"
LICENSE = "GPL-2+"

# Stem without its "_NN" variant → (caption, label). Stems not listed are dropped.
CAPTIONS: dict[str, tuple[str, str]] = {
    # sound/animals, world/critters
    **{f"bird{k}": ("bird song", "animal") for k in range(1, 7)},
    "boar": ("boar grunting", "animal"),
    "coyote": ("coyote call", "animal"),
    "crickets1": ("crickets chirping", "animal"),
    "crickets2": ("crickets chirping", "animal"),
    "frog": ("frog croaking", "animal"),
    "moose": ("moose bellowing", "animal"),
    "stag": ("red deer stag roaring", "animal"),
    "wolf": ("wolf howling", "animal"),
    "duck": ("duck quacking", "animal"),
    # sound/farm
    "donkey": ("donkey", "animal"),
    "farm_animal": ("farm animals", "animal"),
    "horse": ("horse", "animal"),
    "ox": ("ox", "animal"),
    "sheep": ("sheep bleating", "animal"),
    "scythe": ("scythe cutting grass", "tool"),
    # crafts
    "stonecutter": ("pickaxe striking rock", "tool"),
    "goldspin": ("metal debris clinking", "impact"),
    "benchsaw": ("bench saw cutting wood", "machine"),
    "sawing": ("hand saw sawing wood", "tool"),
    "mortar": ("gathering stones", "tool"),
    "stonegrind": ("stone grinding", "tool"),
    "weaver": ("old wooden loom weaving", "machine"),
    "weaving": ("loom weaving", "machine"),
    "beerbubble": ("beer fermenting, bubbling liquid", "water"),
    "winebubble": ("big bubbles in water", "water"),
    "fisher_pull_net": ("pulling in a fishing net", "water"),
    "fisher_throw_net": ("throwing a fishing net", "water"),
    "geologist_hammer": ("rock hammer tapping", "tool"),
    "hammering": ("hammering", "tool"),
    "fizzle": ("fire fizzling", "fire"),
    "furnace": ("furnace fire", "fire"),
    "goldping": ("metal ping", "impact"),
    "ironping": ("metal ping", "impact"),
    "mill_turning": ("mill turning", "machine"),
    "falling_tools": ("tools falling", "impact"),
    "sawmill": ("sawmill", "machine"),
    "sharpening": ("sharpening a blade", "tool"),
    "smith": ("blacksmith hammering", "tool"),
    "toolsmith": ("toolsmith hammering", "tool"),
    "stonemason": ("stonemason chiselling stone", "tool"),
    "fast_woodcutting": ("chopping wood fast", "tool"),
    "tree_falling": ("tree falling", "nature"),
    "woodcutting": ("chopping wood", "tool"),
    # taverns: the CSV names kitchen recordings (dishes, frying, a glass jar, a bottle)
    "tavern": ("dishes clattering", "household"),
    "inn": ("kitchen, preparing food", "household"),
    "biginn": ("kitchen, preparing food", "household"),
    "meal": ("kitchen, preparing food", "household"),
    "ration": ("dishes clattering", "household"),
}
# Files whose caption differs from their stem's: the CSV names another recording.
FILE_CAPTIONS: dict[str, tuple[str, str]] = {
    "inn_01": ("frying food in a pan", "household"),
    "biginn_01": ("glass jar clinking", "household"),
    "meal_01": ("glass bottle clinking", "household"),
    "stonecutter": ("cutting stone", "tool"),  # sound/stonecutting/, not in the CSV
}
_VARIANT = re.compile(r"_\d+$")


def load_widelands_sounds(*, limit: int | None = None, root: Path | None = None
                          ) -> Source[AudioClip]:
    """The everyday Widelands sounds, sorted by path; label = a coarse category.

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``widelands-data`` package (default ``deb_root(PKG)``).

    Raises:
        SourceMissingError: the package (its sound members) is not unpacked.

    Example:
        >>> clips = load_widelands_sounds(limit=2).items
        >>> [(c.caption, c.label) for c in clips]
        [('bird song', 'animal'), ('bird song', 'animal')]
        >>> clips[0].origin
        'Debian widelands-data 2:1.1-3: data/sound/animals/bird1_00.ogg'
    """
    if root is None:
        root = require_deb(PKG, VERSION, "Widelands sounds")
    data = require_path(root / DATA / "sound", "Widelands sounds",
                        f"apt-get download {PKG}={VERSION} && extract its sound members into "
                        f"{deb_root(PKG)}").parent
    files = sorted([*data.glob("sound/**/*.ogg"), *data.glob("world/critters/*/*.ogg")])
    clips = []
    for path in files:
        stem = path.stem
        found = FILE_CAPTIONS.get(stem) or CAPTIONS.get(_VARIANT.sub("", stem))
        if found is None:
            continue
        caption, label = found
        clips.append(AudioClip(
            path=path, label=label, caption=caption, license=LICENSE,
            origin=f"Debian {PKG} {VERSION}: data/{path.relative_to(data).as_posix()}"))
    items = tuple(drop_duplicates(clips)[:limit])
    return Source(name=NAME, items=items, origin=f"Debian {PKG} {VERSION}", license=LICENSE)
