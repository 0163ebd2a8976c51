"""The base classes a backend subclasses: validation before the store, metadata, the life cycle.

A backend subclasses :class:`CollectionBase` (implementing ``_upsert``, ``_search``, ``_get``,
``_delete``, ``_delete_where``, ``count``, ``_save_meta``) and :class:`IndexBase` (``_create``,
``_open``, ``_names``, ``_drop``, ``_close``); ``exact.py`` is the shortest example. The public
methods here check everything first, so a refused batch never reaches the store. What callers
may rely on is the :class:`~xmodal.index.protocols.Collection` /
:class:`~xmodal.index.protocols.Index` contract (:mod:`xmodal.index.protocols`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xmodal.index import _meta
from xmodal.index.filters import Filter, FilterError
from xmodal.index.quantization import Quantization, stored_quantization
from xmodal.index.types import (
    CollectionInfo,
    CollectionMismatchError,
    CollectionNotFoundError,
    Record,
    SearchHits,
    UpsertResult,
)
from xmodal.index.validate import check_filter, check_ids, check_payloads, check_vectors


def _given_dim(vectors: Any) -> int | None:
    """The trailing dimension of a regular numeric batch, or None (ragged: validate later)."""
    if isinstance(vectors, np.ndarray) and vectors.dtype.kind == "f":
        return int(vectors.shape[-1]) if vectors.ndim in (1, 2) and vectors.size else None
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    return int(arr.shape[-1]) if arr.ndim in (1, 2) and arr.size else None


class CollectionBase:
    """Validation and metadata around a backend's storage primitives."""

    backend: str = ""

    def __init__(self, meta: dict[str, Any]) -> None:
        self._meta = meta

    # -- public API -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The collection's name."""
        return str(self._meta["name"])

    @property
    def dim(self) -> int:
        """The collection's dimension."""
        return int(self._meta["dim"])

    @property
    def model(self) -> str:
        """The model whose vectors the collection holds."""
        return str(self._meta["model"])

    @property
    def quantization(self) -> Quantization:
        """How the vectors are stored for search (stored metadata; see
        :mod:`xmodal.index.quantization`)."""
        return stored_quantization(self._meta)

    @property
    def info(self) -> CollectionInfo:
        """Name, dimension, model, modality, card, calibration, count, backend, quantization."""
        m = self._meta
        return CollectionInfo(
            name=m["name"],
            dim=m["dim"],
            model=m["model"],
            modality=m["modality"],
            card=dict(m["card"]),
            calibration=None if m["calibration"] is None else dict(m["calibration"]),
            count=self.count(),
            backend=self.backend,
            quantization=self.quantization,
        )

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        model: str | None = None,
        normalize: bool = False,
    ) -> UpsertResult:
        """Insert or replace items; see :class:`xmodal.index.protocols.Collection`."""
        self._check_model(model)
        self._check_dim(vectors, model)
        id_list = check_ids(ids)
        vecs = check_vectors(vectors, dim=self.dim, ids=id_list, normalize=normalize)  # (n, d)
        pls = check_payloads(payloads, id_list)
        if not id_list:
            return UpsertResult(0, 0)
        return self._upsert(id_list, vecs, pls)

    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        model: str | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
        normalize: bool = False,
    ) -> list[SearchHits]:
        """Top-k by cosine per query; see :class:`xmodal.index.protocols.Collection`."""
        self._check_model(model)
        self._check_dim(queries, model)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        q = check_vectors(queries, dim=self.dim, normalize=normalize)  # (q, d)
        flt = check_filter(filter)
        return self._search(q, k, flt)

    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """The stored record of each id (vector included), None where absent."""
        id_list = list(ids)
        if not id_list:
            return []
        found = self._get(sorted(set(id_list)))
        return [found.get(i) for i in id_list]

    def delete(self, ids: Sequence[str]) -> int:
        """Delete ids; returns how many were present."""
        id_list = sorted(set(ids))
        return self._delete(id_list) if id_list else 0

    def delete_where(self, filter: Mapping[str, Any] | Filter) -> int:
        """Delete every point whose payload matches ``filter``; returns how many.

        Raises:
            FilterError: a malformed filter, or one without a condition (it would delete
                everything: drop the collection for that).
        """
        flt = check_filter(filter)
        if not flt:
            raise FilterError("", "delete_where needs a condition (drop the collection to "
                              "delete everything)")
        return self._delete_where(flt)

    def set_calibration(self, calibration: Mapping[str, Any] | None) -> None:
        """Store this model's score calibration (JSON dict, or None to clear)."""
        self._meta = {
            **self._meta,
            "calibration": None if calibration is None else dict(calibration),
        }
        self._save_meta()

    def stats(self) -> dict[str, Any]:
        """Count, dim, model, modality, backend, plus backend-specific keys."""
        return {
            "backend": self.backend,
            "name": self.name,
            "count": self.count(),
            "dim": self.dim,
            "model": self._meta["model"],
            "modality": self._meta["modality"],
            "quantization": self.quantization,
            **self._extra_stats(),
        }

    def optimize(self) -> bool:
        """Build or compact the store's index now; True if anything changed."""
        return False

    def __repr__(self) -> str:
        m = self._meta
        return (
            f"{type(self).__name__}({m['name']!r}, model={m['model']!r}, "
            f"modality={m['modality']!r}, dim={m['dim']})"
        )

    # -- checks ------------------------------------------------------------------------------
    def _check_model(self, model: str | None) -> None:
        if model is not None and model != self._meta["model"]:
            raise CollectionMismatchError(
                f"collection {self.name!r} holds vectors of model {self._meta['model']!r} "
                f"(dim {self.dim}); got vectors of model {model!r}"
            )

    def _check_dim(self, vectors: Any, model: str | None) -> None:
        d = _given_dim(vectors)
        if d is not None and d != self.dim:
            who = f"model {model!r}, " if model else ""
            raise CollectionMismatchError(
                f"collection {self.name!r} holds model {self._meta['model']!r} vectors of "
                f"dim {self.dim}; got {who}dim {d}"
            )

    # -- backend primitives -----------------------------------------------------------------
    def _upsert(
        self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
    ) -> UpsertResult:
        raise NotImplementedError

    def _search(self, queries: np.ndarray, k: int, flt: Filter) -> list[SearchHits]:
        raise NotImplementedError

    def _get(self, ids: list[str]) -> dict[str, Record]:
        raise NotImplementedError

    def _delete(self, ids: list[str]) -> int:
        raise NotImplementedError

    def _delete_where(self, flt: Filter) -> int:
        raise NotImplementedError

    def count(self) -> int:
        """Number of stored vectors."""
        raise NotImplementedError

    def _save_meta(self) -> None:
        raise NotImplementedError

    def _extra_stats(self) -> dict[str, Any]:
        return {}


