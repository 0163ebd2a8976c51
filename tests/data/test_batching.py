"""Seeded batch orders (mixed; one source per batch): determinism, coverage per epoch, resuming,
sharding."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from xmodal.data.batching import (
    BatchOrder,
    BatchPosition,
    SourceBatchOrder,
    epoch_permutation,
    shard,
)


def test_permutation_is_deterministic_and_depends_on_seed_and_epoch():
    a = epoch_permutation(100, seed=7, epoch=3)
    assert a.dtype == np.int64 and a.shape == (100,)
    assert np.array_equal(a, epoch_permutation(100, seed=7, epoch=3))
    assert np.array_equal(np.sort(a), np.arange(100))
    assert not np.array_equal(a, epoch_permutation(100, seed=8, epoch=3))
    assert not np.array_equal(a, epoch_permutation(100, seed=7, epoch=4))


def test_permutation_matches_documented_generator():
    expected = np.random.default_rng([5, 2]).permutation(20)
    assert np.array_equal(epoch_permutation(20, seed=5, epoch=2), expected)


def test_orders_are_equal_across_instances():
    one = BatchOrder(23, 5, seed=1).take(12)
    two = BatchOrder(23, 5, seed=1).take(12)
    for (p1, i1), (p2, i2) in zip(one, two, strict=True):
        assert p1 == p2 and np.array_equal(i1, i2)
    other = BatchOrder(23, 5, seed=2).take(4)
    assert any(not np.array_equal(i1, i2) for (_, i1), (_, i2) in zip(one, other, strict=False))


def test_every_index_once_per_epoch_without_drop_last():
    order = BatchOrder(23, 5, seed=4, drop_last=False)
    assert order.batches_per_epoch == 5
    batches = order.take(3 * 5)
    for epoch in range(3):
        chunk = batches[epoch * 5:(epoch + 1) * 5]
        assert [p for p, _ in chunk] == [BatchPosition(epoch, b) for b in range(5)]
        assert [len(i) for _, i in chunk] == [5, 5, 5, 5, 3]
        assert np.array_equal(np.sort(np.concatenate([i for _, i in chunk])), np.arange(23))
    first = np.concatenate([i for _, i in batches[:5]])
    second = np.concatenate([i for _, i in batches[5:10]])
    assert not np.array_equal(first, second)  # a new shuffle each epoch


def test_drop_last_gives_full_distinct_batches():
    order = BatchOrder(23, 5, seed=4)
    assert order.batches_per_epoch == 4
    batches = order.take(8)
    for epoch in range(2):
        seen = np.concatenate([i for _, i in batches[epoch * 4:(epoch + 1) * 4]])
        assert len(seen) == 20 and len(np.unique(seen)) == 20
    assert all(len(i) == 5 for _, i in batches)
    assert batches[4][0] == BatchPosition(1, 0)


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("stop", [1, 3, 4, 5, 9])
def test_resume_matches_uninterrupted_run(drop_last, stop):
    uninterrupted = BatchOrder(23, 5, seed=11, drop_last=drop_last).take(stop + 12)
    batches = iter(BatchOrder(23, 5, seed=11, drop_last=drop_last))
    for _ in range(stop):
        next(batches)
    saved = json.loads(json.dumps(batches.position.to_dict()))  # through a checkpoint
    resumed = BatchOrder(23, 5, seed=11, drop_last=drop_last,
                         start=BatchPosition.from_dict(saved)).take(12)
    for (p1, i1), (p2, i2) in zip(uninterrupted[stop:], resumed, strict=True):
        assert p1 == p2 and np.array_equal(i1, i2)


def test_next_position_and_batch():
    order = BatchOrder(10, 3, seed=0)  # 3 batches per epoch
    assert order.next_position(BatchPosition(0, 1)) == BatchPosition(0, 2)
    assert order.next_position(BatchPosition(0, 2)) == BatchPosition(1, 0)
    position, indices = order.take(5)[4]
    assert position == BatchPosition(1, 1)
    assert np.array_equal(order.batch(position), indices)


def test_shard_union_is_the_global_batch():
    batch = BatchOrder(50, 12, seed=3).batch(BatchPosition(2, 1))
    parts = [shard(batch, rank=r, world_size=4) for r in range(4)]
    assert all(len(p) == 3 for p in parts)
    assert np.array_equal(np.concatenate(parts), batch)


def test_shard_errors():
    with pytest.raises(ValueError, match="evenly"):
        shard(np.arange(10), rank=0, world_size=3)
    with pytest.raises(ValueError, match="rank"):
        shard(np.arange(6), rank=3, world_size=3)
    with pytest.raises(ValueError, match="world_size"):
        shard(np.arange(6), rank=0, world_size=0)
    with pytest.raises(ValueError, match="1-D"):
        shard(np.zeros((2, 2)), rank=0, world_size=1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="drop_last"):
        BatchOrder(4, 5, seed=0)
    assert BatchOrder(4, 5, seed=0, drop_last=False).batches_per_epoch == 1
    with pytest.raises(ValueError, match="batch_size"):
        BatchOrder(4, 0, seed=0)
    with pytest.raises(ValueError, match="n must"):
        BatchOrder(0, 1, seed=0, drop_last=False)
    with pytest.raises(ValueError, match="past the end"):
        BatchOrder(10, 5, seed=0, start=BatchPosition(0, 2))
    with pytest.raises(ValueError, match=">= 0"):
        epoch_permutation(3, seed=-1, epoch=0)
    with pytest.raises(TypeError, match="integer"):
        BatchOrder(10, 2.5, seed=0)
    with pytest.raises(ValueError, match="batch"):
        BatchPosition.from_dict({"epoch": 1})
    with pytest.raises(ValueError, match=">= 0"):
        BatchPosition(-1, 0)


# --- one source per batch

SOURCES = ["emoji"] * 23 + ["photo"] * 7 + ["render"] * 11 + ["emoji"] * 4  # 27 / 7 / 11


def _source_of(i: int) -> str:
    return SOURCES[i]


def test_each_batch_one_source_every_row_once_an_epoch():
    order = SourceBatchOrder(SOURCES, 8, seed=5)
    # hand count: emoji 27 rows -> 4 parts, photo 7 -> 1, render 11 -> 2
    assert order.batches_per_epoch == 7
    for epoch in range(3):
        batches = order.epoch_batches(epoch)
        assert len(batches) == 7
        for b in batches:
            assert len({_source_of(i) for i in b.tolist()}) == 1
            assert 2 <= len(b) <= 8
        seen = np.sort(np.concatenate(batches))
        assert np.array_equal(seen, np.arange(len(SOURCES)))
        sizes = sorted(len(b) for b in batches)
        assert sizes == sorted([7, 7, 7, 6, 7, 6, 5])  # 27 = 7+7+7+6, 7, 11 = 6+5


def test_share_of_batches_follows_each_source_size():
    sources = ["a"] * 1000 + ["b"] * 100
    order = SourceBatchOrder(sources, 100, seed=0)
    firsts = [sources[int(b[0])] for b in order.epoch_batches(0)]
    assert firsts.count("a") == math.ceil(1000 / 100) and firsts.count("b") == 1


def test_seeded_and_epochs_differ():
    a, b = SourceBatchOrder(SOURCES, 8, seed=1), SourceBatchOrder(SOURCES, 8, seed=1)
    for x, y in zip(a.epoch_batches(2), b.epoch_batches(2), strict=True):
        assert np.array_equal(x, y)
    e0, e1 = a.epoch_batches(0), a.epoch_batches(1)
    assert any(not np.array_equal(x, y) for x, y in zip(e0, e1, strict=True))
    other = SourceBatchOrder(SOURCES, 8, seed=2).epoch_batches(0)
    assert any(not np.array_equal(x, y) for x, y in zip(e0, other, strict=True))


@pytest.mark.parametrize("stop", [1, 6, 7, 9])
def test_source_order_resumes_like_an_uninterrupted_run(stop):
    uninterrupted = SourceBatchOrder(SOURCES, 8, seed=3).take(stop + 10)
    batches = iter(SourceBatchOrder(SOURCES, 8, seed=3))
    for _ in range(stop):
        next(batches)
    saved = json.loads(json.dumps(batches.position.to_dict()))
    resumed = SourceBatchOrder(SOURCES, 8, seed=3,
                               start=BatchPosition.from_dict(saved)).take(10)
    for (p1, i1), (p2, i2) in zip(uninterrupted[stop:], resumed, strict=True):
        assert p1 == p2 and np.array_equal(i1, i2)


def test_multiple_cuts_batches_for_the_ranks():
    order = SourceBatchOrder(SOURCES, 8, seed=0, multiple=4)
    batches = order.epoch_batches(0)
    # hand count: emoji 27 -> 24 rows in 3 batches of 8, photo 7 -> 4, render 11 -> 8
    assert sorted(len(b) for b in batches) == [4, 8, 8, 8, 8]
    for b in batches:
        assert len({_source_of(i) for i in b.tolist()}) == 1
        parts = [shard(b, rank=r, world_size=4) for r in range(4)]
        assert np.array_equal(np.concatenate(parts), b)
    seen = np.concatenate(batches)
    assert len(np.unique(seen)) == len(seen) == 24 + 4 + 8  # < 4 rows a source wait an epoch
    # a source just above the multiple: one batch, never an empty one
    assert [len(b) for b in SourceBatchOrder(["a"] * 5, 4, seed=0, multiple=4)
            .epoch_batches(0)] == [4]


def test_source_order_bad_arguments():
    with pytest.raises(ValueError, match=r"fewer than 2 rows.*'lonely': 1"):
        SourceBatchOrder(["a", "a", "lonely"], 4, seed=0)
    with pytest.raises(ValueError, match=r"fewer than 4 rows.*'photo': 3"):
        SourceBatchOrder(["e"] * 8 + ["photo"] * 3, 4, seed=0, multiple=4)
    with pytest.raises(ValueError, match="empty"):
        SourceBatchOrder([], 4, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        SourceBatchOrder(["a", "a"], 0, seed=0)
    with pytest.raises(ValueError, match="batch_size 6 is not a multiple of 4"):
        SourceBatchOrder(["a"] * 8, 6, seed=0, multiple=4)
    with pytest.raises(ValueError, match="past the end"):
        SourceBatchOrder(["a"] * 4, 2, seed=0, start=BatchPosition(0, 2))
