"""A file's content key (the sha256 of its bytes) for a scan, and when a scan may trust the
key it recorded before instead of reading the file again.

Reading every byte of every file is what a re-run over a photo library costs (100,000 photos
of 3 MB: 300 GB read, minutes at best; a sha256 alone runs at about 0.5-1 GB/s per core). So a
scan that is given the ``(size, mtime_ns, sha256)`` it recorded for a path (from the ingest
manifest) reuses that sha256 when the file's size and modification time (in nanoseconds,
``lstat``) are both unchanged, as rsync and git do. A key is recorded only for a file last
modified at least :data:`RACY_S` before it was read: a write landing in the same clock tick as
the read would otherwise leave the time unchanged ("racy git"). A tool that rewrites a file
and restores its time and size hides the change; ``ingest(..., rehash=True)`` reads every
file again.

Example:
    >>> import os, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_text("hello")
    >>> os.utime(p, ns=(10**18, 10**18))  # modified long ago
    >>> key = content_key(p, 100, text=True, known=None)
    >>> key.sha256[:8], key.stat
    ('2cf24dba', (5, 1000000000000000000))
    >>> content_key(p, 100, text=True, known=(5, 10**18, "f" * 64)).sha256[:8]  # trusted
    'ffffffff'
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from .regular_files import Refused, open_regular

__all__ = ["RACY_S", "ContentKey", "KnownFile", "content_key", "file_sha256"]

RACY_S = 2.0
"""A file modified less than this before it was read gets no trusted ``(size, mtime_ns)``."""
KnownFile = tuple[int, int, str]
"""What a scan recorded for a path: ``(size, mtime_ns, sha256)``."""
_BLOCK = 1 << 20


@dataclass(frozen=True)
class ContentKey:
    """A file's sha256, and the ``(size, mtime_ns)`` a later scan may trust it by (None: the
    file was modified too recently to trust)."""

    sha256: str
    stat: tuple[int, int] | None


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def content_key(path: Path, limit: int, *, text: bool, known: KnownFile | None) -> ContentKey:
    """The content key of a regular file: ``known``'s sha256 when its size and mtime match,
    else the sha256 of its bytes (refusing empty, oversized and, for text, NUL-holding files).

    Raises:
        Refused: the file is empty, over ``limit`` bytes, binary text, or not a regular file.
        OSError: it cannot be read.
    """
    if known is not None:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns) == (known[0], known[1]):
            return ContentKey(known[2], (st.st_size, st.st_mtime_ns))
    started = time.time_ns()
    fd, size = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        if size == 0:
            raise Refused("empty file")
        if size > limit:
            kind = "text file" if text else "file"
            raise Refused(f"{kind} of {size:,} bytes is over the {limit:,}-byte limit")
        h = hashlib.sha256()
        for block in iter(lambda: f.read(_BLOCK), b""):
            if text and b"\0" in block:
                raise Refused("binary data in a text document (NUL bytes)")
            h.update(block)
        st = os.fstat(f.fileno())
    trusted = st.st_mtime_ns <= started - int(RACY_S * 1e9)
    return ContentKey(h.hexdigest(), (st.st_size, st.st_mtime_ns) if trusted else None)