class IndexBase:
    """Collection bookkeeping and the context-manager life cycle."""

    backend: str = ""

    def __init__(self) -> None:
        self._open_cols: dict[str, CollectionBase] = {}
        self._closed = False
        self._lexical: Any = None  # the lexical collection, once opened (lexical_store.py)

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
    ) -> CollectionBase:
        """Create a collection; see :class:`xmodal.index.protocols.Index`."""
        self._check_open()
        meta = _meta.new_meta(
            name,
            dim=dim,
            model=model,
            modality=modality,
            card=dict(card) if card else None,
            calibration=dict(calibration) if calibration is not None else None,
            quantization="none" if quantization is None else quantization,
        )
        if name in self._names():
            if not exist_ok:
                raise ValueError(f"collection {name!r} exists (pass exist_ok=True to reuse it)")
            col = self.collection(name)
            _meta.check_same(col._meta, dim=dim, model=model, modality=modality)
            _meta.check_same_quantization(name, col.quantization, quantization)
            return col
        col = self._create(meta)
        self._open_cols[name] = col
        return col

    def collection(self, name: str) -> CollectionBase:
        """An existing collection, or CollectionNotFoundError."""
        self._check_open()
        if name not in self._open_cols:
            if name not in self._names():
                raise CollectionNotFoundError(
                    f"no collection {name!r} in this {self.backend} index"
                )
            self._open_cols[name] = self._open(name)
        return self._open_cols[name]

    def collections(self) -> list[CollectionInfo]:
        """Info of every collection, sorted by name."""
        self._check_open()
        return [self.collection(n).info for n in sorted(self._names())]

    def drop_collection(self, name: str) -> None:
        """Delete a collection and its vectors."""
        self._check_open()
        if name not in self._names():
            raise CollectionNotFoundError(f"no collection {name!r} in this {self.backend} index")
        self._drop(name, self._open_cols.pop(name, None))

    def close(self) -> None:
        """Flush and release the store (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._lexical is not None:
                self._lexical.close()
            self._close()
            self._open_cols.clear()

    def __enter__(self) -> IndexBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: release file locks of a forgotten index
        with contextlib.suppress(Exception):
            self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this {self.backend} index is closed")

    # -- backend primitives -----------------------------------------------------------------
    def _names(self) -> list[str]:
        raise NotImplementedError

    def _create(self, meta: dict[str, Any]) -> CollectionBase:
        raise NotImplementedError

    def _open(self, name: str) -> CollectionBase:
        raise NotImplementedError

    def _drop(self, name: str, col: CollectionBase | None) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError
