"""An on-disk cache of frozen-tower features, keyed by tower and by the content of each item.

Fitting locked-tower heads again (new head size, new seed, more steps) should not run the towers
again: their features depend only on the tower and on the item's *content*. So each feature
vector is stored under ``(tower, sha256(content))``: the UTF-8 bytes of a text, the bytes of a
file (not its path: a file rewritten in place gets a new key, a renamed one keeps its key), the
raw bytes of an array or a PIL image with their shape and type.

Storage: one SQLite file per tower (and modality) in the cache folder, one float32 row per item.
SQLite makes each write one atomic transaction, so several processes may fill the same cache at
once; a crash leaves either the whole batch or none of it. The tower name is the key: if the
weights behind a spec change (a folder overwritten with another model), call :meth:`clear`.

Example:
    >>> import tempfile, numpy as np
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> calls = []
    >>> def tower(texts):
    ...     calls.append(len(texts))
    ...     return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
    >>> cache.get_or_compute(["a", "bb"], tower, tower_id="toy").shape
    (2, 2)
    >>> cache.get_or_compute(["bb", "ccc", "a"], tower, tower_id="toy")[:, 0].tolist()
    [2.0, 3.0, 1.0]
    >>> calls  # the second call ran the tower on "ccc" only
    [2, 1]
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from xmodal.data.content import content_hash

from .card import Modality

_CHUNK = 500  # keys per SELECT (below SQLite's bound-parameter limit)
_TIMEOUT_S = 60.0  # how long a connection waits for another writer

__all__ = ["FeatureCache", "content_hash"]  # content_hash: moved to xmodal.data.content


class FeatureCache:
    """Tower features on disk, computed once per (tower, item content).

    Args:
        folder: The cache folder (created if missing); one SQLite file per tower inside.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)

    def get_or_compute(
        self,
        items: Sequence[object],
        compute_fn: Callable[[list[object]], np.ndarray],
        *,
        tower_id: str,
        modality: Modality = "text",
        chunk_size: int = 1024,
    ) -> np.ndarray:
        """Features of ``items`` in input order, running ``compute_fn`` on the misses only.

        Args:
            items: Texts, or image/audio items (see :func:`content_hash`).
            compute_fn: Maps a list of items to their ``(n, d)`` features (the tower).
                It gets each missing content once, in first-seen order.
            tower_id: Names the tower, e.g. its ``load_encoder`` spec; features of different
                towers (or modalities) never mix.
            modality: What the items are.
            chunk_size: Misses are computed and stored this many at a time, so an error (a bad
                item, an interruption) keeps every chunk computed before it.

        Returns:
            ``(len(items), d)`` float32 array.
        """
        keys = [content_hash(item, modality) for item in items]
        with self._db(tower_id, modality) as db:
            found = self._lookup(db, sorted(set(keys)))
            missing: dict[str, object] = {}
            for key, item in zip(keys, items, strict=True):
                if key not in found and key not in missing:
                    missing[key] = item
            todo = list(missing)
            for start in range(0, len(todo), chunk_size):
                part = todo[start : start + chunk_size]
                new = np.asarray(compute_fn([missing[k] for k in part]), dtype=np.float32)
                if new.ndim != 2 or new.shape[0] != len(part):
                    raise ValueError(
                        f"compute_fn returned shape {new.shape} for {len(part)} items; "
                        "expected (n, d)"
                    )
                if not np.isfinite(new).all():
                    raise ValueError(f"tower {tower_id!r} produced NaN/Inf features")
                self._store(db, tower_id, part, new)  # committed: kept if a later chunk fails
                found.update(zip(part, new, strict=True))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        dims = {v.shape[0] for v in found.values()}
        if len(dims) > 1:
            raise ValueError(
                f"the cache for {tower_id!r} holds features of dimensions {sorted(dims)}: the "
                "tower changed; call FeatureCache.clear(tower_id) and compute them again"
            )
        return np.stack([found[k] for k in keys])  # (n, d)

    def count(self, tower_id: str, modality: Modality = "text") -> int:
        """How many feature vectors are stored for this tower and modality."""
        with self._db(tower_id, modality) as db:
            return int(db.execute("SELECT COUNT(*) FROM features").fetchone()[0])

    def clear(self, tower_id: str | None = None) -> None:
        """Delete the stored features of one tower (every modality), or of all towers."""
        for path in self.folder.glob("*.sqlite*"):
            if tower_id is None or path.name.startswith(_tower_prefix(tower_id)):
                path.unlink(missing_ok=True)

    @contextmanager
    def _db(self, tower_id: str, modality: Modality) -> Iterator[sqlite3.Connection]:
        path = self.folder / f"{_tower_prefix(tower_id)}-{modality}.sqlite"
        with closing(sqlite3.connect(path, timeout=_TIMEOUT_S)) as db:
            _enable_wal(db, path)
            with db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS features "
                    "(key TEXT PRIMARY KEY, tower TEXT NOT NULL, vector BLOB NOT NULL)"
                )
            yield db

    @staticmethod
    def _lookup(db: sqlite3.Connection, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _CHUNK):
            part = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            rows = db.execute(f"SELECT key, vector FROM features WHERE key IN ({marks})", part)
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype="<f4").astype(np.float32)  # (d,)
        return found

    @staticmethod
    def _store(
        db: sqlite3.Connection, tower_id: str, keys: list[str], vectors: np.ndarray
    ) -> None:
        blobs = [v.astype("<f4").tobytes() for v in vectors]  # (d,) little-endian float32 each
        rows = [(k, tower_id, blob) for k, blob in zip(keys, blobs, strict=True)]
        with db:  # one transaction: all rows or none
            db.executemany("INSERT OR IGNORE INTO features VALUES (?, ?, ?)", rows)


def _enable_wal(db: sqlite3.Connection, path: Path) -> None:
    """Switch a database to WAL, retrying while another connection holds it.

    SQLite answers ``PRAGMA journal_mode=WAL`` with "database is locked" at once, without
    waiting through the busy timeout, when another connection is creating or converting the same
    file: several processes opening a fresh cache together hit it. So it is retried here.
    """
    deadline = time.monotonic() + _TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise sqlite3.OperationalError(f"feature cache {str(path)!r}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _tower_prefix(tower_id: str) -> str:
    """A file-name-safe, collision-free prefix for a tower id."""
    return hashlib.sha256(tower_id.encode("utf-8")).hexdigest()[:24]
