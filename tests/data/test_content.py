"""Tests of content_hash: which items count as the same content."""

from __future__ import annotations

import numpy as np
import pytest

from xmodal.data.content import content_hash


def test_text_is_not_file_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"a dog")
    assert content_hash("a dog", "text") != content_hash(b"a dog", "image")
    assert content_hash("a dog", "text") != content_hash(str(path), "image")
    assert content_hash("a dog") == content_hash("a dog", "text")


def test_file_hashes_its_bytes_not_its_path(tmp_path):
    data = bytes(range(256)) * 5000  # > 1 MiB: several read blocks
    a, b = tmp_path / "a.png", tmp_path / "sub" / "b.jpg"
    b.parent.mkdir()
    a.write_bytes(data)
    b.write_bytes(data)
    expected = content_hash(data, "image")
    assert content_hash(a, "image") == content_hash(str(b), "image") == expected
    assert content_hash(bytearray(data), "audio") == content_hash(memoryview(data), "image")
    a.write_bytes(data[:-1] + b"\0")  # rewritten in place: a new key
    assert content_hash(a, "image") != expected
    with pytest.raises(FileNotFoundError, match="no such file"):
        content_hash(tmp_path / "missing.png", "image")


def test_text_must_be_str():
    with pytest.raises(TypeError, match="a text must be a str"):
        content_hash(b"a dog", "text")
    with pytest.raises(TypeError, match="cannot hash a int"):
        content_hash(3, "image")


def test_arrays_hash_values_dtype_and_shape():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    h = content_hash(a, "image")
    assert content_hash(a.copy(), "image") == h
    assert content_hash(np.asfortranarray(a), "image") == h  # memory layout does not count
    assert content_hash(a.T.copy().T, "image") == h
    assert content_hash(a.astype(np.float64), "image") != h  # dtype counts
    assert content_hash(a.astype(">f4"), "image") != h  # byte order counts
    assert content_hash(a.reshape(3, 2), "image") != h  # shape counts
    assert content_hash(a.ravel(), "image") != h
    b = a.copy()
    b[1, 2] += 1
    assert content_hash(b, "image") != h
    assert content_hash(a.tobytes(), "image") != h  # raw bytes are not an array


def test_waves_include_their_rate():
    w = np.zeros(8, dtype=np.float32)
    assert content_hash((w, 16000), "audio") != content_hash((w, 8000), "audio")
    assert content_hash((w, 16000), "audio") != content_hash(w, "audio")
    assert content_hash((w, 16000), "audio") == content_hash((w.copy(), 16000.0), "audio")


def test_feature_cache_reexports_the_same_function():
    from xmodal.encoders import content_hash as from_encoders
    from xmodal.encoders.feature_cache import content_hash as from_cache

    assert from_cache is content_hash and from_encoders is content_hash
