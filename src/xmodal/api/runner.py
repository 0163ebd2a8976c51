"""Running a blocking call for a server: in a work slot, on a worker thread, within a timeout.

Both servers run every service call through :func:`run_blocking` (an HTTP route through its
``Work`` dependency, an MCP tool through its ``call``), so they bound work the same way:

1. A work slot is taken *before* the call is scheduled. When every slot is busy the call is
   refused at once (:class:`~xmodal.api.limits.Overloaded`, 429), never queued.
2. The call runs on a worker thread; the event loop keeps answering.
3. Past ``timeout_s`` the caller gets :class:`~xmodal.api.limits.WorkTimeout` (504). A call
   that has not started yet (no free worker thread) never starts, and its slot is freed at
   once. A call already running cannot be interrupted: it finishes in the background and holds
   its slot until then, so the slots bound the work really in flight.

The same holds when the caller is cancelled (a client that goes away).

Example:
    >>> import anyio, threading
    >>> class Slots:
    ...     free = threading.BoundedSemaphore(1)
    ...     def try_acquire(self):
    ...         assert self.free.acquire(blocking=False)
    ...     def release(self):
    ...         self.free.release()
    >>> async def answer():
    ...     return await run_blocking(Slots(), lambda: 6 * 7, timeout_s=5)
    >>> anyio.run(answer)
    42
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from xmodal.api.limits import WorkTimeout

__all__ = ["Slots", "run_blocking"]

T = TypeVar("T")


class Slots(Protocol):
    """Work slots (:class:`~xmodal.api.service.SearchService` has them)."""

    def try_acquire(self) -> None:
        """Take a slot, or raise :class:`~xmodal.api.limits.Overloaded` at once."""

    def release(self) -> None:
        """Give a slot back."""


class _Job:
    """``fn`` as a worker thread runs it: it starts unless abandoned first, and gives its slot
    back when it ends."""

    def __init__(self, slots: Slots, fn: Callable[[], T]) -> None:
        self.slots, self.fn = slots, fn
        self.lock = threading.Lock()
        self.started = self.abandoned = False

    def __call__(self) -> T | None:
        with self.lock:
            if self.abandoned:
                return None
            self.started = True
        try:
            return self.fn()
        finally:
            self.slots.release()

    def abandon(self) -> None:
        """The caller has gone: a job not started yet never starts, and frees its slot now."""
        with self.lock:
            if not (self.started or self.abandoned):
                self.abandoned = True
                self.slots.release()


async def run_blocking(slots: Slots, fn: Callable[[], T], *, timeout_s: float) -> T:
    """``fn()`` on a worker thread, holding one of ``slots``, within ``timeout_s`` seconds.

    Args:
        slots: The work slots to hold (a service's).
        fn: The blocking call.
        timeout_s: Seconds the caller waits for it.

    Returns:
        What ``fn`` returns (its exception is raised as is).

    Raises:
        Overloaded: every slot is busy (nothing was scheduled).
        WorkTimeout: ``fn`` did not finish within ``timeout_s``.
    """
    import anyio
    import anyio.to_thread

    slots.try_acquire()
    job = _Job(slots, fn)
    try:
        with anyio.move_on_after(timeout_s):
            result = await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
            return cast(T, result)  # the job ran: fn's result
        raise WorkTimeout(f"the request took longer than {timeout_s:g} s")
    finally:
        job.abandon()  # a no-op once the job has started
