"""Input checks that run before any store sees a batch, and the id scheme.

Stores differ in what they let through (Qdrant Edge indexes NaN vectors silently and counts a
duplicate id inside one batch twice), so xmodal checks every batch itself: finite values, the
collection's dimension, unit norm (or explicit normalisation), unique non-empty string ids and
JSON payloads. A refused batch writes nothing.

Example:
    >>> import numpy as np
    >>> check_vectors(np.array([[3.0, 4.0]]), dim=2, normalize=True).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    >>> check_vectors(np.array([[3.0, 4.0]]), dim=2, ids=["a"])
    Traceback (most recent call last):
    ...
    xmodal.index.types.VectorError: vector 'a': norm 5 is not 1 (...); pass normalize=True ...
    >>> point_id("doc-1") == point_id("doc-1")
    True
    >>> document_id("a/b.jpg", "0" * 64)
    'f03f93d07df61d8c'
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xmodal.index.filters import Filter, parse_filter
from xmodal.index.types import DuplicateIdError, VectorError

NORM_TOLERANCE = 1e-3
"""A stored or query vector's L2 norm must be within this of 1 (unless normalize=True)."""

ID_NAMESPACE = uuid.UUID("6f1c1a52-6a8e-5f0b-9d0e-78a1d0c0ffee")
"""UUID5 namespace of :func:`point_id`. Never change it: stored point ids depend on it."""

RESERVED_PAYLOAD_KEY = "_id"
"""Payload key under which the caller's id is stored next to the vector."""


def _row_name(ids: Sequence[str] | None, row: int) -> str:
    return repr(ids[row]) if ids is not None and row < len(ids) else f"#{row}"


def check_vectors(
    vectors: Any,
    *,
    dim: int,
    ids: Sequence[str] | None = None,
    normalize: bool = False,
) -> np.ndarray:
    """Validate a batch of vectors and return it as C-contiguous float32, shape (n, dim).

    Args:
        vectors: Array-like of shape (n, dim), or (dim,) for a single vector.
        dim: The collection's dimension.
        ids: The ids of the rows, used in error messages (row numbers otherwise).
        normalize: Rescale rows to unit norm instead of refusing rows whose norm is off by more
            than :data:`NORM_TOLERANCE`.

    Returns:
        The vectors, float32, shape (n, dim); rows re-normalised exactly to norm 1.

    Raises:
        VectorError: a ragged batch, the wrong dimension, NaN/Inf, a zero row, or (without
            ``normalize``) a row that is not unit norm. The message names the first bad row.
    """
    fast = _unit_float32(vectors, dim, ids)
    if fast is not None:
        return fast
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (ValueError, TypeError) as exc:  # ragged rows
        rows = list(vectors)
        for i, row in enumerate(rows):
            if np.size(row) != dim:
                raise VectorError(
                    f"vector {_row_name(ids, i)}: dimension {np.size(row)}, expected {dim}"
                ) from exc
        raise VectorError(f"vectors are not a numeric (n, {dim}) array: {exc}") from exc
    if arr.ndim == 1:
        arr = arr[None, :]  # (1, d)
    if arr.ndim != 2:
        raise VectorError(f"vectors must have shape (n, {dim}) or ({dim},), got {arr.shape}")
    if arr.shape[1] != dim:
        raise VectorError(f"vector {_row_name(ids, 0)}: dimension {arr.shape[1]}, expected {dim}")
    if ids is not None and len(ids) != arr.shape[0]:
        raise VectorError(f"{len(ids)} ids for {arr.shape[0]} vectors")
    finite = np.isfinite(arr).all(axis=1)  # (n,)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        bad = "NaN" if np.isnan(arr[i]).any() else "Inf"
        raise VectorError(f"vector {_row_name(ids, i)}: contains {bad}")
    norms = np.linalg.norm(arr, axis=1)  # (n,)
    zero = norms == 0
    if zero.any():
        raise VectorError(f"vector {_row_name(ids, int(np.flatnonzero(zero)[0]))}: zero vector")
    off = np.abs(norms - 1.0) > NORM_TOLERANCE
    if off.any() and not normalize:
        i = int(np.flatnonzero(off)[0])
        raise VectorError(
            f"vector {_row_name(ids, i)}: norm {norms[i]:.6g} is not 1 "
            f"(tolerance {NORM_TOLERANCE}); pass normalize=True to rescale"
        )
    return np.ascontiguousarray(arr / norms[:, None], dtype=np.float32)  # (n, d)


