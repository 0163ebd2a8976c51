"""The Qt resource bundle reader: hand-built bundles (both node sizes) and a real GCompris one."""

from __future__ import annotations

import struct
import zlib

import pytest

from xmodal.data.sources._common import deb_root
from xmodal.data.sources.qt_rcc import iter_rcc, read_rcc

RAW = b"hello, raw file"
PACKED = b"zlib " * 40  # compresses well


def _name(text: str) -> bytes:
    utf16 = text.encode("utf-16-be")
    return struct.pack(">HI", len(text), 0) + utf16  # length, hash (unused here), UTF-16-BE


def _bundle(version: int = 3, *, zstd: bool = False, corrupt: bool = False) -> bytes:
    """``res/a.txt`` (raw) and ``res/b.txt`` (qCompress) in a bundle of ``version``."""
    names = _name("res")
    a_name = len(names)
    names += _name("a.txt")
    b_name = len(names)
    names += _name("b.txt")
    a_data = struct.pack(">I", len(RAW)) + RAW
    stream = zlib.compress(PACKED)
    if corrupt:
        stream = stream[:2] + bytes(len(stream) - 2)  # header kept, deflate data zeroed
    packed = struct.pack(">I", len(PACKED)) + stream
    data = a_data + struct.pack(">I", len(packed)) + packed
    extra = b"\0" * 8 if version >= 2 else b""  # modification time
    tree = b"".join([
        struct.pack(">IHII", 0, 2, 1, 1) + extra,  # 0: root dir, 1 child from index 1
        struct.pack(">IHII", 0, 2, 2, 2) + extra,  # 1: "res", 2 children from index 2
        struct.pack(">IHHHI", a_name, 0, 0, 0, 0) + extra,  # 2: "a.txt" raw at data + 0
        struct.pack(">IHHHI", b_name, 4 if zstd else 1, 0, 0, len(a_data)) + extra,  # 3: "b.txt"
    ])
    header_size = 24 if version >= 3 else 20
    tree_at = header_size
    data_at = tree_at + len(tree)
    names_at = data_at + len(data)
    header = b"qres" + struct.pack(">IIII", version, tree_at, data_at, names_at)
    header += struct.pack(">I", 0) if version >= 3 else b""
    return header + tree + data + names


@pytest.mark.parametrize("version", [1, 2, 3])  # 14-byte nodes (1), 22-byte nodes (2, 3)
def test_hand_built_bundle(version, tmp_path):
    path = tmp_path / "tiny.rcc"
    path.write_bytes(_bundle(version))
    assert read_rcc(path) == {"res/a.txt": RAW, "res/b.txt": PACKED}
    assert [p for p, _ in iter_rcc(_bundle(version))] == ["res/a.txt", "res/b.txt"]


def test_truncated_bundle_names_the_file_and_problem(tmp_path):
    blob = _bundle()
    for cut in (len(blob) - 3, len(blob) // 2, 10):
        path = tmp_path / f"cut{cut}.rcc"
        path.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match=rf"cut{cut}\.rcc.*(truncated|corrupt)"):
            read_rcc(path)


def test_other_malformed_bundles(tmp_path):
    path = tmp_path / "bad.rcc"
    path.write_bytes(b"PK\3\4" + _bundle()[4:])
    with pytest.raises(ValueError, match=r"bad\.rcc: not a Qt resource bundle"):
        read_rcc(path)
    with pytest.raises(ValueError, match="zstd"):
        dict(iter_rcc(_bundle(zstd=True)))
    with pytest.raises(ValueError, match=r"broken\.rcc: compressed data of res/b\.txt is corrupt"):
        dict(iter_rcc(_bundle(corrupt=True), name="broken.rcc"))


def test_real_gcompris_bundle():
    path = deb_root("gcompris-qt-data") / "usr/share/gcompris-qt/rcc/instruments.rcc"
    files = read_rcc(path)
    base = "gcompris/src/activities/instruments/"
    assert len(files) == 58  # 26 OGG notes, their SVG drawings, QML/JS code, a README
    assert files[base + "resource/violin.ogg"][:4] == b"OggS"
    assert b"<svg" in files[base + "resource/violin.svg"][:2000]
    assert "Find the violin" in files[base + "instruments.js"].decode("utf-8")
