"""Exact NumPy search, persisted in a folder: small collections, tests, and the ANN oracle.

Layout: ``ROOT/xmodal-index.json`` plus, per collection, ``ROOT/NAME/collection.json``
(metadata) and ``ROOT/NAME/data.npz`` holding ``vectors`` (n, d) float32, ``ids`` (n,) str and
``payloads`` (one JSON string). Every write rewrites ``data.npz`` to a temporary file, fsyncs
it and ``os.replace``-s it, so a kill leaves the previous or the new state, never a torn one
(the price: a write costs O(n), fine for the sizes this backend is meant for).

Search is one matrix product and ``np.argpartition``; ties in score are broken by id, ascending,
so results are fully deterministic.

Quantisation: a collection's ``quantization`` setting is stored (and shown in its info) but
this backend always searches the original float32 vectors exactly: it is the oracle the
quantised Qdrant collections are tested against, so it never quantises.

Example:
    >>> import numpy as np, tempfile
    >>> index = ExactIndex(tempfile.mkdtemp())
    >>> col = index.create_collection("c", dim=2, model="m", modality="text")
    >>> col.upsert(["b", "a", "c"], np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    UpsertResult(inserted=3, updated=0)
    >>> col.search(np.array([1.0, 0.0]), k=2)[0].ids  # a tie, broken by id
    ('a', 'b')
    >>> index.close()
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from xmodal.index import _meta
from xmodal.index.base import CollectionBase, IndexBase
from xmodal.index.filters import Filter, matches
from xmodal.index.types import Record, SearchHits, UpsertResult

DATA_FILE = "data.npz"


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k best scores, best first, ties broken by id ascending.

    Args:
        scores: Scores, shape (n,); ``-inf`` marks excluded rows.
        ids: Ids, shape (n,) str.
        k: How many to return (fewer if fewer rows are not excluded).

    Example:
        >>> top_k(np.array([0.5, 0.9, 0.5]), np.array(["z", "y", "a"]), 2).tolist()
        [1, 2]
    """
    n_ok = int(np.isfinite(scores).sum())
    k = min(k, n_ok)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if k < scores.shape[0]:
        kth = np.partition(scores, scores.shape[0] - k)[scores.shape[0] - k]
        cand = np.flatnonzero(scores >= kth)  # every row tied with the k-th is a candidate
    else:
        cand = np.flatnonzero(np.isfinite(scores))
    order = np.lexsort((ids[cand], -scores[cand]))  # primary: score desc; then id asc
    return cand[order[:k]]


