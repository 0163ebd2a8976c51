"""The starter models' training data: packaged sources grouped into families, deduplicated.

A *family* is one art or recording origin: the four emoji sets (OpenMoji, emoji-datasource,
Fluent Emoji 3D and flat) draw the same concepts with the same names, so they are one family;
every other package is its own. Out-of-domain figures leave a whole family out
(``benchmarks/generalisation.py``), so a family never leaks its style or its captions into
its own test.

A source may be capped (a deterministic, hash-ordered sample, so a cap keeps a spread of the
source rather than its first files): the General-MIDI renders are, so that 128 instruments at
three pitches do not outnumber the everyday sounds. Image sources are not: capping Cataclysm DDA,
game-icons and Fluent Emoji (2,500 / 1,500 / 2 × 1,000 items) left the out-of-domain mean of
``benchmarks/generalisation.py`` where it was and cost the emoji fold 0.03. Caps are part of
each family's definition and are reported with the model.
Near-duplicate items across families (the same drawing or recording shipped twice) are
removed before any split by :func:`dedup_across` (tower-feature cosine).

Example:
    >>> sorted(IMAGE_FAMILIES)[:3]
    ['cataclysm-dda', 'emoji', 'game-icons']
    >>> caption_key("  A Red Apple ")
    'a red apple'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xmodal.data.sources import load_source

# Cataclysm DDA tilesets drawn as sprites on a transparent ground (RetroDays, NeoDays and
# HitButton_iso draw glyph-like symbols on black)
CDDA_TILESETS = ("ChibiUltica", "UltimateCataclysm", "MshockXotto+", "ChestHole16Tileset",
                 "BrownLikeBears", "Cuteclysm", "HoderTileset")
OPTIONS: dict[str, dict] = {"cataclysm-dda": {"tilesets": CDDA_TILESETS}}
"""Loader options per source."""
EXCLUDED_GROUPS: dict[str, frozenset[str]] = {
    "cataclysm-dda": frozenset({"gun", "ammo"}),  # named by model code ("ar-10", "sten")
}
"""Groups of a source left out of training (not everyday, or not named in words)."""

# family -> [(source name, cap or None)]
IMAGE_FAMILIES: dict[str, tuple[tuple[str, int | None], ...]] = {
    "emoji": (("emoji-datasource", None), ("openmoji", None), ("fluent-emoji-flat", None),
              ("fluent-emoji", None)),
    "sweethome3d": (("sweethome3d", None),),
    "cataclysm-dda": (("cataclysm-dda", None),),
    "scratch": (("scratch-images", None),),
    "gcompris": (("gcompris-images", None),),
    "game-icons": (("game-icons", None),),
}
AUDIO_FAMILIES: dict[str, tuple[tuple[str, int | None], ...]] = {
    "openttd": (("openttd-sounds", None),),
    "scratch": (("scratch-sounds", None),),
    "widelands": (("widelands-sounds", None),),
    "gcompris": (("gcompris-sounds", None),),
    "minetest": (("minetest-sounds", None),),
    "lincity": (("lincity-sounds", None),),
    "wesnoth": (("wesnoth-sounds", None),),
    "flare": (("flare-sounds", None),),
    "instruments": (("sonic-pi", None), ("freedesktop-sounds", None),
                    ("gm-instruments", 250)),
}


@dataclass(frozen=True)
class StarterPair:
    """One training pair with where it comes from."""

    item: str  # file path of the image or sound
    caption: str  # its caption
    family: str  # the family (see the module docstring)
    source: str  # the source's registry name ("openmoji")
    license: str  # the item's licence (the source's when the item has none)


def caption_key(caption: str) -> str:
    """The caption as compared and split: lower-case, trimmed."""
    return caption.lower().strip()


def _sample(items: list, cap: int | None) -> list:
    if cap is None or len(items) <= cap:
        return items
    order = sorted(range(len(items)), key=lambda i: hashlib.sha1(
        f"{items[i].origin or items[i].path}".encode()).hexdigest())
    return [items[i] for i in sorted(order[:cap])]


def load_family(name: str, modality: str) -> list[StarterPair]:
    """The pairs of one family (``modality`` "image" or "audio"), each source capped."""
    families = IMAGE_FAMILIES if modality == "image" else AUDIO_FAMILIES
    if name not in families:
        raise ValueError(f"unknown {modality} family {name!r}; known: {', '.join(families)}")
    pairs = []
    for source, cap in families[name]:
        loaded = load_source(source, **OPTIONS.get(source, {}))
        skip = EXCLUDED_GROUPS.get(source, frozenset())
        items = [i for i in loaded.items if getattr(i, "group", None) not in skip]
        for item in _sample(items, cap):
            pairs.append(StarterPair(item=str(item.path), caption=caption_key(item.caption),
                                     family=name, source=source,
                                     license=getattr(item, "license", "") or loaded.license))
    return [p for p in pairs if p.caption]


def load_families(modality: str, names: Sequence[str] | None = None) -> list[StarterPair]:
    """Every family's pairs (or ``names``' only), in the families' order."""
    families = IMAGE_FAMILIES if modality == "image" else AUDIO_FAMILIES
    return [p for n in (names or list(families)) for p in load_family(n, modality)]


def dedup_across(pairs: Sequence[StarterPair], features: np.ndarray, *,
                 threshold: float = 0.95, chunk: int = 2048) -> np.ndarray:
    """Indices of the pairs to keep: a pair whose item is a near duplicate (cosine of the
    frozen tower's unit features ≥ ``threshold``) of a kept item of *another* family goes.

    Earlier pairs win, so the families' order decides which copy stays. Within a family,
    duplicates are the trainer's business (:func:`~xmodal.data.dedup.dedup_pairs` groups them).

    Example:
        >>> f = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
        >>> p = [StarterPair("a", "x", "f1", "s", ""), StarterPair("b", "x", "f2", "s", ""),
        ...      StarterPair("c", "y", "f2", "s", "")]
        >>> dedup_across(p, f).tolist()
        [0, 2]
    """
    x = np.asarray(features, dtype=np.float32)  # (n, d)
    fam = np.array([p.family for p in pairs])
    drop = np.zeros(len(pairs), dtype=bool)
    for start in range(0, len(pairs), chunk):
        rows = slice(start, min(start + chunk, len(pairs)))
        sims = x[rows] @ x[: rows.stop].T  # (b, upto)
        for r in range(sims.shape[0]):
            i = start + r
            near = np.flatnonzero(sims[r, :i] >= threshold)
            if near.size and np.any((fam[near] != fam[i]) & ~drop[near]):
                drop[i] = True
    return np.flatnonzero(~drop)
