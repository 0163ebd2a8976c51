"""Picking sound files by an explicit whitelist of path patterns (Wesnoth, Flare)."""

from __future__ import annotations

import re
from pathlib import Path

from ._common import AudioClip

# (pattern fully matching the path under the sounds folder, without its suffix; caption; label)
Rule = tuple[str, str, str]


def whitelisted_clips(folder: Path, rules: list[Rule], *, suffixes: tuple[str, ...],
                      license: str, origin: str, root: Path) -> list[AudioClip]:
    """Every file under ``folder`` whose path matches a rule, sorted by path, as clips.

    The first matching rule gives the caption and label; files no rule matches are dropped.
    ``origin`` is prefixed to the file's path under ``root``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for name in ("a/bird-2.ogg", "a/bird-1.ogg", "a/spell.ogg", "notes.txt"):
        ...         (Path(tmp) / name).parent.mkdir(exist_ok=True)
        ...         _ = (Path(tmp) / name).write_bytes(b"")
        ...     clips = whitelisted_clips(Path(tmp), [(r"a/bird-\\d", "bird", "animal")],
        ...                               suffixes=(".ogg",), license="GPL-2+", origin="pkg",
        ...                               root=Path(tmp))
        >>> [(c.caption, c.label, c.origin) for c in clips]
        [('bird', 'animal', 'pkg: a/bird-1.ogg'), ('bird', 'animal', 'pkg: a/bird-2.ogg')]
    """
    compiled = [(re.compile(pattern), caption, label) for pattern, caption, label in rules]
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*")
                   if p.suffix.lower() in suffixes and p.is_file())
    clips = []
    for rel, path in files:
        stem = rel.rsplit(".", 1)[0]
        for pattern, caption, label in compiled:
            if pattern.fullmatch(stem):
                clips.append(AudioClip(path=path, label=label, caption=caption, license=license,
                                       origin=f"{origin}: {path.relative_to(root).as_posix()}"))
                break
    return clips
