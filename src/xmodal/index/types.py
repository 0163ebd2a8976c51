"""Result types and errors of the index stage.

Every result is a frozen dataclass; every refusal is a subclass of :class:`IndexStoreError`, so a
caller can catch the whole family, or one kind (they also subclass the matching built-in).

Example:
    >>> import numpy as np
    >>> hits = SearchHits(ids=("a",), scores=np.array([0.9], np.float32), payloads=({},))
    >>> len(hits), hits.ids[0]
    (1, 'a')
    >>> issubclass(VectorError, ValueError), issubclass(CollectionNotFoundError, KeyError)
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xmodal.index.quantization import Quantization


@dataclass(frozen=True)
class CollectionInfo:
    """What a collection holds: one model, one modality, one dimension.

    Attributes:
        name: The collection's name.
        dim: Vector dimension.
        model: Name of the model whose vectors the collection holds.
        modality: The modality of the stored items ("image", "text", "audio", ...).
        card: Free-form model card (checkpoint, revision, preprocessing, ...).
        calibration: Score calibration of this model, or None while uncalibrated.
        count: Number of stored vectors when the info was taken.
        backend: "exact", "qdrant-edge" or "qdrant-server".
        quantization: How the vectors are stored for search: "none", "scalar" or "binary"
            (see :mod:`xmodal.index.quantization`).
    """

    name: str
    dim: int
    model: str
    modality: str
    card: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    count: int = 0
    backend: str = ""
    quantization: Quantization = "none"


@dataclass(frozen=True)
class Record:
    """One stored item, as :meth:`Collection.get` returns it.

    Attributes:
        id: The caller's id.
        vector: The stored unit vector, shape (dim,) float32, or None when not asked for.
        payload: The caller's payload (without the reserved ``"_id"`` key).
    """

    id: str
    vector: np.ndarray | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class SearchHits:
    """The hits of one query, best first.

    Attributes:
        ids: Hit ids, best first (at most k).
        scores: Cosine scores, shape (len(ids),) float32, non-increasing.
        payloads: The payload of each hit.
    """

    ids: tuple[str, ...]
    scores: np.ndarray
    payloads: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class UpsertResult:
    """How many ids of an upsert batch were new and how many replaced a stored item."""

    inserted: int
    updated: int


class IndexStoreError(Exception):
    """Base class of every refusal of the index stage."""


class CollectionMismatchError(IndexStoreError, ValueError):
    """409-style refusal: another model, modality or dimension than the collection's."""


class VectorError(IndexStoreError, ValueError):
    """A vector is unusable: NaN/Inf, wrong dimension, zero, or not unit norm. Names the row."""


class DuplicateIdError(IndexStoreError, ValueError):
    """The same id appears twice in one batch."""


class CollectionNotFoundError(IndexStoreError, KeyError):
    """No collection of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IndexBusyError(IndexStoreError, RuntimeError):
    """An embedded index folder is already open in another process (one process per folder)."""
