"""Flare's sound effects: environment loops, material handling sounds, footsteps, doors.

Debian ``flare-game`` 1.14-1 ships 108 OGG Vorbis files under
``usr/share/games/flare/mods/fantasycore/soundfx/`` (the top level, ``environment/``,
``inventory/``, ``steps/``, ``enemies/``, ``npcs/``, ``powers/``). The game's art and data are
CC-BY-SA-3.0 or later (``usr/share/doc/flare-game/copyright``: "Files: *", CC-BY-SA-3.0+).
Kept by the explicit whitelist :data:`RULES` (39 clips): the environment loops (birds, owl,
raven, river, wind, cave drips, open fire, anvil), the stone and wooden doors, the heartbeat,
nine inventory sounds that say their material (coins, cloth, chain mail, paper...) and the four
kinds of footsteps. Dropped: ``enemies/`` (monsters), ``powers/`` (spells), ``npcs/`` (speech),
the pain cries, UI cues (level up, no mana, loot), the teleporter, and sounds whose name does
not say what is heard ("stairs", "inventory_object", "inventory_gem", "inventory_potion").
"""

from __future__ import annotations

from pathlib import Path

from ._common import AudioClip, Source, deb_root, require_deb, require_path
from ._whitelist import Rule, whitelisted_clips

PKG, VERSION = "flare-game", "1.14-1"
SOUNDS = "usr/share/games/flare/mods/fantasycore/soundfx"
LICENSE = "CC-BY-SA-3.0+"

# Path under SOUNDS without ".ogg" (a regular expression) → caption, label: the stem minus
# "_loop" and "inventory_", with the words that say what is heard.
RULES: list[Rule] = [
    (r"door_open", "door opening", "object"),
    (r"wood_open", "wooden chest creaking open", "object"),
    (r"heartbeat", "heartbeat", "human"),
    (r"environment/anvil_loop", "hammering on an anvil", "tool"),
    (r"environment/bird_twitter_loop", "birds twittering", "animal"),
    (r"environment/cave_droplets_loop", "water dripping in a cave", "environment"),
    (r"environment/cave_wind_loop", "wind in a cave", "environment"),
    (r"environment/forest_owl_loop", "owl hooting in a forest", "animal"),
    (r"environment/open_fire(_loop)?", "open fire crackling", "environment"),
    (r"environment/raven_loop", "raven cawing", "animal"),
    (r"environment/river_loop", "river flowing", "environment"),
    (r"environment/stone_open", "heavy stone door grinding open", "object"),
    (r"environment/wind_loop", "wind blowing", "environment"),
    (r"inventory/inventory_book", "book thud", "material"),
    (r"inventory/inventory_cloth", "cloth rustling", "material"),
    (r"inventory/inventory_coins", "coins clinking", "material"),
    (r"inventory/inventory_heavy", "heavy object thud", "material"),
    (r"inventory/inventory_leather", "leather creaking", "material"),
    (r"inventory/inventory_maille", "chain mail jingling", "material"),
    (r"inventory/inventory_metal", "metal clank", "material"),
    (r"inventory/inventory_page", "paper rustling", "material"),
    (r"inventory/inventory_wood", "wooden knock", "material"),
    (r"steps/step_cloth\d", "soft footstep", "human"),
    (r"steps/step_echo\d", "echoing footstep", "human"),
    (r"steps/step_leather\d", "leather boot footstep", "human"),
    (r"steps/step_metal\d", "footstep in metal armour", "human"),
]


def load_flare_sounds(*, limit: int | None = None, root: Path | None = None
                      ) -> Source[AudioClip]:
    """The whitelisted sounds, sorted by path; label = a coarse category ("material").

    Args:
        limit: keep only the first ``limit`` items.
        root: the unpacked ``flare-game`` package (default its ``deb_root``).

    Raises:
        SourceMissingError: the package is not unpacked.

    Example:
        >>> clips = load_flare_sounds(limit=3).items
        >>> [(c.label, c.caption) for c in clips]
        [('object', 'door opening'), ('tool', 'hammering on an anvil'), ('animal', 'birds twittering')]
        >>> clips[0].license, clips[0].origin.endswith("soundfx/door_open.ogg")
        ('CC-BY-SA-3.0+', True)
    """  # noqa: E501
    if root is None:
        root = require_deb(PKG, VERSION, "Flare sounds")
    folder = require_path(root / SOUNDS, "Flare sounds",
                          f"apt-get download {PKG}={VERSION} && dpkg -x it into {deb_root(PKG)}")
    clips = whitelisted_clips(folder, RULES, suffixes=(".ogg",), license=LICENSE,
                              origin=f"Debian {PKG} {VERSION}", root=root)
    return Source(name="flare-sounds", items=tuple(clips[:limit]),
                  origin=f"Debian {PKG} {VERSION}", license=LICENSE)
