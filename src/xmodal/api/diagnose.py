"""Diagnostics of a served collection: ``xmodal diagnose --json`` of a seeded sample of its
stored vectors (``GET /collections/{name}/diagnostics``).

The sample is the collection's documents in the ingest manifest (at most :data:`DIAGNOSE_CAP`,
chosen with a fixed seed), else the stored neighbours of a seeded random direction; the answer
is JSON-safe (a non-finite statistic is None).

Example:
    >>> import tempfile, numpy as np
    >>> from xmodal.index import open_index
    >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
    ...     col = index.create_collection("toy.image", dim=3, model="toy", modality="image")
    ...     _ = col.upsert(["a", "b", "c"], np.eye(3), [{}] * 3)
    ...     got = diagnose_collection(col)
    >>> got["collection"], got["sampled"]
    ('toy.image', 3)
"""

from __future__ import annotations

import math
from collections.abc import Collection as Sized
from typing import Any, cast

import numpy as np

from xmodal.api.limits import BadInput
from xmodal.diagnostics.stats import DiagnosisJSON
from xmodal.index.protocols import Collection

__all__ = ["DIAGNOSE_CAP", "CollectionDiagnosisJSON", "diagnose_collection", "sample_ids"]

DIAGNOSE_CAP = 2000
"""Most stored vectors :func:`diagnose_collection` samples (seeded, reproducible)."""


class CollectionDiagnosisJSON(DiagnosisJSON):
    """:meth:`SearchService.diagnostics`: a collection's diagnosis, from ``sampled`` vectors."""

    collection: str
    sampled: int


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sample_ids(col: Collection, docs: Sized[str] = (), cap: int = DIAGNOSE_CAP) -> list[str]:
    """Up to ``cap`` stored ids of ``col``: its manifest documents ``docs`` (a seeded choice),
    else the neighbours of a seeded random direction (every id when the collection is small).

    Args:
        col: The collection.
        docs: The ids of its documents in the ingest manifest (none: sample the store).
        cap: Most ids returned.

    Returns:
        Ids, sorted when they come from ``docs``.
    """
    chosen = sorted(docs)
    if not chosen:
        q = np.random.default_rng(0).normal(size=col.dim)
        got = col.search(q / np.linalg.norm(q), k=max(1, min(col.count(), cap)))[0]
        return list(got.ids)
    if len(chosen) > cap:
        pick = np.random.default_rng(0).choice(len(chosen), size=cap, replace=False)
        chosen = [chosen[i] for i in sorted(pick.tolist())]
    return chosen


def diagnose_collection(col: Collection, docs: Sized[str] = ()) -> CollectionDiagnosisJSON:
    """``xmodal diagnose --json`` of ``col``'s stored vectors (see :func:`sample_ids`), plus
    ``collection`` and ``sampled``.

    Raises:
        BadInput: fewer than 2 readable vectors.
    """
    from xmodal.diagnostics import diagnose

    records = [r for r in col.get(sample_ids(col, docs)) if r is not None and r.vector is not None]
    if len(records) < 2:
        raise BadInput(f"{col.name} holds {len(records)} readable vectors; diagnostics need 2")
    d = diagnose(np.stack([r.vector for r in records]))
    out = {"collection": col.name, "sampled": len(records), **d.to_json()}
    return cast(CollectionDiagnosisJSON, {
        k: _finite(float(v)) if isinstance(v, float | np.floating) else v
        for k, v in out.items()})
