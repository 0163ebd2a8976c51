"""Helpers shared by the packaged-game sound loaders (OpenTTD, Widelands, Minetest, Lincity-NG)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from ._common import AudioClip


def file_md5(path: Path) -> str:
    """The MD5 of a file's bytes (to find files a package ships twice under two names)."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def drop_duplicates(clips: Iterable[AudioClip]) -> list[AudioClip]:
    """``clips`` without byte-identical repeats, in their order.

    A file whose bytes repeat an earlier one with the same caption is dropped (kept once); bytes
    shipped under two different captions are dropped everywhere, since at most one caption can
    be right and the package does not say which.

    Example:
        >>> drop_duplicates([])
        []
    """
    clips = list(clips)
    digests = [file_md5(c.path) for c in clips]
    captions: dict[str, set[str]] = {}
    for clip, digest in zip(clips, digests, strict=True):
        captions.setdefault(digest, set()).add(clip.caption)
    kept: list[AudioClip] = []
    seen: set[str] = set()
    for clip, digest in zip(clips, digests, strict=True):
        if len(captions[digest]) == 1 and digest not in seen:
            kept.append(clip)
        seen.add(digest)
    return kept
