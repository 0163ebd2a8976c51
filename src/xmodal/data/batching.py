"""Deterministic, resumable batch order, and sharding of a global batch over data-parallel ranks.

Why not a shuffling ``DataLoader``: a contrastive run must be reproducible and resumable. The
order of batch ``b`` in epoch ``e`` is a pure function of ``(seed, e, b)``, so a checkpoint only
has to store a :class:`BatchPosition` (two integers) to continue with exactly the batches an
uninterrupted run would have seen, on any machine. With several data-parallel processes, every
rank computes the same global batch and keeps its contiguous :func:`shard`; the union over ranks
is the global batch, so the loss sees the same examples as one process holding the whole batch.

Example:
    >>> order = BatchOrder(10, 4, seed=0)
    >>> batches = iter(order)
    >>> position, indices = next(batches)
    >>> position, indices.shape, batches.position
    (BatchPosition(epoch=0, batch=0), (4,), BatchPosition(epoch=0, batch=1))
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def _nonnegative_int(value: Any, name: str) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {number}")
    return number


def epoch_permutation(n: int, *, seed: int, epoch: int) -> np.ndarray:
    """The order of ``n`` examples in ``epoch``: the same for the same (seed, epoch) everywhere.

    Args:
        n: number of examples.
        seed: the run's seed (>= 0).
        epoch: the epoch number (>= 0).

    Returns:
        (n,) int64 permutation of ``range(n)``, from ``np.random.default_rng([seed, epoch])``.

    Example:
        >>> perm = epoch_permutation(5, seed=1, epoch=0)
        >>> sorted(perm.tolist()), perm.dtype.name
        ([0, 1, 2, 3, 4], 'int64')
        >>> bool((perm == epoch_permutation(5, seed=1, epoch=0)).all())
        True
    """
    n = _nonnegative_int(n, "n")
    seed = _nonnegative_int(seed, "seed")
    epoch = _nonnegative_int(epoch, "epoch")
    rng = np.random.default_rng([seed, epoch])
    return rng.permutation(n).astype(np.int64)  # (n,)


@dataclass(frozen=True)
class BatchPosition:
    """A place in the batch stream: batch number ``batch`` of epoch ``epoch`` (both from 0).

    Example:
        >>> BatchPosition.from_dict(BatchPosition(2, 7).to_dict())
        BatchPosition(epoch=2, batch=7)
    """

    epoch: int
    batch: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "epoch", _nonnegative_int(self.epoch, "epoch"))
        object.__setattr__(self, "batch", _nonnegative_int(self.batch, "batch"))

    def to_dict(self) -> dict[str, int]:
        """A JSON-able form, for checkpoints."""
        return {"epoch": self.epoch, "batch": self.batch}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchPosition:
        """The position :meth:`to_dict` wrote; a missing key is a ValueError naming it."""
        missing = [key for key in ("epoch", "batch") if key not in data]
        if missing:
            raise ValueError(f"batch position is missing {', '.join(missing)}: {dict(data)!r}")
        return cls(epoch=data["epoch"], batch=data["batch"])


class BatchIterator(Iterator[tuple[BatchPosition, np.ndarray]]):
    """Yields ``(position, indices)`` forever; ``.position`` is where it would resume.

    Store ``.position`` in a checkpoint after the yielded batch has been trained on; a
    :class:`BatchOrder` started there yields the same following batches.
    """

    def __init__(self, order: BatchOrder, start: BatchPosition) -> None:
        self._order = order
        self.position = start
        self._epoch = -1
        self._perm = np.empty(0, dtype=np.int64)  # (n,) order of the cached epoch

    def __next__(self) -> tuple[BatchPosition, np.ndarray]:
        position = self.position
        if position.epoch != self._epoch:
            self._perm = epoch_permutation(self._order.n, seed=self._order.seed,
                                           epoch=position.epoch)
            self._epoch = position.epoch
        size = self._order.batch_size
        indices = self._perm[position.batch * size:(position.batch + 1) * size].copy()  # (<=B,)
        self.position = self._order.next_position(position)
        return position, indices


class BatchOrder:
    """Seeded batches of example indices, epoch after epoch, resumable from a position.

    Args:
        n: number of examples.
        batch_size: examples per batch.
        seed: the run's seed; each epoch is shuffled with :func:`epoch_permutation`.
        drop_last: leave out each epoch's last ``n % batch_size`` examples (a contrastive loss
            wants full batches); ``False`` yields a short last batch instead.
        start: the first position to yield (a checkpoint's ``position``).

    Example:
        >>> order = BatchOrder(5, 2, seed=3, drop_last=False)
        >>> order.batches_per_epoch
        3
        >>> [len(indices) for _, indices in order.take(4)]
        [2, 2, 1, 2]
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        seed: int,
        drop_last: bool = True,
        start: BatchPosition = BatchPosition(0, 0),  # frozen, so safe to share
    ) -> None:
        self.n = _nonnegative_int(n, "n")
        self.batch_size = _nonnegative_int(batch_size, "batch_size")
        self.seed = _nonnegative_int(seed, "seed")
        self.drop_last = bool(drop_last)
        if self.n == 0:
            raise ValueError("n must be >= 1: there are no examples to batch")
        if self.batch_size == 0:
            raise ValueError("batch_size must be >= 1")
        if drop_last and self.batch_size > self.n:
            raise ValueError(
                f"batch_size {self.batch_size} > n {self.n} with drop_last=True: every batch "
                "would be dropped (use a smaller batch or drop_last=False)"
            )
        if not isinstance(start, BatchPosition):
            raise TypeError(f"start must be a BatchPosition, got {type(start).__name__}")
        if start.batch >= self.batches_per_epoch:
            raise ValueError(
                f"start batch {start.batch} is past the end of an epoch "
                f"({self.batches_per_epoch} batches)"
            )
        self.start = start

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one epoch: ``n // batch_size``, or rounded up without ``drop_last``."""
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def next_position(self, position: BatchPosition) -> BatchPosition:
        """The position after ``position``: the next batch, or batch 0 of the next epoch."""
        if position.batch + 1 < self.batches_per_epoch:
            return BatchPosition(position.epoch, position.batch + 1)
        return BatchPosition(position.epoch + 1, 0)

    def batch(self, position: BatchPosition) -> np.ndarray:
        """The (batch_size,) int64 indices at ``position`` (shorter only for a kept last batch)."""
        if position.batch >= self.batches_per_epoch:
            raise ValueError(
                f"batch {position.batch} is past the end of an epoch "
                f"({self.batches_per_epoch} batches)"
            )
        return next(BatchIterator(self, position))[1]

    def take(self, count: int) -> list[tuple[BatchPosition, np.ndarray]]:
        """The first ``count`` ``(position, indices)`` pairs from ``start``."""
        batches = iter(self)
        return [next(batches) for _ in range(_nonnegative_int(count, "count"))]

    def __iter__(self) -> BatchIterator:
        return BatchIterator(self, self.start)

    def __repr__(self) -> str:
        return (f"BatchOrder(n={self.n}, batch_size={self.batch_size}, seed={self.seed}, "
                f"drop_last={self.drop_last}, start={self.start})")


