"""Pipelined encoding: decode batch k+1 in a thread while the network runs batch k.

:class:`Pipeline` wraps the iterator of decoded batches of ``encode_image`` / ``encode_audio``.
One background thread pulls from it (decoding, and the encoder's ``prepare_*``, run there:
Pillow, NumPy and SciPy release the GIL while they work), at most one batch ahead, so memory
holds at most three batches: the one decoding, the one waiting and the one in the network.

No oversubscription: the thread budget is torch's intra-op thread count ``T`` when the call
starts (one per core by default). While a batch is decoded beside the network, the network runs
on ``T - 1`` threads, so decode + network threads stay ``≤ T``; otherwise it runs on ``T`` and
the batches are decoded one after the other, the network idle meanwhile.

Which of the two is faster depends on the data (a 12 MP JPEG takes about as long to decode as
the network takes to embed it; a 200 px PNG, 1/20 of that) and on how the network scales with
threads. So it is measured, not assumed, on the first batch of the first call with two batches
or more (``overlap="auto"``): its decoding (seconds per item ``d``), then its network on
``T - 1`` and on ``T`` threads, nothing else running (``n_{T-1}``, ``n_T``). Overlapping costs
``max(d, n_{T-1})`` per item, one after the other ``d + n_T``; the cheaper is kept for every
later batch and call of that encoder and modality (:attr:`Pipeline.decided`), so that repeated
calls run the network on the same thread count and give bit-identical vectors (the thread count
changes float summation order: about 1e-6). :attr:`Pipeline.trace` records each batch.

Torch's thread count is process-wide: one pipeline at a time changes it (a module lock; another
concurrent one runs without overlap and leaves it alone), and it is restored when the call ends.

Example:
    >>> batches = iter([("a", 1), ("b", 2), ("c", 3)])
    >>> with Pipeline(batches) as pipe:
    ...     out = [pipe.run(lambda: batch[0], items=1) for batch in pipe]
    >>> out
    ['a', 'b', 'c']
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch

_OWNER = threading.Lock()  # held by the one pipeline that changes torch's thread count
_END = object()


@dataclass(frozen=True)
class BatchTrace:
    """What one batch did: decoded beside the network or not, and with how many threads."""

    mode: Literal["sequential", "overlapped"]
    torch_threads: int  # the network's intra-op threads for this batch
    decode_threads: int  # threads decoding at the same time as the network (0 or 1)
    network_s: float  # wall seconds in the network


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Pipeline:
    """Decoded batches from ``batches``, produced by one background thread on demand.

    Use as a context manager; iterate it, and run each batch's network work through
    :meth:`run` (``items``: the batch's item count, for the per-item timings).

    Args:
        batches: The iterator of decoded batches; it is advanced in the background thread only.
        overlap: ``"auto"`` (measured, see the module docstring), ``"never"`` (one after the
            other, torch untouched) or ``"always"`` (overlap every batch on ``T - 1`` threads).
        reserved: Cores already taken by the caller's decoding worker processes: the network
            runs on ``max(1, T - reserved)`` threads and nothing more is decoded in a thread.
        items_of: The number of items in a batch, for the per-item timings (default 1).
        decided: An earlier pipeline's :attr:`decided` for the same encoder and modality
            (``"auto"`` then measures nothing); ``None``: not decided yet.
    """

    def __init__(self, batches: Iterator[Any], *,
                 overlap: Literal["auto", "never", "always"] = "auto",
                 reserved: int = 0, items_of: Callable[[Any], int] = lambda batch: 1,
                 decided: bool | None = None) -> None:
        if overlap not in ("auto", "never", "always"):
            raise ValueError(f"overlap must be 'auto', 'never' or 'always', got {overlap!r}")
        self._source = batches
        self._mode = overlap
        self._reserved = reserved
        self._items_of = items_of
        self._owner = False
        self._budget = torch.get_num_threads()
        self._queue: queue.Queue = queue.Queue()
        self._permits = threading.Semaphore(0)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._requested = 0  # batches asked of the thread so far
        self._served = 0  # batches handed to the caller so far
        self._decode = [0.0, 0]  # seconds, items decoded
        self._overlapping = False
        self._last = False  # the batch being served is the last one
        self.decided = decided
        """Whether ``"auto"`` overlaps (measured on this encoder's first call with two batches
        or more, then kept); ``None`` until measured."""
        self.trace: list[BatchTrace] = []

    def __enter__(self) -> Pipeline:
        can_change = self._budget > 1 and (self._mode != "never" or self._reserved)
        self._owner = can_change and _OWNER.acquire(blocking=False)
        if self._owner and self._reserved:
            torch.set_num_threads(max(1, self._budget - self._reserved))
        self._thread = threading.Thread(target=self._produce, name="xmodal-decode", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._permits.release()  # wake the thread if it waits for a request
        if self._thread is not None:
            self._thread.join()  # it finishes the batch it is decoding, if any
        if self._owner:
            torch.set_num_threads(self._budget)
            _OWNER.release()
            self._owner = False

    def _produce(self) -> None:
        while True:
            self._permits.acquire()
            if self._closed:
                return
            start = time.perf_counter()
            try:
                batch = next(self._source)
            except StopIteration:
                self._queue.put(_END)
                return
            except BaseException as exc:  # handed to the caller, raised there
                self._queue.put(_Failed(exc))
                return
            self._queue.put((batch, time.perf_counter() - start))

    def _request(self) -> None:
        self._requested += 1
        self._permits.release()

    def __iter__(self) -> Iterator[Any]:
        if self._thread is None:
            raise RuntimeError("use Pipeline as a context manager: with Pipeline(...) as pipe")
        while True:
            if self._requested == self._served:
                self._request()  # nothing decoded ahead: decode it now, the network idle
            got = self._queue.get()
            if got is _END:
                return
            if isinstance(got, _Failed):
                raise got.exc
            self._served += 1
            batch, seconds = got
            self._decode[0] += seconds
            self._decode[1] += max(1, self._items_of(batch))
            self._overlapping = self._can_change() and self._mode != "never" and (
                self._mode == "always" or bool(self.decided))
            if self._overlapping:
                self._request()  # the next batch decodes while the caller runs this one
            yield batch

    def _can_change(self) -> bool:
        return self._owner and not self._reserved and self._budget > 1

    def _measuring(self) -> bool:
        """The first batch of a call of two or more, ``"auto"``, nothing decided yet."""
        return (self._mode == "auto" and self.decided is None and self._can_change()
                and self._served == 1 and self._queue.empty() and not self._exhausted())

    def _exhausted(self) -> bool:
        """Whether the source has no batch after this one (asks the thread for it, unless the
        call has a single batch: then nothing is measured and nothing is lost)."""
        self._request()
        got = self._queue.get()
        self._queue.put(got)  # served next, as it came
        return got is _END

    def run(self, fn: Callable[[], Any], *, items: int) -> Any:
        """Run the caller's network work for the current batch with the planned thread count.

        On the batch that measures (see the module docstring) ``fn`` runs twice, on ``T - 1``
        and on ``T`` threads, and the result of the thread count kept is returned.
        """
        if self._measuring():
            n = max(1, items)
            d = self._decode[0] / max(1, self._decode[1])
            less, less_s = self._timed(fn, self._budget - 1)
            full, full_s = self._timed(fn, self._budget)
            self.decided = max(d, less_s / n) < d + full_s / n
            self._trace(self.decided, less_s if self.decided else full_s)
            return less if self.decided else full
        threads = self._budget - 1 if self._overlapping else torch.get_num_threads()
        out, seconds = self._timed(fn, threads)
        self._trace(self._overlapping, seconds)
        return out

    def _timed(self, fn: Callable[[], Any], threads: int) -> tuple[Any, float]:
        saved = torch.get_num_threads()
        if threads != saved:
            torch.set_num_threads(threads)
        start = time.perf_counter()
        try:
            return fn(), time.perf_counter() - start
        finally:
            if threads != saved:
                torch.set_num_threads(saved)

    def _trace(self, overlapped: bool, seconds: float) -> None:
        threads = self._budget - 1 if overlapped else torch.get_num_threads()
        self.trace.append(BatchTrace("overlapped" if overlapped else "sequential", threads,
                                     int(self._overlapping), seconds))

