"""Stored items through the served API: ids and upserted items checked before the store sees
them (``GET/POST /collections/{name}/points``, the MCP ``fetch_item``).

Every refusal names the item: an empty id list or one above :data:`MAX_BATCH` ids, an id that
is not a non-empty string, a vector of another dimension or not finite, a payload that is not a
plain JSON object.

Example:
    >>> check_ids(["a", "b"])
    ['a', 'b']
    >>> checked_items([{"id": "a", "vector": [1, 0], "payload": ["x"]}], dim=2)
    Traceback (most recent call last):
    ...
    xmodal.api.limits.BadInput: payload of a must be an object
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xmodal.api.limits import BadInput, InputTooLarge, check_vector

__all__ = ["MAX_BATCH", "check_ids", "checked_items", "records"]

MAX_BATCH = 1000
"""Most items one upsert, get or delete call may carry."""


def check_ids(ids: Sequence[str]) -> list[str]:
    """``ids`` as a list, or :class:`BadInput` / :class:`InputTooLarge` saying what is wrong."""
    ids = list(ids)
    if not ids:
        raise BadInput("give at least one id")
    if len(ids) > MAX_BATCH:
        raise InputTooLarge(f"{len(ids)} ids in one call; the limit is {MAX_BATCH}")
    if not all(isinstance(i, str) and i for i in ids):
        raise BadInput("ids must be non-empty strings")
    return ids


def records(col: Any, ids: Sequence[str], with_vectors: bool = False
            ) -> list[dict[str, Any] | None]:
    """The stored record of each id in collection ``col`` (``{id, payload[, vector]}``), None
    where absent."""
    out: list[dict[str, Any] | None] = []
    for rec in col.get(check_ids(ids)):
        if rec is None:
            out.append(None)
            continue
        item: dict[str, Any] = {"id": rec.id, "payload": rec.payload}
        if with_vectors and rec.vector is not None:
            item["vector"] = [float(x) for x in rec.vector]
        out.append(item)
    return out


def checked_items(items: Sequence[Mapping[str, Any]], dim: int
                  ) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """``(ids, vectors, payloads)`` of ``[{"id", "vector", "payload"}]`` to upsert into a
    collection of dimension ``dim``.

    Raises:
        BadInput: no item, a bad id or payload. InputTooLarge: above :data:`MAX_BATCH`.
        VectorError: a bad vector (names the id).
    """
    if not items:
        raise BadInput("give at least one item")
    if len(items) > MAX_BATCH:
        raise InputTooLarge(f"{len(items)} items in one call; the limit is {MAX_BATCH}")
    ids = check_ids([it.get("id") for it in items])
    rows = []
    for it in items:
        raw = it.get("vector")
        check_vector(raw if raw is not None else [], dim, what=f"vector of {it['id']}")
        rows.append(np.asarray(raw, dtype=np.float32))
    payloads = []
    for it in items:
        p = it.get("payload") or {}
        if not isinstance(p, dict):
            raise BadInput(f"payload of {it['id']} must be an object")
        try:
            json.dumps(p, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise BadInput(f"payload of {it['id']} is not plain JSON ({exc})") from exc
        payloads.append(p)
    return ids, np.stack(rows), payloads  # (N, dim) float32
