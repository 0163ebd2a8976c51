"""Deterministic, resumable batch orders (mixed, or one source per batch), and sharding of a
global batch over data-parallel ranks.

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
from collections.abc import Hashable, Iterator, Mapping, Sequence
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

    Store ``.position`` in a checkpoint after the yielded batch has been trained on; the same
    order (:class:`BatchOrder`, :class:`SourceBatchOrder`) started there yields the same
    following batches.
    """

    def __init__(self, order: _Order, start: BatchPosition) -> None:
        self._order = order
        self.position = start
        self._epoch = -1
        self._batches: list[np.ndarray] = []  # the cached epoch's batches

    def __next__(self) -> tuple[BatchPosition, np.ndarray]:
        position = self.position
        if position.epoch != self._epoch:
            self._batches = self._order.epoch_batches(position.epoch)
            self._epoch = position.epoch
        indices = self._batches[position.batch].copy()  # (<=B,)
        self.position = self._order.next_position(position)
        return position, indices


class _Order:
    """What the batch orders share: positions, single batches, iteration."""

    start: BatchPosition

    @property
    def batches_per_epoch(self) -> int:
        raise NotImplementedError

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """Every batch of ``epoch``, in order (int64 index arrays)."""
        raise NotImplementedError

    def _check_batch(self, batch: int, what: str) -> None:
        if batch >= self.batches_per_epoch:
            raise ValueError(
                f"{what} {batch} is past the end of an epoch ({self.batches_per_epoch} batches)"
            )

    def _check_start(self, start: BatchPosition) -> BatchPosition:
        if not isinstance(start, BatchPosition):
            raise TypeError(f"start must be a BatchPosition, got {type(start).__name__}")
        self._check_batch(start.batch, "start batch")
        return start

    def next_position(self, position: BatchPosition) -> BatchPosition:
        """The position after ``position``: the next batch, or batch 0 of the next epoch."""
        if position.batch + 1 < self.batches_per_epoch:
            return BatchPosition(position.epoch, position.batch + 1)
        return BatchPosition(position.epoch + 1, 0)

    def batch(self, position: BatchPosition) -> np.ndarray:
        """The int64 indices at ``position``."""
        self._check_batch(position.batch, "batch")
        return next(BatchIterator(self, position))[1]

    def take(self, count: int) -> list[tuple[BatchPosition, np.ndarray]]:
        """The first ``count`` ``(position, indices)`` pairs from ``start``."""
        batches = iter(self)
        return [next(batches) for _ in range(_nonnegative_int(count, "count"))]

    def __iter__(self) -> BatchIterator:
        return BatchIterator(self, self.start)


class BatchOrder(_Order):
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
        self.start = self._check_start(start)

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one epoch: ``n // batch_size``, or rounded up without ``drop_last``."""
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """Every batch of ``epoch``: consecutive slices of :func:`epoch_permutation`."""
        perm = epoch_permutation(self.n, seed=self.seed, epoch=epoch)  # (n,)
        size = self.batch_size
        return [perm[b * size:(b + 1) * size] for b in range(self.batches_per_epoch)]

    def __repr__(self) -> str:
        return (f"BatchOrder(n={self.n}, batch_size={self.batch_size}, seed={self.seed}, "
                f"drop_last={self.drop_last}, start={self.start})")


class SourceBatchOrder(_Order):
    """Seeded batches that each hold rows of one source only, resumable like :class:`BatchOrder`.

    A contrastive batch mixing sources (emoji, furniture renders, photos) is easy: most of its
    negatives differ from the positive in style alone. Drawn from one source, every negative is
    of the same kind, so the loss pays for telling apart what searches of that source must
    tell apart. Each epoch, every source's rows are shuffled and cut into
    ``ceil(rows / batch_size)`` near-equal batches (a source smaller than ``batch_size`` is one
    batch; none is larger), and the batches of all sources are shuffled together: a source's
    share of the steps follows its size, and every row is seen once an epoch.

    Args:
        sources: (n,) each row's source (any hashable labels); every source needs 2 rows or more
            (a batch of one row has no negatives).
        batch_size: the largest batch.
        seed: the run's seed.
        multiple: every batch's size is a multiple of this (the data-parallel world size, so
            that :func:`shard` splits it evenly; ``batch_size`` must be one too): each epoch a
            source's last ``rows % multiple`` shuffled rows wait for a later epoch, the rest is
            cut into parts of whole multiples. A source of fewer rows is an error.
        start: the first position to yield (a checkpoint's ``position``).

    Example:
        >>> order = SourceBatchOrder(["a"] * 5 + ["b"] * 3, 4, seed=0)
        >>> order.batches_per_epoch
        3
        >>> sorted(len(b) for b in order.epoch_batches(0))
        [2, 3, 3]
        >>> [sorted({"a" if i < 5 else "b" for i in b.tolist()}) for b in order.epoch_batches(0)]
        [['b'], ['a'], ['a']]
    """

    def __init__(
        self,
        sources: Sequence[Hashable] | np.ndarray,
        batch_size: int,
        *,
        seed: int,
        multiple: int = 1,
        start: BatchPosition = BatchPosition(0, 0),
    ) -> None:
        labels = list(sources)
        self.n = len(labels)
        self.batch_size = _nonnegative_int(batch_size, "batch_size")
        self.seed = _nonnegative_int(seed, "seed")
        self.multiple = _nonnegative_int(multiple, "multiple")
        if self.n == 0:
            raise ValueError("sources is empty: there are no examples to batch")
        if self.batch_size == 0 or self.multiple == 0:
            raise ValueError("batch_size and multiple must be >= 1")
        if self.batch_size % self.multiple:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of {self.multiple}")
        rows: dict[Hashable, list[int]] = {}
        for i, label in enumerate(labels):
            rows.setdefault(label, []).append(i)
        least = max(2, self.multiple)
        small = {str(k): len(v) for k, v in rows.items() if len(v) < least}
        if small:
            raise ValueError(f"sources with fewer than {least} rows cannot fill a batch: {small}")
        self.members = [np.asarray(v, np.int64) for v in rows.values()]  # first-seen order
        units = self.batch_size // self.multiple  # whole multiples per full batch
        self.splits = [-(-(len(m) // self.multiple) // units) for m in self.members]
        self.start = self._check_start(start)

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one epoch: ``ceil(rows / batch_size)`` summed over the sources (rows
        counted down to a multiple of ``multiple``)."""
        return sum(self.splits)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """Every batch of ``epoch``: each source's shuffled rows in near-equal parts, the parts
        of all sources shuffled; from ``np.random.default_rng([seed, epoch, 1])``."""
        rng = np.random.default_rng([self.seed, _nonnegative_int(epoch, "epoch"), 1])
        parts: list[np.ndarray] = []
        m = self.multiple
        for members, k in zip(self.members, self.splits, strict=True):
            rows = members[rng.permutation(len(members))]  # (r,)
            units = rows[: len(rows) - len(rows) % m].reshape(-1, m)  # (r // m, m)
            parts += [u.reshape(-1) for u in np.array_split(units, k)]  # (<=B,) each
        return [parts[i] for i in rng.permutation(len(parts))]

    def __repr__(self) -> str:
        return (f"SourceBatchOrder(n={self.n}, sources={len(self.members)}, "
                f"batch_size={self.batch_size}, seed={self.seed}, start={self.start})")


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