class ExactCollection(CollectionBase):
    """One collection of the exact backend, held in memory and mirrored to ``data.npz``."""

    backend = "exact"

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        super().__init__(meta)
        self._folder = folder
        path = folder / DATA_FILE
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                self._vectors = np.ascontiguousarray(z["vectors"], dtype=np.float32)  # (n, d)
                self._ids = z["ids"].astype(str)  # (n,)
                self._payloads: list[dict[str, Any]] = json.loads(str(z["payloads"]))
        else:
            self._vectors = np.zeros((0, self.dim), np.float32)
            self._ids = np.zeros(0, dtype=str)
            self._payloads = []
        self._rows = {i: r for r, i in enumerate(self._ids.tolist())}
        self._masks: dict[Filter, np.ndarray] = {}  # filter -> rows it keeps (until a write)

    def count(self) -> int:
        """Number of stored vectors."""
        return int(self._ids.shape[0])

    def _write(self, vectors: np.ndarray, ids: np.ndarray, payloads: list[dict[str, Any]]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".data.", suffix=".npz.tmp", dir=self._folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    vectors=vectors,
                    ids=ids.astype(str) if ids.size else np.zeros(0, dtype="<U1"),
                    payloads=np.array(json.dumps(payloads)),
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._folder / DATA_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._vectors, self._ids, self._payloads = vectors, ids, payloads
        self._rows = {i: r for r, i in enumerate(ids.tolist())}
        self._masks = {}

    def _keep(self, flt: Filter) -> np.ndarray:
        """The rows ``flt`` keeps, shape (n,) bool: evaluated once per filter between writes
        (a search's lists and a session's queries repeat the same filter)."""
        masks, payloads = self._masks, self._payloads  # a write replaces both: no stale entry
        keep = masks.get(flt)
        if keep is None:
            keep = np.array([matches(flt, p) for p in payloads], dtype=bool)  # (n,)
            if len(masks) >= 64:
                masks.clear()
            masks[flt] = keep
        return keep

    def _upsert(
        self, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]]
    ) -> UpsertResult:
        new_vecs = self._vectors.copy()
        new_pls = list(self._payloads)
        fresh: list[int] = []
        for j, doc_id in enumerate(ids):
            row = self._rows.get(doc_id)
            if row is None:
                fresh.append(j)
            else:
                new_vecs[row] = vectors[j]
                new_pls[row] = payloads[j]
        new_vecs = np.concatenate([new_vecs, vectors[fresh]], axis=0)  # (n + new, d)
        new_ids = np.concatenate([self._ids.astype(object), np.array(ids, dtype=object)[fresh]])
        new_pls.extend(payloads[j] for j in fresh)
        self._write(np.ascontiguousarray(new_vecs), new_ids.astype(str), new_pls)
        return UpsertResult(inserted=len(fresh), updated=len(ids) - len(fresh))

    def _search(self, queries: np.ndarray, k: int, flt: Filter) -> list[SearchHits]:
        scores = queries @ self._vectors.T  # (q, n)
        if flt:
            scores[:, ~self._keep(flt)] = -np.inf
        out = []
        for row_scores in scores:
            rows = top_k(row_scores, self._ids, k)
            out.append(
                SearchHits(
                    ids=tuple(self._ids[rows].tolist()),
                    scores=row_scores[rows].astype(np.float32),
                    payloads=tuple(dict(self._payloads[r]) for r in rows),
                )
            )
        return out

    def _get(self, ids: list[str]) -> dict[str, Record]:
        out = {}
        for doc_id in ids:
            r = self._rows.get(doc_id)
            if r is not None:
                out[doc_id] = Record(doc_id, self._vectors[r].copy(), dict(self._payloads[r]))
        return out

    def _delete(self, ids: list[str]) -> int:
        gone = [self._rows[i] for i in ids if i in self._rows]
        if not gone:
            return 0
        keep = np.ones(self.count(), dtype=bool)
        keep[gone] = False
        pls = [p for p, kept in zip(self._payloads, keep, strict=True) if kept]
        self._write(np.ascontiguousarray(self._vectors[keep]), self._ids[keep], pls)
        return len(gone)

    def _delete_where(self, flt: Filter) -> int:
        gone = self._keep(flt)  # (n,) bool: the rows the filter matches
        if not gone.any():
            return 0
        pls = [p for p, g in zip(self._payloads, gone, strict=True) if not g]
        self._write(np.ascontiguousarray(self._vectors[~gone]), self._ids[~gone], pls)
        return int(gone.sum())

    def _save_meta(self) -> None:
        _meta.write_json_atomic(self._folder / _meta.COLLECTION_FILE, self._meta)

    def _extra_stats(self) -> dict[str, Any]:
        path = self._folder / DATA_FILE
        return {"bytes_on_disk": path.stat().st_size if path.exists() else 0}


class ExactIndex(IndexBase):
    """A folder of exact collections (``open_index("exact:PATH")``)."""

    backend = "exact"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.root = Path(path)
        _meta.claim_folder(self.root, self.backend)

    def _names(self) -> list[str]:
        return _meta.list_collections(self.root)

    def _create(self, meta: dict[str, Any]) -> ExactCollection:
        folder = _meta.fresh_collection_folder(self.root, meta["name"])
        col = ExactCollection(folder, meta)
        col._write(col._vectors, col._ids, col._payloads)
        _meta.write_json_atomic(folder / _meta.COLLECTION_FILE, meta)  # last: marks it complete
        return col

    def _open(self, name: str) -> ExactCollection:
        return ExactCollection(self.root / name, _meta.load_meta(self.root, name))

    def _drop(self, name: str, col: CollectionBase | None) -> None:
        (self.root / name / _meta.COLLECTION_FILE).unlink()
        shutil.rmtree(self.root / name, ignore_errors=True)

    def _close(self) -> None:
        pass  # every write is already on disk
