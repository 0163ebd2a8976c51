"""Content keys: a recorded sha256 is trusted while size and mtime (ns) are unchanged, never for
a file modified just before it was read; refusals as before."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from xmodal.data.content_keys import RACY_S, content_key
from xmodal.data.regular_files import Refused

OLD_NS = 1_500_000_000 * 10**9  # 2017: long before any read


@pytest.fixture
def old(tmp_path: Path) -> Path:
    p = tmp_path / "a.txt"
    p.write_bytes(b"some words")
    os.utime(p, ns=(OLD_NS, OLD_NS))
    return p


def test_a_recorded_key_is_trusted_while_size_and_mtime_are_unchanged(old):
    fake = "f" * 64  # not the file's sha256: returned only if the file is not read
    key = content_key(old, 100, text=True, known=(10, OLD_NS, fake))
    assert (key.sha256, key.stat) == (fake, (10, OLD_NS))


@pytest.mark.parametrize("change", ["mtime", "size", "both"])
def test_a_changed_size_or_mtime_reads_the_file_again(old, change):
    if change in ("size", "both"):
        old.write_bytes(b"some words!")
    os.utime(old, ns=(OLD_NS, OLD_NS + (0 if change == "size" else 1)))
    key = content_key(old, 100, text=True, known=(10, OLD_NS, "f" * 64))
    assert key.sha256 == hashlib.sha256(old.read_bytes()).hexdigest()
    assert key.stat == (old.stat().st_size, old.stat().st_mtime_ns)


def test_a_file_modified_just_before_the_read_gets_no_trusted_stat(tmp_path):
    p = tmp_path / "fresh.txt"
    p.write_bytes(b"just written")
    key = content_key(p, 100, text=True, known=None)
    assert key.sha256 == hashlib.sha256(b"just written").hexdigest() and key.stat is None
    past = time.time_ns() - int((RACY_S + 1) * 1e9)
    os.utime(p, ns=(past, past))
    assert content_key(p, 100, text=True, known=None).stat == (12, past)


def test_refusals_are_unchanged(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "nul.txt").write_bytes(b"a\0b")
    (tmp_path / "big.png").write_bytes(b"x" * 11)
    with pytest.raises(Refused, match="empty file"):
        content_key(tmp_path / "empty.txt", 100, text=True, known=None)
    with pytest.raises(Refused, match="NUL bytes"):
        content_key(tmp_path / "nul.txt", 100, text=True, known=None)
    with pytest.raises(Refused, match="file of 11 bytes is over the 10-byte limit"):
        content_key(tmp_path / "big.png", 10, text=False, known=(5, 0, "f" * 64))
