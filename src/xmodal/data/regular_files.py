"""Opening a file a scan found, safely: a regular file only, never through a symbolic link,
never blocking on a FIFO (:mod:`xmodal.data.corpus` reads documents and side-cars this way).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "dog.txt").write_text("a dog barking")
    >>> read_small(folder / "dog.txt"), read_small(folder / "cat.txt")
    ('a dog barking', None)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_CAPTION_BYTES", "SYMLINK", "Refused", "file_kind", "open_regular",
           "read_side_car", "read_small"]

MAX_CAPTION_BYTES = 10_000_000
"""Side-car caption files (``name.txt``, ``captions.jsonl``) larger than this are not read."""
SYMLINK = "symbolic link (not followed)"
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class Refused(Exception):
    """A file that is not used, with the reason (a scan reports it and goes on)."""


def file_kind(mode: int) -> str:
    """A file type in words, from an ``st_mode``."""
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"),
                       (stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def open_regular(path: Path) -> tuple[int, int]:
    """Open a regular file for reading without following a symlink or blocking on a FIFO;
    returns ``(fd, size)``."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if os.path.islink(path):
            raise Refused(SYMLINK) from None
        raise exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Refused(f"not a regular file ({file_kind(st.st_mode)}): not read")
    return fd, st.st_size


def read_small(path: Path, limit: int = MAX_CAPTION_BYTES) -> str | None:
    """A side-car file's text, or None when there is none; refuses symlinks and non-files."""
    if not os.path.lexists(path):
        return None
    fd, size = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        if size > limit:
            raise Refused(f"{path.name} of {size:,} bytes is over the {limit:,}-byte limit")
        return f.read(limit + 1).decode("utf-8", errors="replace")


def read_side_car(path: Path, limit: int) -> str | None:
    """A side-car file's text (None when absent), read like a caption: no symlink, no
    special file, at most ``limit`` bytes.

    Raises:
        ValueError: A symlink, a special file or a file over the limit (the reason).
    """
    try:
        return read_small(path, limit)
    except Refused as exc:
        raise ValueError(str(exc)) from None
