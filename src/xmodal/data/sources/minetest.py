"""Minetest Game's foley: footsteps on 11 surfaces, digging, doors, chests, fire, water, glass, TNT.

Debian ``minetest-data`` 5.6.1+dfsg+~1.9.0mt8+dfsg-2 ships OGG Vorbis clips in
``usr/share/games/minetest/games/minetest_game/mods/<mod>/sounds/<mod>_<what>[.N].ogg``. The
caption is the stem without its mod prefix and variant number, reworded where the game's word is
not what a person would search for ("dig_cracky" → "pickaxe striking rock", "fire_small" →
"small fire", "gravel_footstep" → "gravel footstep"). Variants keep their own files and share
the caption.

Licences: CC-BY-SA-3.0 (Debian's copyright for ``*.ogg``) except where the mods' READMEs (and
Debian's copyright for ``doors/sounds`` and ``tnt/sounds``) name another licence for a sound:
CC-BY-3.0 or CC0-1.0, transcribed into ``LICENSES``.

Kept: 92 clips. Dropped: game-only cues whose words do not describe the sound
(``place_node*``, ``dug_node``, ``dig_dig_immediate``, ``dig_oddly_breakable_by_hand``,
``item_smoke``, ``player_damage``) and ``default_cool_lava`` (the same bytes as
``fire_extinguish_flame``).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

from ._common import AudioClip, Source, deb_root, require_deb, require_path
from ._sounds import drop_duplicates

PKG, VERSION = "minetest-data", "5.6.1+dfsg+~1.9.0mt8+dfsg-2"
MODS = "usr/share/games/minetest/games/minetest_game/mods"
NAME = "minetest-sounds"
DEFAULT_LICENSE = "CC-BY-SA-3.0"
FOOTSTEP_SURFACES = ("dirt", "glass", "grass", "gravel", "ice", "metal", "sand", "snow", "water",
                     "wood")

# Stem without mod prefix and variant → (caption, label). Stems not listed are dropped.
CAPTIONS: dict[str, tuple[str, str]] = {
    **{f"{s}_footstep": (f"{s} footstep", "footsteps") for s in FOOTSTEP_SURFACES},
    "hard_footstep": ("stone footstep", "footsteps"),
    "cart_moving": ("minecart rolling on rails", "vehicle"),
    "break_glass": ("glass breaking", "impact"),
    "chest_open": ("wooden chest opening", "household"),
    "chest_close": ("wooden chest closing", "household"),
    "dig_choppy": ("chopping wood", "tool"),
    "dig_cracky": ("pickaxe striking rock", "tool"),
    "dig_crumbly": ("digging dirt", "tool"),
    "dig_metal": ("striking metal", "tool"),
    "dig_snappy": ("snapping twigs", "nature"),
    "dug_metal": ("metal clank", "impact"),
    "furnace_active": ("furnace burning", "fire"),
    "gravel_dig": ("digging gravel", "tool"),
    "gravel_dug": ("digging gravel", "tool"),
    "ice_dig": ("chipping ice", "tool"),
    "ice_dug": ("ice cracking", "impact"),
    "tool_breaks": ("tool breaking", "tool"),
    "door_open": ("door opening", "door"),
    "door_close": ("door closing", "door"),
    "fencegate_open": ("gate opening", "door"),
    "fencegate_close": ("gate closing", "door"),
    "glass_door_open": ("glass door opening", "door"),
    "glass_door_close": ("glass door closing", "door"),
    "steel_door_open": ("steel door opening", "door"),
    "steel_door_close": ("steel door closing", "door"),
    "steel_bar_door_open": ("steel bar door opening", "door"),
    "steel_bar_door_close": ("steel bar door closing", "door"),
    "lava": ("lava bubbling", "fire"),
    "water": ("flowing water", "water"),
    "extinguish_flame": ("fire being put out, hissing", "fire"),
    "fire": ("fire crackling", "fire"),
    "flint_and_steel": ("striking flint and steel", "fire"),
    "large": ("large fire", "fire"),
    "small": ("small fire", "fire"),
    "explode": ("explosion", "impact"),
    "gunpowder_burning": ("gunpowder fuse burning", "fire"),
    "ignite": ("lighting a fuse", "fire"),
}
# ``<mod>/sounds/<file>`` patterns → licence, from the mods' READMEs and Debian's copyright;
# the first match wins, files matching none are DEFAULT_LICENSE.
LICENSES: tuple[tuple[str, str], ...] = (
    ("default/sounds/default_break_glass.*", "CC-BY-3.0"),
    ("default/sounds/default_dig_metal.ogg", "CC-BY-3.0"),
    ("default/sounds/default_dug_metal.*", "CC0-1.0"),
    ("default/sounds/default_metal_footstep.*", "CC0-1.0"),
    ("default/sounds/default_tool_breaks.*", "CC-BY-3.0"),
    ("default/sounds/default_water_footstep.*", "CC-BY-3.0"),
    ("default/sounds/default_dig_snappy.ogg", "CC0-1.0"),
    ("default/sounds/default_chest_*", "CC-BY-3.0"),  # mixed from CC0 and CC-BY-3.0 sounds
    ("default/sounds/default_snow_footstep.*", "CC0-1.0"),
    ("default/sounds/default_dig_choppy.*", "CC0-1.0"),
    ("default/sounds/default_gravel_d[iu]g.*", "CC0-1.0"),
    ("default/sounds/default_dig_cracky.*", "CC-BY-3.0"),
    ("default/sounds/default_hard_footstep.*", "CC-BY-3.0"),
    ("default/sounds/default_sand_footstep.*", "CC0-1.0"),
    ("default/sounds/default_ice_*", "CC-BY-3.0"),
    ("default/sounds/default_furnace_active.ogg", "CC0-1.0"),
    ("doors/sounds/doors_glass_door_*", "CC0-1.0"),
    ("doors/sounds/doors_fencegate_open.ogg", "CC0-1.0"),
    ("doors/sounds/*", "CC-BY-3.0"),
    ("env_sounds/sounds/*", "CC0-1.0"),
    ("fire/sounds/fire_small.ogg", "CC-BY-3.0"),
    ("fire/sounds/fire_large.ogg", "CC-BY-3.0"),
    ("fire/sounds/fire_fire.*", "CC-BY-3.0"),
    ("fire/sounds/fire_flint_and_steel.ogg", "CC-BY-3.0"),
    ("tnt/sounds/*", "CC0-1.0"),
)
_VARIANT = re.compile(r"\.\d+$")


def load_minetest_sounds(*, limit: int | None = None, root: Path | None = None
                         ) -> Source[AudioClip]:
    """The Minetest Game sounds, sorted by mod and file; label = a coarse category.

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``minetest-data`` package (default ``deb_root(PKG)``).

    Raises:
        SourceMissingError: the package is not unpacked.

    Example:
        >>> clips = load_minetest_sounds(limit=4).items
        >>> [c.caption for c in clips]
        ['minecart rolling on rails', 'minecart rolling on rails', 'minecart rolling on rails', 'glass breaking']
        >>> clips[3].label, clips[3].license
        ('impact', 'CC-BY-3.0')
    """  # noqa: E501
    if root is None:
        root = require_deb(PKG, VERSION, "Minetest sounds")
    mods = require_path(root / MODS, "Minetest sounds",
                        f"apt-get download {PKG}={VERSION} && dpkg -x it into {deb_root(PKG)}")
    clips = []
    for path in sorted(mods.glob("*/sounds/*.ogg")):
        mod = path.parent.parent.name
        stem = _VARIANT.sub("", path.stem)
        for prefix in (f"{mod}_", "default_"):
            stem = stem.removeprefix(prefix)
        if stem not in CAPTIONS:
            continue
        caption, label = CAPTIONS[stem]
        key = f"{mod}/sounds/{path.name}"
        license_ = next((lic for pattern, lic in LICENSES if fnmatchcase(key, pattern)),
                        DEFAULT_LICENSE)
        clips.append(AudioClip(path=path, label=label, caption=caption, license=license_,
                               origin=f"Debian {PKG} {VERSION}: mods/{key}"))
    items = tuple(drop_duplicates(clips)[:limit])
    return Source(name=NAME, items=items, origin=f"Debian {PKG} {VERSION}",
                  license="CC-BY-SA-3.0 / CC-BY-3.0 / CC0-1.0 per item")
