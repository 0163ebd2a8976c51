"""The on-disk tower feature cache: hits skip the tower, keys follow content, towers never mix."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from xmodal.encoders import FeatureCache, content_hash


class CountingTower:
    """A fake tower: features from the content's hash, counting the items it is asked for."""

    def __init__(self, salt: str = "", dim: int = 4) -> None:
        self.salt, self.dim, self.calls = salt, dim, []

    def __call__(self, items: list[object], modality: str = "text") -> np.ndarray:
        self.calls.append(list(items))
        out = []
        for item in items:
            seed = int(content_hash(item, modality)[:8], 16) ^ hash(self.salt) % 2**32
            out.append(np.random.default_rng(seed).standard_normal(self.dim))
        return np.asarray(out, dtype=np.float32)

    @property
    def n_items(self) -> int:
        return sum(len(c) for c in self.calls)


def test_second_call_skips_the_tower_and_keeps_input_order(tmp_path):
    cache, tower = FeatureCache(tmp_path), CountingTower()
    first = cache.get_or_compute(["a", "b", "c"], tower, tower_id="t")
    again = cache.get_or_compute(["c", "a", "b", "a"], tower, tower_id="t")
    assert tower.n_items == 3
    np.testing.assert_array_equal(again, first[[2, 0, 1, 0]])
    assert again.dtype == np.float32 and cache.count("t") == 3
    # a new process (new cache object) reads the same folder
    assert FeatureCache(tmp_path).get_or_compute(["b"], tower, tower_id="t").shape == (1, 4)
    assert tower.n_items == 3


def test_only_misses_are_computed_once_each(tmp_path):
    cache, tower = FeatureCache(tmp_path), CountingTower()
    cache.get_or_compute(["a"], tower, tower_id="t")
    cache.get_or_compute(["b", "a", "b", "c"], tower, tower_id="t")
    assert tower.calls == [["a"], ["b", "c"]]


def test_file_rewritten_in_place_is_recomputed(tmp_path):
    path = tmp_path / "clip.bin"
    path.write_bytes(b"version one")
    cache = FeatureCache(tmp_path / "cache")
    tower = CountingTower()

    def compute(items):
        return tower([p.read_bytes() for p in items], "image")

    old = cache.get_or_compute([path], compute, tower_id="t", modality="image")
    path.write_bytes(b"version two")
    new = cache.get_or_compute([path], compute, tower_id="t", modality="image")
    assert tower.n_items == 2 and not np.array_equal(old, new)
    renamed = tmp_path / "renamed.bin"
    path.rename(renamed)  # same bytes, new name: a hit
    cache.get_or_compute([str(renamed)], compute, tower_id="t", modality="image")
    assert tower.n_items == 2


def test_towers_and_modalities_do_not_collide(tmp_path):
    cache = FeatureCache(tmp_path)
    one, two = CountingTower("one"), CountingTower("two", dim=3)
    a = cache.get_or_compute(["x", "y"], one, tower_id="st:/models/one")
    b = cache.get_or_compute(["x", "y"], two, tower_id="st:/models/two")
    assert a.shape == (2, 4) and b.shape == (2, 3) and one.n_items == two.n_items == 2
    image = CountingTower("img")
    cache.get_or_compute([b"x"], lambda items: image(items, "image"), tower_id="st:/models/one",
                         modality="image")
    assert image.n_items == 1  # the text "x" and the image bytes b"x" are different entries
    cache.clear("st:/models/one")
    cache.get_or_compute(["x"], one, tower_id="st:/models/one")
    cache.get_or_compute(["x"], two, tower_id="st:/models/two")
    assert one.n_items == 3 and two.n_items == 2


def test_content_hash_covers_arrays_images_and_waves():
    from PIL import Image

    wave = np.zeros(8, dtype=np.float32)
    assert content_hash(wave, "audio") != content_hash(wave.astype(np.float64), "audio")
    assert content_hash((wave, 16000), "audio") != content_hash((wave, 8000), "audio")
    assert content_hash(wave.reshape(2, 4), "audio") != content_hash(wave, "audio")
    red, blue = Image.new("RGB", (4, 4), "red"), Image.new("RGB", (4, 4), "blue")
    assert content_hash(red, "image") == content_hash(red.copy(), "image")
    assert content_hash(red, "image") != content_hash(blue, "image")
    with pytest.raises(TypeError, match="must be a str"):
        content_hash(b"x", "text")
    with pytest.raises(FileNotFoundError, match="no such file"):
        content_hash("/nonexistent/file.png", "image")


def test_bad_tower_output_is_refused_and_not_stored(tmp_path):
    cache = FeatureCache(tmp_path)
    with pytest.raises(ValueError, match="expected"):
        cache.get_or_compute(["a", "b"], lambda items: np.zeros((1, 4)), tower_id="t")
    with pytest.raises(ValueError, match="NaN"):
        cache.get_or_compute(["a"], lambda items: np.full((1, 4), np.nan), tower_id="t")
    assert cache.count("t") == 0


def test_concurrent_writers_agree(tmp_path):
    tower = CountingTower()
    items = [f"item {i}" for i in range(200)]
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            cache = FeatureCache(tmp_path)  # one cache object per worker, like processes
            rolled = items[offset:] + items[:offset]
            got = cache.get_or_compute(rolled, tower, tower_id="t")
            results.append(np.roll(got, offset, axis=0))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 37,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])
    assert FeatureCache(tmp_path).count("t") == 200


def test_many_connections_opening_a_fresh_cache_at_once_all_succeed(tmp_path):
    # SQLite answers the switch to WAL with "database is locked" without waiting when another
    # connection creates the same file at that moment: a fresh cache opened by several
    # processes at once hit it about once in a hundred tries before the retry.
    errors: list[BaseException] = []

    def open_and_count(folder) -> None:
        try:
            FeatureCache(folder).count("t")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    for trial in range(40):
        threads = [
            threading.Thread(target=open_and_count, args=(tmp_path / str(trial),))
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors


def test_a_failing_chunk_keeps_the_chunks_computed_before_it(tmp_path):
    from xmodal.encoders.feature_cache import FeatureCache as Cache

    cache = Cache(tmp_path / "cache")
    calls = []

    def tower(batch):
        calls.append(len(batch))
        if "boom" in batch:
            raise ValueError("bad item")
        return np.ones((len(batch), 3), dtype=np.float32)

    items = [f"t{i}" for i in range(5)] + ["boom"]
    with pytest.raises(ValueError, match="bad item"):
        cache.get_or_compute(items, tower, tower_id="t", chunk_size=2)
    assert cache.count("t") == 4  # the two full chunks before the failing one
    calls.clear()
    cache.get_or_compute(items[:5], tower, tower_id="t", chunk_size=2)
    assert calls == [1]  # only t4 was still missing