def _unit_float32(vectors: Any, dim: int, ids: Sequence[str] | None) -> np.ndarray | None:
    """The common case without copies to float64: a float32 array of finite unit rows.

    Returns the rows re-normalised in float32, or None when anything needs the careful path
    (another dtype, a shape or dimension problem, a non-finite or non-unit row), which then
    finds and names the problem. A query costs ~10 µs here instead of ~60 µs.
    """
    if not isinstance(vectors, np.ndarray) or vectors.dtype != np.float32:
        return None
    arr = vectors[None, :] if vectors.ndim == 1 else vectors  # (n, d)
    if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] == 0:
        return None
    if ids is not None and len(ids) != arr.shape[0]:
        return None
    norms = np.sqrt(np.einsum("ij,ij->i", arr, arr, dtype=np.float64))  # (n,)
    if not (np.isfinite(norms).all() and (np.abs(norms - 1.0) <= NORM_TOLERANCE).all()):
        return None
    return np.ascontiguousarray(arr / norms[:, None], dtype=np.float32)  # (n, d)


def check_ids(ids: Sequence[str]) -> list[str]:
    """Validate a batch of ids: non-empty strings, no id twice.

    Example:
        >>> check_ids(["a", "a"])
        Traceback (most recent call last):
        ...
        xmodal.index.types.DuplicateIdError: id 'a' appears twice in one batch (rows 0 and 1)

    Raises:
        VectorError: if an id is not a non-empty string (names the row).
        DuplicateIdError: if an id appears twice.
    """
    if isinstance(ids, str):
        raise VectorError("ids must be a sequence of strings, not one string")
    out = list(ids)
    seen: dict[str, int] = {}
    for i, doc_id in enumerate(out):
        if not isinstance(doc_id, str) or not doc_id:
            raise VectorError(f"row #{i}: id {doc_id!r} is not a non-empty string")
        if doc_id in seen:
            raise DuplicateIdError(
                f"id {doc_id!r} appears twice in one batch (rows {seen[doc_id]} and {i})"
            )
        seen[doc_id] = i
    return out


def check_payloads(
    payloads: Sequence[Mapping[str, Any] | None] | None, ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Validate payloads: one JSON-serialisable dict (or None) per id, no reserved key.

    Raises:
        VectorError: wrong length, non-dict, reserved key ``"_id"``, NaN float or not JSON.
    """
    if payloads is None:
        return [{} for _ in ids]
    out = list(payloads)
    if len(out) != len(ids):
        raise VectorError(f"{len(out)} payloads for {len(ids)} ids")
    result = []
    for doc_id, p in zip(ids, out, strict=True):
        if p is None:
            result.append({})
            continue
        if not isinstance(p, Mapping):
            raise VectorError(f"payload of {doc_id!r} is not a dict")
        if RESERVED_PAYLOAD_KEY in p:
            raise VectorError(f"payload of {doc_id!r}: key {RESERVED_PAYLOAD_KEY!r} is reserved")
        try:
            json.dumps(p, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise VectorError(f"payload of {doc_id!r} is not JSON: {exc}") from exc
        result.append(dict(p))
    return result


def check_filter(filter: Mapping[str, Any] | Filter | None) -> Filter:
    """Parse a payload filter: Qdrant's filter JSON (the subset of :mod:`xmodal.index.filters`)
    or the legacy exact-match shorthand ``{"key": value}`` (values str, int or bool).

    Returns:
        The typed :class:`~xmodal.index.filters.Filter` (falsy when there is no condition).

    Raises:
        FilterError: (a ``ValueError``) naming the condition at fault.
    """
    return parse_filter(filter)


def point_id(doc_id: str) -> str:
    """The store's point id of a caller id: a stable UUID5 string.

    Qdrant takes only unsigned integers or UUIDs as point ids, so xmodal stores
    ``uuid5(ID_NAMESPACE, doc_id)`` and keeps the caller's id in the payload under ``"_id"``.
    """
    return str(uuid.uuid5(ID_NAMESPACE, doc_id))


def document_id(path: str, content_sha256: str) -> str:
    """A stable document id from a file's path and the SHA-256 of its content.

    The id is the first 16 hex digits of ``sha256(path + "\\0" + content_sha256)``: the same
    file at the same path always gets the same id (so re-ingesting updates instead of
    duplicating), while the same bytes at two paths are two documents.
    """
    digest = hashlib.sha256(f"{path}\0{content_sha256}".encode()).hexdigest()
    return digest[:16]
