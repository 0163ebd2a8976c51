"""The ``Index`` and ``Collection`` protocols every backend implements (the contract callers use;
a backend gets it by subclassing the base classes of :mod:`xmodal.index.base`).

A collection holds the unit vectors of one model and one modality, at one dimension; the index
refuses (409-style :class:`~xmodal.index.types.CollectionMismatchError`) any attempt to mix in
another model's or dimension's vectors. Scores are cosines (dot products of unit vectors).

Order of hits: the exact backend breaks score ties by id (ascending); ANN backends (Qdrant Edge,
Qdrant server) return their engine's order, so equal scores may come in any order there.

Example:
    >>> import numpy as np, tempfile
    >>> from xmodal.index import open_index
    >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
    ...     col = index.create_collection("photos", dim=2, model="toy", modality="image")
    ...     col.upsert(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]))
    ...     hits = col.search(np.array([0.6, 0.8]), k=1)[0]
    UpsertResult(inserted=2, updated=0)
    >>> hits.ids, round(float(hits.scores[0]), 3)
    (('b',), 0.8)
    >>> isinstance(index, Index)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from xmodal.index.quantization import Quantization
from xmodal.index.types import CollectionInfo, Record, SearchHits, UpsertResult


@runtime_checkable
class Collection(Protocol):
    """The vectors of one (model, modality) pair, at one dimension."""

    @property
    def info(self) -> CollectionInfo:
        """Name, dimension, model, modality, card, calibration, count, backend, quantization."""
        ...

    @property
    def name(self) -> str:
        """The collection's name (stored metadata: no count, cheap on a hot path)."""
        ...

    @property
    def dim(self) -> int:
        """The dimension (from the stored metadata: no count, cheap on a hot path)."""
        ...

    @property
    def model(self) -> str:
        """The model whose vectors the collection holds (stored metadata, cheap)."""
        ...

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        model: str | None = None,
        normalize: bool = False,
    ) -> UpsertResult:
        """Insert or replace items. Everything is validated before the store sees the batch.

        Args:
            ids: One non-empty string id per row, none twice.
            vectors: Unit vectors, shape (n, dim) (or (dim,) for one).
            payloads: One JSON dict (or None) per row; the key ``"_id"`` is reserved.
            model: The model that produced ``vectors``; refused when not the collection's.
            normalize: Rescale rows to unit norm instead of refusing them.

        Raises:
            CollectionMismatchError: another model or dimension than the collection's.
            VectorError: NaN/Inf, zero or non-unit rows (names the id), bad payloads.
            DuplicateIdError: an id twice in the batch.
        """
        ...

    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        model: str | None = None,
        filter: Mapping[str, Any] | None = None,
        normalize: bool = False,
    ) -> list[SearchHits]:
        """Top-k by cosine for each query, shape (q, dim) or (dim,): one SearchHits per query.

        ``filter`` is exact-match on payload fields: ``{"key": value}`` (all must match).
        """
        ...

    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """The stored record of each id, None where absent."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete ids; returns how many were present."""
        ...

    def delete_where(self, filter: Mapping[str, Any]) -> int:
        """Delete every point whose payload matches ``filter`` (Qdrant's filter JSON, as
        :meth:`search` takes; one without a condition is refused); returns how many.

        A document's time segments are deleted so (``document_id`` in their payload).
        """
        ...

    def count(self) -> int:
        """Number of stored vectors."""
        ...

    def stats(self) -> dict[str, Any]:
        """Backend statistics (count, dim, model, and backend-specific keys)."""
        ...

    def set_calibration(self, calibration: Mapping[str, Any] | None) -> None:
        """Store this model's score calibration with the collection."""
        ...


@runtime_checkable
class Index(Protocol):
    """A set of named collections in one store."""

    def create_collection(
        self,
        name: str,
        *,
        dim: int,
        model: str,
        modality: str,
        card: Mapping[str, Any] | None = None,
        calibration: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
        quantization: Quantization | None = None,
    ) -> Collection:
        """Create a collection; with ``exist_ok`` return the existing one if it matches.

        ``quantization`` (``"none"``, ``"scalar"``, ``"binary"``; see
        :mod:`xmodal.index.quantization`) is fixed at creation; None means ``"none"`` for a
        new collection and "whatever it has" for an existing one.

        Raises:
            ValueError: the name exists and ``exist_ok`` is False; an unknown quantization.
            CollectionMismatchError: it exists with another model, modality or dimension, or
                with another quantization than one explicitly asked for.
        """
        ...

    def collection(self, name: str) -> Collection:
        """An existing collection, or :class:`CollectionNotFoundError`."""
        ...

    def collections(self) -> list[CollectionInfo]:
        """Info of every collection, sorted by name."""
        ...

    def drop_collection(self, name: str) -> None:
        """Delete a collection and its vectors (CollectionNotFoundError if absent)."""
        ...

    def close(self) -> None:
        """Flush and release the store (idempotent)."""
        ...

    def __enter__(self) -> Index: ...

    def __exit__(self, *exc: object) -> None: ...
