"""Shared types and locations of the offline real datasets."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")

INSTALL_SCRIPT = "scripts/install-data.sh"


class SourceMissingError(FileNotFoundError):
    """A dataset's package is not installed; the message names the install command."""


def data_dir() -> Path:
    """Where npm-packaged datasets are unpacked: ``$XMODAL_DATA_DIR`` or ~/.cache/xmodal/data."""
    return Path(os.environ.get("XMODAL_DATA_DIR", "~/.cache/xmodal/data")).expanduser()


def require_path(path: Path, source: str, install: str) -> Path:
    """``path`` if it exists, else :class:`SourceMissingError` naming how to install ``source``."""
    if not path.exists():
        raise SourceMissingError(
            f"{source} not found at {path}: install it with `{install}` "
            f"(or run {INSTALL_SCRIPT}, which installs every source)"
        )
    return path


def deb_root(package: str) -> Path:
    """Where ``scripts/install-data.sh`` unpacks a Debian package (``apt-get download`` +
    ``dpkg -x``, never installed): ``data_dir()/deb/PACKAGE``."""
    return data_dir() / "deb" / package


def require_deb(package: str, version: str, source: str) -> Path:
    """The unpacked root of ``package``, or :class:`SourceMissingError` naming how to get it."""
    root = deb_root(package)
    if not (root / ".complete").is_file():
        raise SourceMissingError(
            f"{source} not found: Debian package {package} is not unpacked at {root}; run "
            f"{INSTALL_SCRIPT} (it does `apt-get download {package}={version}` and `dpkg -x`)"
        )
    return root


def build_once(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder``, built by ``build(tmp)`` into a sibling temporary folder and renamed into place.

    A source whose items are not plain files in its package (sprites cut from sheets, SVG
    bodies rendered to PNG, sounds inside an archive) writes them once with this; a crash
    mid-build leaves no half folder behind, and a finished one is reused.
    """
    if (folder / ".complete").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build(tmp)
        (tmp / ".complete").write_text("ok\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class ImageText:
    """An image file with its caption, licence and provenance."""

    path: Path  # image file (SVG or PNG)
    caption: str  # the main description ("grinning face")
    tags: tuple[str, ...]  # extra keywords
    group: str  # coarse category ("smileys-emotion")
    license: str = ""  # this item's licence (SPDX-like, "CC-BY-3.0")
    origin: str = ""  # where it comes from: package and the path or key inside it


@dataclass(frozen=True)
class AudioClip:
    """An audio file with a label and a caption."""

    path: Path  # audio file
    label: str  # category ("drum", "bell")
    caption: str  # words for the text side ("drum cymbal open")
    license: str = ""  # this item's licence (SPDX-like, "CC-BY-3.0")
    origin: str = ""  # where it comes from: package and the path or key inside it


@dataclass(frozen=True)
class TextPair:
    """A query and its one relevant document."""

    id: str  # stable id of the pair
    query: str
    document: str


@dataclass(frozen=True)
class RatedPair:
    """Two texts (words or documents) with the mean human similarity score."""

    a: str
    b: str
    score: float  # on the dataset's own scale (WordSim353 0-10, SimLex-999 0-10, Lee 0-1)


@dataclass(frozen=True)
class LabelledImages:
    """Images as one array with integer labels (classification / zero-shot)."""

    images: np.ndarray  # (n, h, w) uint8
    labels: np.ndarray  # (n,) int64
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class Source(Generic[T]):
    """One loaded dataset: its items and where they came from."""

    name: str  # registry name, e.g. "sonic-pi"
    items: tuple[T, ...]
    origin: str  # the package it comes from
    license: str


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_VARIANT = re.compile(r"^(?:\d+|[a-z]?\d+[a-z]?|[a-f])$")


def stem_caption(name: str, *, prefixes: tuple[str, ...] = (), suffixes: tuple[str, ...] = ()
                 ) -> str:
    """A caption from a file name (``data-sources-2.md``'s "stem" rule).

    The stem (no folder, no extension) loses the first matching prefix and suffix, CamelCase is
    split, runs of ``_ - .`` become one space, trailing variant tokens go ("1", "-a", "_02",
    "b2"), digits glued to a word's end go ("cat3" → "cat"), and the rest is lower-cased.

    Example:
        >>> stem_caption("butterfly1-b.png"), stem_caption("Laugh-male1.wav")
        ('butterfly', 'laugh male')
        >>> stem_caption("default_dig_crumbly.ogg", prefixes=("default_",))
        'dig crumbly'
    """
    stem = Path(name).name
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    for prefix in prefixes:
        if stem.startswith(prefix) and len(stem) > len(prefix):
            stem = stem[len(prefix):]
            break
    for suffix in suffixes:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    words = [w for w in re.split(r"[\s_.\-]+", _CAMEL.sub(" ", stem)) if w]
    words = [w.lower() for w in words]
    while len(words) > 1 and _VARIANT.match(words[-1]):
        words.pop()
    words = [re.sub(r"(?<=[a-z])\d+$", "", w) for w in words]
    return " ".join(w for w in words if w)
