"""Fixtures of the index tests: one index per backend, clustered unit vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from xmodal.index import Index, open_index

BACKENDS = ("exact", "qdrant-edge", "qdrant-local")


def uri_for(kind: str, tmp_path: Path) -> str:
    """The open_index URI of a backend kind, in a test folder."""
    if kind == "exact":
        return f"exact:{tmp_path / 'exact'}"
    if kind == "qdrant-edge":
        return str(tmp_path / "edge")
    return "qdrant-local::memory:"


@pytest.fixture
def open_kind(tmp_path: Path) -> Iterator[Callable[..., Index]]:
    """Open an index of a backend kind; every index opened is closed at teardown."""
    opened: list[Index] = []

    def _open(kind: str, **options: object) -> Index:
        index = open_index(uri_for(kind, tmp_path), **options)
        opened.append(index)
        return index

    yield _open
    for index in opened:
        index.close()


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, open_kind: Callable[..., Index]) -> Index:
    """An empty index of each backend."""
    return open_kind(request.param)


def clustered(n: int, dim: int, *, centres: int = 40, noise: float = 0.35, seed: int = 0):
    """``n`` unit vectors around ``centres`` random centres, shape (n, dim) float32."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, dim))  # (c, d)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = c[rng.integers(0, centres, size=n)] + noise * rng.normal(size=(n, dim)) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # (n, d)
    return x.astype(np.float32)


def unit(rows) -> np.ndarray:
    """Rows normalised to unit norm, float32."""
    x = np.asarray(rows, dtype=np.float64)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
