"""The progress of ``xmodal index``: a live line per document kind on a terminal (files done of
total, items/s, ETA, failures so far), plain lines otherwise.

The rate of a kind is its files done (stored or failed) over the time since its encoding began
(the display's start for the first kind, the previous kind's last report for the next), and
its ETA is the files left at that rate. Failures so far are the files done that were not
stored: ingest reports every file of a batch as stored (``on_stored``) or failed.

Example (a forced terminal into a buffer, a hand-driven clock)::

    >>> import io
    >>> from rich.console import Console
    >>> buf, now = io.StringIO(), iter([0.0, 4.0])
    >>> show = IndexProgress(Console(file=buf, force_terminal=True, width=100),
    ...                      clock=lambda: next(now))
    >>> with show:
    ...     show.stored("image", 30)
    ...     show("image", 32, 100)  # 32 done in 4 s: 8 items/s; 68 left: 8.5 s
    >>> "32/100" in buf.getvalue(), "8.0 items/s" in buf.getvalue()
    (True, True)
    >>> "ETA 0:09" in buf.getvalue(), "2 failed" in buf.getvalue()
    (True, True)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ._output import echo

__all__ = ["IndexProgress", "KindProgress", "eta_text"]


@dataclass(frozen=True)
class KindProgress:
    """Where the encoding of one document kind stands."""

    kind: str  # "image", "audio", "text", "video"
    done: int  # files encoded or failed
    total: int  # files this run encodes (unchanged ones are not counted)
    failed: int  # files done that were not stored
    seconds: float  # since this kind's encoding began

    @property
    def rate(self) -> float:
        """Files done per second (0 before the first second's worth of time)."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate (None while there is no rate yet)."""
        return (self.total - self.done) / self.rate if self.rate > 0 else None


def eta_text(seconds: float | None) -> str:
    """``H:MM:SS`` or ``M:SS`` (``-:--`` when unknown), rounded up to the second.

    Example:
        >>> eta_text(8.5), eta_text(3725), eta_text(None)
        ('0:09', '1:02:05', '-:--')
    """
    if seconds is None:
        return "-:--"
    whole = int(-(-seconds // 1))  # ceil: never promise less than is left
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class IndexProgress:
    """``ingest``'s ``progress`` and ``on_stored`` callbacks, shown live on a rich console
    (``console`` None: plain lines ``  image: 32/100`` on stderr, as for a pipe or a log).

    Args:
        console: A terminal console (``rich.console.Console(stderr=True)``), or None.
        clock: Seconds, monotonic (tests pass their own).
    """

    def __init__(self, console: Any | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._clock = clock
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._stored: dict[str, int] = {}
        self._began: dict[str, float] = {}
        self._last = 0.0

    @classmethod
    def for_stderr(cls) -> IndexProgress:
        """Live on a terminal stderr, plain lines otherwise."""
        if not sys.stderr.isatty():
            return cls(None)
        from rich.console import Console

        return cls(Console(stderr=True))

    def __enter__(self) -> IndexProgress:
        self._last = self._clock()
        if self._console is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("{task.description:>6}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                 TextColumn("{task.fields[eta]}"),
                                 TextColumn("{task.fields[failed]}"),
                                 console=self._console, auto_refresh=False)
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.refresh()
            self._bar.stop()

    def stored(self, kind: str, n: int) -> None:
        """Count ``n`` files of ``kind`` stored."""
        self._stored[kind] = self._stored.get(kind, 0) + n

    def on_stored(self, files: Sequence[Any]) -> None:
        """``ingest``'s ``on_stored``: count a stored batch by its files' kinds."""
        for f in files:
            self.stored(f.modality, 1)

    def state(self, kind: str, done: int, total: int) -> KindProgress:
        """Where ``kind`` stands now, ``done`` of ``total`` files."""
        now = self._clock()
        began = self._began.setdefault(kind, self._last)
        self._last = now
        return KindProgress(kind, done, total, max(done - self._stored.get(kind, 0), 0),
                            now - began)

    def __call__(self, kind: str, done: int, total: int) -> None:
        """``ingest``'s ``progress``: ``done`` of ``total`` files of ``kind``."""
        at = self.state(kind, done, total)
        if self._bar is None:
            echo(f"  {kind}: {done}/{total}", err=True)
            return
        fields = {"rate": f"{at.rate:.1f} items/s", "eta": f"ETA {eta_text(at.eta_s)}",
                  "failed": f"{at.failed} failed" if at.failed else ""}
        if kind not in self._tasks:
            self._tasks[kind] = self._bar.add_task(kind, total=total, **fields)
        self._bar.update(self._tasks[kind], completed=done, total=total, **fields)
        self._bar.refresh()
