"""Where the ingest manifest lives: a SQLite table, written incrementally, one transaction per
save.

The manifest maps each indexed path to its entry (``doc``, ``sha256``, ``caption``, ``meta``,
``collections``, ``segments``: :mod:`xmodal.index.ingest`). In memory it is a
:class:`Manifest`, a ``dict`` that remembers which paths changed since it was read or saved;
:func:`save_manifest` writes only those rows, in one SQLite transaction (write-ahead log,
``synchronous=FULL``: fsynced at each commit): a kill, or a power cut, leaves the old or the new
rows, never a torn file, as the old whole-file JSON rewrite did, but a batch costs its own rows
instead of the whole library (that rewrite made an ingest O(n²) bytes: 5,000 files spent 5.5 s
of 7 s writing JSON). A manifest keeps its connection between saves (one fsync per commit:
6.5 ms here, where a connection per save, or a rollback journal, took 26-30 ms); ingest closes
it (:meth:`Manifest.close`) when it is done.

Older indexes hold ``xmodal-manifest.json`` (one JSON object). It is still read while no
SQLite file exists, and the first save migrates it: the whole manifest is written to a new
database beside it (a temporary file, fsynced, then renamed over the final name, so a kill
leaves the JSON in charge), then the JSON is removed.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "xmodal-manifest.sqlite"
    >>> m = load_manifest(path)
    >>> m["/a.png"] = {"doc": "d1", "sha256": "aa", "collections": ["m.image"]}
    >>> save_manifest(path, m)
    >>> m["/b.png"] = {"doc": "d2", "sha256": "bb", "collections": ["m.image"]}
    >>> del m["/a.png"]
    >>> m.changed()  # what the next save writes: one row added, one deleted
    ['/a.png', '/b.png']
    >>> save_manifest(path, m)
    >>> load_manifest(path) == {"/b.png": {"doc": "d2", "sha256": "bb", "collections": ["m.image"]}}
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._meta import read_json

__all__ = ["LEGACY_SUFFIX", "Manifest", "legacy_path", "load_manifest", "manifest_stamp",
           "save_manifest"]

LEGACY_SUFFIX = ".json"
"""The old manifest: the same name with ``.json`` (``xmodal-manifest.json``)."""
_SCHEMA = ("CREATE TABLE IF NOT EXISTS entries (path TEXT PRIMARY KEY, entry TEXT NOT NULL)",
           "CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
_FORMAT = "xmodal.manifest/2"
_MISSING = object()


class _Entry(dict[str, Any]):
    """A manifest entry that marks its path changed when one of its keys is set or deleted
    (``entry["collections"] = [...]`` in place); a change inside a nested value (a list's
    ``append``) is not seen: set the key again, or :meth:`Manifest.touch` the path."""

    def __init__(self, value: Mapping[str, Any], owner: set[str], key: str) -> None:
        super().__init__(value)
        self._owner, self._key = owner, key

    def _mark(self) -> None:
        self._owner.add(self._key)

    def __reduce__(self) -> tuple[Any, ...]:  # a copy or a pickle is a plain dict
        return dict, (dict(self),)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._mark()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._mark()

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        """As ``dict.pop`` (marks the entry)."""
        self._mark()
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """As ``dict.update`` (marks the entry)."""
        super().update(*args, **kwargs)
        self._mark()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """As ``dict.setdefault`` (marks the entry)."""
        self._mark()
        return super().setdefault(key, default)


class Manifest(dict[str, dict[str, Any]]):
    """The manifest in memory: path → entry, remembering the paths changed since the last save.

    Setting or deleting a path marks it, and so does setting or deleting a key of its entry in
    place (the entry stored is the manifest's own copy: change it through the manifest); a
    change inside an entry's nested value must be marked with :meth:`touch`.
    :func:`save_manifest` writes the marked rows only when the manifest was read from the same
    file, and everything otherwise.
    """

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None, *,
                 source: Path | None = None) -> None:
        self._changed: set[str] = set()
        super().__init__({k: _Entry(v, self._changed, k) for k, v in (entries or {}).items()})
        self._source = source  # the database these rows mirror (None: not read from one)
        self._con: sqlite3.Connection | None = None  # kept open between saves

    def __setitem__(self, key: str, value: Mapping[str, Any]) -> None:
        super().__setitem__(key, _Entry(value, self._changed, key))
        self._changed.add(key)

    def __reduce__(self) -> tuple[Any, ...]:  # a copy or a pickle: the entries, no connection
        return Manifest, ({k: dict(v) for k, v in self.items()},)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed.add(key)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove a path and return its entry (marks it)."""
        value = super().pop(key) if default is _MISSING else super().pop(key, default)
        self._changed.add(key)
        return value

    def popitem(self) -> tuple[str, dict[str, Any]]:
        """Remove and return the last path and entry (marks it)."""
        key, value = super().popitem()
        self._changed.add(key)
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """As ``dict.setdefault`` (marks the path when it adds it)."""
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """As ``dict.update`` (marks every path given)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        """Remove every path (marks them all)."""
        self._changed.update(self)
        super().clear()

    def touch(self, key: str) -> None:
        """Mark a path whose entry was changed in place."""
        self._changed.add(key)

    @property
    def pending(self) -> int:
        """How many paths the next save writes."""
        return len(self._changed)

    def changed(self) -> list[str]:
        """The paths the next save writes (set, changed or deleted since the last), sorted."""
        return sorted(self._changed)

    def close(self) -> None:
        """Close the database connection the saves keep (a later save opens another)."""
        if self._con is not None:
            self._con.close()
            self._con = None


def legacy_path(path: Path) -> Path:
    """The old JSON manifest that ``path`` (the SQLite file) replaces."""
    return Path(path).with_suffix(LEGACY_SUFFIX)


def manifest_stamp(path: Path) -> tuple[int, ...] | None:
    """``(mtime_ns, size)`` of the files that hold the manifest now (the database and its
    write-ahead log, else the old JSON), or None when there is none: it changes with every
    save."""
    path = Path(path)
    for files in ((path, path.with_name(path.name + "-wal")), (legacy_path(path),)):
        stamp: tuple[int, ...] = ()
        for p in files:
            with contextlib.suppress(OSError):
                st = p.stat()
                stamp += (st.st_mtime_ns, st.st_size)
        if stamp:
            return stamp
    return None


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")  # the log is fsynced at each commit
    return con


def _read_rows(path: Path) -> list[tuple[str, str]]:
    """Every row, read without writing (a read-only folder: the database as it is)."""
    try:
        con = sqlite3.connect(path, timeout=30.0)
        try:
            return con.execute("SELECT path, entry FROM entries").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # a write-ahead log needs its folder writable
        con = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        try:
            return con.execute("SELECT path, entry FROM entries").fetchall()
        finally:
            con.close()


def load_manifest(path: Path) -> Manifest:
    """The manifest's entries (path → doc, sha256, collections…), empty when there is none.

    Reads the SQLite file ``path``; while it does not exist, the old JSON manifest beside it
    (:func:`legacy_path`), which the next :func:`save_manifest` migrates.

    Raises:
        ValueError: the file is not a manifest (a corrupt database or JSON).
    """
    path = Path(path)
    if path.is_file() and legacy_path(path) == path and not _is_database(path):  # old JSON
        return Manifest(read_json(path))
    if path.is_file():
        try:
            rows = _read_rows(path)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{path}: not a readable manifest ({exc})") from exc
        entries = json.loads("[" + ",".join(e for _, e in rows) + "]")  # one parse: 2x faster
        return Manifest(dict(zip((p for p, _ in rows), entries, strict=True)), source=path)
    old = legacy_path(path)
    if old.is_file():
        return Manifest(read_json(old))
    return Manifest(source=path)


def save_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    """Write the manifest: the changed rows of a :class:`Manifest` read from ``path`` in one
    transaction; anything else (a plain dict, a manifest read elsewhere or from the old JSON)
    whole. A kill leaves the old or the new rows, never a torn file."""
    path = Path(path)
    if not path.is_file() or (legacy_path(path) == path and not _is_database(path)):  # or old JSON
        if isinstance(manifest, Manifest):
            manifest.close()
        _create(path, manifest)
    elif isinstance(manifest, Manifest) and manifest._source == path:
        if manifest._con is None:
            manifest._con = _connect(path)
        keys = manifest.changed()
        with _transaction(manifest._con):
            _put(manifest._con, manifest, [k for k in keys if k in manifest])
            manifest._con.executemany("DELETE FROM entries WHERE path = ?",
                                      [(k,) for k in keys if k not in manifest])
    else:
        con = _connect(path)
        try:
            with _transaction(con):
                con.execute("DELETE FROM entries")
                _put(con, manifest, manifest.keys())
        finally:
            con.close()
    if isinstance(manifest, Manifest):
        manifest._changed.clear()
        if manifest._source != path:
            manifest.close()
        manifest._source = path


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Any:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _put(con: sqlite3.Connection, manifest: Mapping[str, Any], keys: Iterable[str]) -> None:
    con.executemany("INSERT OR REPLACE INTO entries (path, entry) VALUES (?, ?)",
                    ((k, json.dumps(manifest[k], sort_keys=True, allow_nan=False))
                     for k in keys))


def _create(path: Path, manifest: Mapping[str, Any]) -> None:
    """A new database holding ``manifest`` whole: written aside, fsynced, renamed into place;
    then the old JSON manifest, migrated, is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        con = _connect(Path(tmp))
        try:
            with _transaction(con):
                for statement in _SCHEMA:
                    con.execute(statement)
                con.execute("INSERT INTO info (key, value) VALUES ('format', ?)", (_FORMAT,))
                _put(con, manifest, manifest.keys())
        finally:
            con.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    if legacy_path(path) != path:  # a manifest named *.json is its own old file, now replaced
        legacy_path(path).unlink(missing_ok=True)


def _is_database(path: Path) -> bool:
    """Whether ``path`` is an SQLite file (else an old JSON manifest kept under its name)."""
    with open(path, "rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform opens folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