def shard(indices: np.ndarray, *, rank: int, world_size: int) -> np.ndarray:
    """The contiguous part of a global batch that data-parallel ``rank`` trains on.

    Concatenating the shards of ranks 0..world_size-1 gives ``indices`` back, so the ranks
    together see exactly the global batch.

    Args:
        indices: (B,) the global batch, the same on every rank.
        rank: this process's rank, ``0 <= rank < world_size``.
        world_size: number of data-parallel processes; must divide B.

    Returns:
        (B // world_size,) a copy of this rank's slice.

    Example:
        >>> shard(np.arange(6), rank=1, world_size=3)
        array([2, 3])
    """
    batch = np.asarray(indices)
    if batch.ndim != 1:
        raise ValueError(f"indices must be 1-D, got shape {batch.shape}")
    world_size = _nonnegative_int(world_size, "world_size")
    rank = _nonnegative_int(rank, "rank")
    if world_size == 0:
        raise ValueError("world_size must be >= 1")
    if rank >= world_size:
        raise ValueError(f"rank {rank} is not below world_size {world_size}")
    if batch.shape[0] % world_size:
        raise ValueError(
            f"global batch of {batch.shape[0]} does not split evenly over {world_size} ranks"
        )
    per_rank = batch.shape[0] // world_size
    return batch[rank * per_rank:(rank + 1) * per_rank].copy()  # (B // world_size,)
