"""scan_corpus never leaves its root: symlinks are reported, not followed; FIFOs, sockets and
devices are never opened; side-car captions are not read through symlinks or ``..``; every
unusable file is reported with its reason."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xmodal.data import corpus
from xmodal.data.corpus import SYMLINK, scan_corpus

_OPENED: list[str] | None = None  # paths opened or listed while a scan is audited


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event in ("open", "os.scandir", "os.listdir") and args:
        target = args[0]
        if isinstance(target, str | bytes | os.PathLike):
            _OPENED.append(os.fsdecode(target))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only inside `audited`


@pytest.fixture
def audited() -> Iterator[list[str]]:
    """Every path opened or listed meanwhile (Python's audit events)."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail instead of blocking forever (an opened FIFO blocks)."""
    def fail(*_: object) -> None:
        raise TimeoutError("the scan blocked")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """``root/`` with good files and every kind of link, and ``outside/`` beside it."""
    tmp_path = tmp_path.resolve()
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"png outside")
    (outside / "secret.txt").write_text("a caption from outside")
    (outside / "captions.jsonl").write_text(json.dumps({"file": "a.png", "caption": "evil"}))
    (root / "a.png").write_bytes(b"png a")
    (root / "sub" / "b.wav").write_bytes(b"wav b")
    (root / "link-out.png").symlink_to(outside / "secret.png")
    (root / "link-in.png").symlink_to(root / "a.png")
    (root / "dir-out").symlink_to(outside)
    (root / "up").symlink_to("..")
    (root / "sub" / "loop").symlink_to(".")
    (root / "dangling.png").symlink_to(root / "nope.png")
    return root, outside


def reasons(scan) -> dict[str, str]:
    return {p.item: p.reason for p in scan.skipped}


def test_symlinks_are_reported_and_never_followed(tree, audited):
    root, outside = tree
    scan = scan_corpus([root])
    assert [f.path for f in scan.files] == [root / "a.png", root / "sub" / "b.wav"]
    links = ["link-out.png", "link-in.png", "dir-out", "up", "sub/loop", "dangling.png"]
    assert reasons(scan) == {str(root / name): SYMLINK for name in links}
    assert str(root / "a.png") in audited  # the hook sees opens...
    assert not [p for p in audited if p.startswith(str(outside))]  # ...none outside the root


def test_symlinked_captions_are_not_read(tree, audited):
    root, outside = tree
    (root / "a.txt").symlink_to(outside / "secret.txt")
    (root / "sub" / "captions.jsonl").symlink_to(outside / "captions.jsonl")
    scan = scan_corpus([root])
    assert [(f.path.name, f.caption) for f in scan.files] == [("a.png", None), ("b.wav", None)]
    got = reasons(scan)
    assert got[str(root / "a.txt")] == f"{SYMLINK}: caption not read"
    assert got[str(root / "sub" / "captions.jsonl")] == f"{SYMLINK}: captions not read"
    assert not [p for p in audited if p.startswith(str(outside))]


def test_caption_entries_outside_the_folder_are_ignored_and_reported(tree, audited):
    root, outside = tree
    listing = root / "captions.jsonl"
    rows = [{"file": "a.png", "caption": "a good caption"},
            {"file": "../outside/secret.png", "caption": "escaped"},
            {"file": "sub/b.wav", "caption": "not this folder"}, {"file": "..", "caption": "x"}]
    listing.write_text("\n".join(json.dumps(r) for r in rows))
    scan = scan_corpus([root])
    assert scan.files[0].caption == "a good caption"
    got = reasons(scan)
    for line in (2, 3, 4):
        assert "is not a file name in this folder" in got[f"{listing}:{line}"]
    assert all(f.path.is_relative_to(root) for f in scan.files)
    assert not [p for p in audited if p.startswith(str(outside))]


def test_fifos_sockets_and_devices_are_never_opened(tmp_path, no_hang, audited):
    root = tmp_path.resolve()
    os.mkfifo(root / "pipe.png")
    os.mkfifo(root / "pipe.txt")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "s.wav"))
    try:
        os.mknod(root / "null.wav", 0o600 | 0o020000, os.makedev(1, 3))  # char device
        device = True
    except (PermissionError, OSError):
        device = False
    (root / "ok.md").write_text("fine")
    scan = scan_corpus([root])
    assert [f.path.name for f in scan.files] == ["ok.md"]
    got = reasons(scan)
    assert got[str(root / "pipe.png")] == "not a regular file (FIFO (named pipe)): not opened"
    assert "socket" in got[str(root / "s.wav")]
    if device:
        assert "character device" in got[str(root / "null.wav")]
    assert not [p for p in audited if "pipe" in p or "null.wav" in p]
    # a FIFO named directly, or a file swapped for one after the listing: checked by fstat
    direct = scan_corpus([root / "pipe.png"])
    assert direct.skipped[0].reason == "not a regular file (FIFO (named pipe)): not read"


def test_unusable_files_are_reported_with_reasons(tmp_path, monkeypatch):
    root = tmp_path.resolve()
    (root / "nul.txt").write_bytes(b"text\0with a NUL")
    (root / "empty.png").write_bytes(b"")
    (root / "big.wav").write_bytes(b"x" * 200)
    (root / "locked.png").write_bytes(b"png")
    (root / "closed").mkdir()
    (root / "closed" / "x.png").write_bytes(b"png")
    (root / "ok.png").write_bytes(b"png")
    monkeypatch.setattr(corpus, "MAX_MEDIA_BYTES", 100)
    real_open, real_scandir = os.open, os.scandir

    def fake_open(path, flags, *args):  # root reads everything: deny as a normal user would
        if str(path).endswith("locked.png"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    def fake_scandir(path):
        if str(path).endswith("closed"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(corpus.os, "open", fake_open)
    monkeypatch.setattr(corpus.os, "scandir", fake_scandir)
    scan = scan_corpus([root])
    assert [f.path.name for f in scan.files] == ["ok.png"]
    assert reasons(scan) == {
        str(root / "nul.txt"): "binary data in a text document (NUL bytes)",
        str(root / "empty.png"): "empty file",
        str(root / "big.wav"): "file of 200 bytes is over the 100-byte limit",
        str(root / "locked.png"): "unreadable: Permission denied",
        str(root / "closed"): "unreadable folder: Permission denied",
    }


def test_a_symlinked_root_is_resolved_once(tree, tmp_path):
    root, _ = tree
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    scan = scan_corpus([alias])
    assert [f.path for f in scan.files] == [root / "a.png", root / "sub" / "b.wav"]
    assert set(reasons(scan)) == {str(root / n) for n in (
        "link-out.png", "link-in.png", "dir-out", "up", "sub/loop", "dangling.png")}
    single = scan_corpus([root / "link-in.png"])  # a file the caller names: resolved too
    assert [f.path for f in single.files] == [root / "a.png"]


def test_the_image_decoder_refuses_a_fifo_without_blocking(tmp_path, no_hang):
    from xmodal.data.images import ImageDecodeError, load_image

    os.mkfifo(tmp_path / "pipe.png")  # e.g. a file swapped for a FIFO after the scan
    with pytest.raises(ImageDecodeError, match="not a regular file"):
        load_image(tmp_path / "pipe.png")
