"""Fixtures shared across test folders: the toy corpus and an exact index beside it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The toy corpus of ``tests/api/toy.py`` (images, sounds, texts, side-car captions)."""
    from tests.api.toy import write_corpus  # imported when used, not at every collection

    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def uri(tmp_path: Path) -> str:
    """An exact (NumPy) index in a fresh folder."""
    return "exact:" + str(tmp_path / "idx")
