"""Shared types and locations of the offline real datasets."""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class ImageText:
    """An image file with its caption."""

    path: Path  # image file (SVG or PNG)
    caption: str  # the main description ("grinning face")
    tags: tuple[str, ...]  # extra keywords
    group: str  # coarse category ("smileys-emotion")


@dataclass(frozen=True)
class AudioClip:
    """An audio file with a label and a caption."""

    path: Path  # audio file
    label: str  # category ("drum", "bell")
    caption: str  # words for the text side ("drum cymbal open")


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
