"""Stored media served apart from the search work: ``GET /media/{doc_id}`` and its frames.

A results page asks for 10–100 files at once. They must neither take the searches' work slots
nor be refused while searches run, so:

* **Their own places.** :func:`media_lane` is a :class:`~xmodal.api.guard.Lane` of
  :attr:`~xmodal.api.limits.ServeLimits.max_media_streams` places (32 by default) that the
  outermost :class:`~xmodal.api.guard.Admission` holds for the whole answer (the file's
  streaming included); more requests wait in a queue (:data:`QUEUE_PER_STREAM` per place, up
  to :data:`MEDIA_WAIT_S` seconds each), and only beyond that get 429 with Retry-After.
  Looking a document up and decoding a frame run on a worker thread (:func:`in_thread`),
  never in a work slot.
* **Caching.** Every answer has an ``ETag`` (the document's sha256 with the file's size and
  mtime, :func:`etag`), and ``If-None-Match`` answers 304 without reading the file. A
  content-addressed document id (:func:`~xmodal.index.validate.document_id` of the path and
  the sha256, as ``xmodal index`` builds them) is cached ``immutable`` for a year; any other
  revalidates each time (:func:`cache_control`).
* **Ranges.** ``Range: bytes=A-B`` is answered 206 with ``Content-Range`` for every file
  (players seek with it: audio and video), 416 past the end; ``If-Range`` with the ETag.

Example:
    >>> from types import SimpleNamespace
    >>> st = SimpleNamespace(st_size=1234, st_mtime_ns=0)  # what os.stat says of the file
    >>> etag({"sha256": "ab" * 32}, st)
    '"abababababababab-4d2-0"'
    >>> not_modified('W/"x", "abababababababab-4d2-0"', '"abababababababab-4d2-0"')
    True
    >>> cache_control("no-hash-id", Path("a.png"), {"sha256": "0" * 64})
    'private, max-age=0, must-revalidate'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from xmodal.api.guard import Lane
from xmodal.api.limits import ServeLimits, WorkTimeout
from xmodal.index.validate import document_id

__all__ = ["IMMUTABLE", "MEDIA_PREFIX", "MEDIA_WAIT_S", "QUEUE_PER_STREAM", "REVALIDATE",
           "StoredFile", "cache_control", "etag", "in_thread", "media_lane", "not_modified",
           "stored_file"]

T = TypeVar("T")

MEDIA_PREFIX = "/media/"
"""The paths served in the media lane (the file and its frames)."""
MEDIA_WAIT_S = 5.0
"""Seconds a media request waits for a place before it is answered 429."""
QUEUE_PER_STREAM = 4
"""Media requests waiting per place, at most (32 places: 128 waiting)."""
IMMUTABLE = "private, max-age=31536000, immutable"
"""Cache-Control of a content-addressed document: its id changes when its bytes do."""
REVALIDATE = "private, max-age=0, must-revalidate"
"""Cache-Control of any other document: kept, but revalidated (304) before each use."""


def media_lane(limits: ServeLimits) -> Lane:
    """The :class:`~xmodal.api.guard.Lane` of ``/media`` requests under ``limits``."""
    streams = limits.max_media_streams
    return Lane(MEDIA_PREFIX, slots=streams, queue=QUEUE_PER_STREAM * streams,
                wait_s=MEDIA_WAIT_S)


@dataclass(frozen=True)
class StoredFile:
    """An indexed document's file as served: where, its ``os.stat`` and its cache headers."""

    path: Path
    stat: os.stat_result
    headers: dict[str, str]

    @property
    def etag(self) -> str:
        """The file's ETag (quoted)."""
        return self.headers["ETag"]


def etag(entry: dict[str, Any], stat: os.stat_result) -> str:
    """A strong ETag: the document's sha256 (its first 16 hex digits), then the file's size
    and mtime in hex, so a file changed on disk since it was indexed gets a new one."""
    sha = str(entry.get("sha256", ""))[:16] or "nosha"
    return f'"{sha}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def cache_control(doc_id: str, path: Path, entry: dict[str, Any]) -> str:
    """:data:`IMMUTABLE` when ``doc_id`` is the content address of ``path`` (its sha256 is in
    the id), else :data:`REVALIDATE`."""
    sha = entry.get("sha256")
    if isinstance(sha, str) and document_id(str(path), sha) == doc_id:
        return IMMUTABLE
    return REVALIDATE


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``tag`` (weak comparison, ``*`` too)."""
    if not if_none_match:
        return False
    given = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in given or tag.removeprefix("W/") in given


def stored_file(service: Any, doc_id: str) -> StoredFile:
    """The file of ``doc_id`` with its ETag and Cache-Control (blocking: run it in a thread).

    Raises:
        NotFound: no indexed document ``doc_id``, or its file is gone.
    """
    path, entry = service.media_entry(doc_id)
    stat = path.stat()
    headers = {"ETag": etag(entry, stat), "Cache-Control": cache_control(doc_id, path, entry)}
    return StoredFile(path, stat, headers)


async def in_thread(fn: Callable[..., T], *args: Any, timeout_s: float, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a worker thread, without a work slot, within ``timeout_s``;
    a refusal of the service becomes its :class:`~xmodal.api.routes.errors.ApiError`.

    Raises:
        ApiError: a refusal (404 for an unknown document, 504 past ``timeout_s``, …).
    """
    import anyio
    import anyio.to_thread

    from xmodal.api.routes.errors import api_error

    try:
        with anyio.move_on_after(timeout_s):
            return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs),
                                                  abandon_on_cancel=True)
        raise WorkTimeout(f"the request took longer than {timeout_s:g} s")
    except Exception as exc:
        err = api_error(exc)
        if err is None:
            raise  # a bug: the catch-all handler answers 500 and logs it
        raise err from exc
