"""A small pure-Python reader of Qt resource bundles (``.rcc`` files written by ``rcc -binary``).

Format (big-endian; ``notes/data-sources-2.md`` §5): a header ``qres``, u32 version, u32 tree
offset, u32 data offset, u32 names offset (version ≥ 3 adds u32 flags). Tree nodes are 14 bytes
(version < 2) or 22 (≥ 2, an extra u64 modification time); node i sits at tree + i × size:
u32 name offset, u16 flags, then for a directory (flag 2) u32 child count and u32 first-child
index, else u16 country, u16 language, u32 data offset. Node 0 is the root. A name (at names
offset + name offset) is u16 length in UTF-16 units, u32 hash, then UTF-16-BE text. A file's data
(at data offset + its data offset) is u32 size then the bytes: flag 1 = ``qCompress`` (u32
uncompressed length + zlib stream), flag 4 = zstd (not supported here), else raw.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

MAGIC = b"qres"
COMPRESSED, DIRECTORY, COMPRESSED_ZSTD = 1, 2, 4


def read_rcc(path: Path | str) -> dict[str, bytes]:
    """Every file in the bundle at ``path``: its path inside the bundle → its (decompressed) bytes.

    Raises :class:`ValueError` naming ``path`` and the problem when the bundle is malformed
    (bad magic, offsets past the end, a broken zlib stream) or uses zstd compression.

    Example:
        >>> from xmodal.data.sources._common import deb_root
        >>> rcc = deb_root("gcompris-qt-data") / "usr/share/gcompris-qt/rcc/baby_mouse.rcc"
        >>> files = read_rcc(rcc)
        >>> "gcompris/src/activities/baby_mouse/baby_mouse.svg" in files
        True
    """
    path = Path(path)
    return dict(iter_rcc(path.read_bytes(), name=str(path)))


def iter_rcc(blob: bytes, *, name: str = "<bytes>") -> Iterator[tuple[str, bytes]]:
    """(path, bytes) for every file in the bundle ``blob``, depth-first in tree order.

    ``name`` is used in error messages (the file the bytes came from).
    """
    reader = _Reader(blob, name)
    if blob[:4] != MAGIC:
        raise ValueError(f"{name}: not a Qt resource bundle (starts with {blob[:4]!r}, "
                         f"expected {MAGIC!r})")
    version, tree, data, names = reader.unpack(">IIII", 4, "header")
    if version > 3:
        raise ValueError(f"{name}: unsupported rcc format version {version}")
    node_size = 14 if version < 2 else 22
    stack: list[tuple[int, str]] = [(0, "")]  # (node index, folder path)
    seen: set[int] = set()
    while stack:
        index, folder = stack.pop()
        if index in seen:
            raise ValueError(f"{name}: tree node {index} is reached twice (a loop in the tree)")
        seen.add(index)
        at = tree + index * node_size
        name_at, flags = reader.unpack(">IH", at, f"tree node {index}")
        node_path = folder if index == 0 else _join(folder, reader.name(names + name_at, index))
        if flags & DIRECTORY:
            count, first = reader.unpack(">II", at + 6, f"tree node {index}")
            # Push in reverse so children come out in stored (sorted-by-hash) order.
            stack.extend((first + k, node_path) for k in reversed(range(count)))
            continue
        if index == 0:
            raise ValueError(f"{name}: the root node is not a directory")
        (offset,) = reader.unpack(">I", at + 10, f"tree node {index}")
        yield node_path, reader.payload(data + offset, flags, node_path)


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


class _Reader:
    """Bounds-checked reads from one bundle, with errors naming the file."""

    def __init__(self, blob: bytes, name: str) -> None:
        self.blob, self.file = blob, name

    def unpack(self, fmt: str, at: int, what: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if at < 0 or at + size > len(self.blob):
            raise ValueError(f"{self.file}: truncated or corrupt bundle: {what} at byte {at} "
                             f"runs past the end ({len(self.blob)} bytes)")
        return struct.unpack_from(fmt, self.blob, at)

    def take(self, at: int, size: int, what: str) -> bytes:
        if at < 0 or at + size > len(self.blob):
            raise ValueError(f"{self.file}: truncated or corrupt bundle: {what} "
                             f"({size} bytes at byte {at}) runs past the end "
                             f"({len(self.blob)} bytes)")
        return self.blob[at:at + size]

    def name(self, at: int, index: int) -> str:
        (length,) = self.unpack(">H", at, f"name of tree node {index}")
        raw = self.take(at + 6, 2 * length, f"name of tree node {index}")
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError as error:
            raise ValueError(f"{self.file}: name of tree node {index} is not UTF-16: "
                             f"{error}") from None

    def payload(self, at: int, flags: int, path: str) -> bytes:
        (size,) = self.unpack(">I", at, f"data of {path}")
        raw = self.take(at + 4, size, f"data of {path}")
        if flags & COMPRESSED_ZSTD:
            raise ValueError(f"{self.file}: {path} is zstd-compressed, which this reader does "
                             "not support (register the bundle with PySide6's QResource instead)")
        if not flags & COMPRESSED:
            return raw
        if size < 4:
            raise ValueError(f"{self.file}: compressed data of {path} is shorter than its "
                             "4-byte length prefix")
        (expected,) = struct.unpack_from(">I", raw, 0)
        try:
            out = zlib.decompress(raw[4:])
        except zlib.error as error:
            raise ValueError(f"{self.file}: compressed data of {path} is corrupt: "
                             f"{error}") from None
        if len(out) != expected:
            raise ValueError(f"{self.file}: {path} decompressed to {len(out)} bytes, "
                             f"its header says {expected}")
        return out
