"""Shot detection and segment planning for :mod:`xmodal.data.video`, one pass, bounded memory.

Three small online parts, fed in time order while the video decodes:

- :class:`CutDetector` compares each analysed frame (a small YUV grid, see
  :class:`SegmentConfig`) with the one before: a *cut* is a change of at least ``threshold``
  (or of ``min_change``, when ``adaptive`` times its neighbours' changes: a hard cut between
  similar pictures, such as two yellow emoji faces, changes a grid by ~0.02), at least
  ``adaptive`` times the median change of the last 2 s (so steady motion or grain is not a cut),
  the largest within ±0.5 s (a fade gives one or two, ``min_segment_s`` merges them), and
  lasting: the picture 0.5 s after still differs from the one 0.5 s before (after a flash, the
  shot comes back).
- :class:`SegmentPlanner` turns cuts into segments covering ``[0, duration]``: a cut less than
  ``min_segment_s`` after the previous boundary is ignored (the short shot joins the segment
  before); a shot longer than ``max_segment_s`` is split, in pieces of ``max_segment_s`` while
  more than twice that remains, then evenly; a last piece shorter than ``min_segment_s`` joins the
  segment before (the two are split evenly if together they are too long). Every segment is
  then within ``[min_segment_s, max_segment_s]``, except one covering a video shorter than
  ``min_segment_s``. Each segment is final at most ``2 * max_segment_s`` after its start.
- :class:`KeyframePool` keeps a few candidate frames of the segments not yet final (at most
  ``8 * keyframes_per_segment`` per segment, thinned by halving as a shot grows), and picks each
  keyframe near its target time (the middle, for one keyframe), away from the segment's ends,
  preferring a still (low change) and not black frame.

Example:
    >>> plan_segments([0.4, 5.0, 5.5, 12.0], 75.0, SegmentConfig(max_segment_s=20))
    [(0.0, 5.0), (5.0, 12.0), (12.0, 32.0), (32.0, 52.0), (52.0, 63.5), (63.5, 75.0)]
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["CutDetector", "KeyframePool", "SegmentConfig", "SegmentPlanner", "plan_segments"]

_LOOKAHEAD_S = 0.5  # a cut is the largest change within ±this, and must last this long
_HISTORY_S = 2.0  # the adaptive threshold's window of recent changes
_DARK = 0.06  # mean luma (0..1) under which a frame is taken for black


@dataclass(frozen=True)
class SegmentConfig:
    """How a video is cut into segments and which frames become keyframes."""

    min_segment_s: float = 1.0  # shortest segment; a cut sooner after the last one is ignored
    max_segment_s: float = 30.0  # longest segment (longer shots are split); >= 2 * min_segment_s
    threshold: float = 0.05  # mean absolute change (0..1) of the analysis grid that is a cut
    min_change: float = 0.015  # a smaller change is a cut when sharp (adaptive × its neighbours')
    adaptive: float = 3.0  # a cut's change is also >= this times the median of the last 2 s
    analysis_fps: float | None = 10.0  # frames analysed per second; None: every decoded frame
    analysis_size: tuple[int, int] = (64, 36)  # (width, height) of the analysis grid
    keyframes_per_segment: int = 1  # evenly placed in the segment (one: its middle)
    keyframe_max_pixels: int = 640 * 360  # larger frames are downscaled, aspect kept (~0.7 MB)
    decode: Literal["fast", "naive"] = "fast"  # naive: every frame to full-size RGB (baseline)
    deblock: bool = False  # fast path: keep the codec's deblocking filter (slower, exact frames)

    def __post_init__(self) -> None:
        if not (self.min_segment_s > 0 and 2 * self.min_segment_s <= self.max_segment_s):
            raise ValueError("need 0 < min_segment_s and 2 * min_segment_s <= max_segment_s, got "
                             f"{self.min_segment_s} and {self.max_segment_s}")
        if not (0 < self.min_change <= self.threshold < 1 and self.adaptive >= 0):
            raise ValueError("need 0 < min_change <= threshold < 1 and adaptive >= 0, got "
                             f"{self.min_change}, {self.threshold}, {self.adaptive}")
        if self.analysis_fps is not None and not self.analysis_fps > 0:
            raise ValueError(f"analysis_fps must be positive or None, got {self.analysis_fps}")
        if min(self.analysis_size) < 2 or self.keyframes_per_segment < 1:
            raise ValueError("analysis_size needs 2 pixels a side, keyframes_per_segment >= 1")
        if self.keyframe_max_pixels < 64 or self.decode not in ("fast", "naive"):
            raise ValueError(f"keyframe_max_pixels >= 64 and decode 'fast' or 'naive', got "
                             f"{self.keyframe_max_pixels}, {self.decode!r}")


def grid_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute change between two ``(3, h, w)`` YUV grids, in 0..1, luma weighted twice.

    Example:
        >>> a = np.zeros((3, 2, 2), np.float32)
        >>> grid_change(a, a + 255), grid_change(a, a)
        (1.0, 0.0)
    """
    diff = np.abs(a - b).mean(axis=(1, 2))  # (3,)
    return float(2 * diff[0] + diff[1] + diff[2]) / (4 * 255)


class CutDetector:
    """Finds hard cuts in a stream of analysis grids (see the module docstring).

    ``feed(t, grid)`` returns the cuts decided so far (a cut at ``t`` is decided ``0.5 s``
    of samples later); ``decided`` is the time up to which no earlier cut can still come;
    ``finish()`` decides the rest. A cut's time is that of the first frame after it.
    """

    def __init__(self, config: SegmentConfig, rate: float) -> None:
        self.config = config
        self.lag = max(1, math.ceil(_LOOKAHEAD_S * rate))  # samples of look-ahead (and behind)
        self._samples: deque[tuple[float, np.ndarray, float]] = deque()  # (t, grid, change)
        self._history: deque[float] = deque(maxlen=max(3, math.ceil(_HISTORY_S * rate)))
        self._next = 0  # index in _samples of the next sample to decide
        self.decided = 0.0
        self.changes = 0  # samples decided

    def feed(self, t: float, grid: np.ndarray) -> list[float]:
        change = grid_change(grid, self._samples[-1][1]) if self._samples else 0.0
        self._samples.append((t, grid, change))
        cuts = []
        while len(self._samples) - self._next > self.lag:
            cuts += self._decide()
        return cuts

    def finish(self) -> list[float]:
        cuts = []
        while self._next < len(self._samples):
            cuts += self._decide()
        return cuts

    def change_at(self, t: float) -> float:
        """The change of the sample at time ``t`` (0 when it is no longer held)."""
        return next((c for s, _, c in reversed(self._samples) if s == t), 0.0)

    def _decide(self) -> list[float]:
        j, samples, cfg = self._next, self._samples, self.config
        t, _, change = samples[j]
        later = [samples[i][2] for i in range(j + 1, min(len(samples), j + self.lag + 1))]
        earlier = [samples[i][2] for i in range(max(0, j - self.lag), j)]
        first = self.changes == 0  # the first frame changes from nothing
        beside = max(earlier[-1:] + later[:1], default=0.0)  # the neighbours' changes
        cut = (
            not first
            # large, or smaller but sharp: a hard cut between similar pictures
            and (change >= cfg.threshold
                 or (change >= cfg.min_change and change >= cfg.adaptive * beside))
            and (not self._history or change >= cfg.adaptive * float(np.median(self._history)))
            and all(change > c for c in earlier)
            and all(change >= c for c in later)
            # it lasts: the picture after differs from the one before (a flash comes back)
            and grid_change(samples[-1][1], samples[max(0, j - self.lag)][1])
            >= min(cfg.threshold, change / 2)
        )
        if not first:
            self._history.append(change)
        self._next += 1
        self.decided = t
        self.changes += 1
        while self._next > self.lag + 1:  # keep `lag` samples behind the next one to decide
            samples.popleft()
            self._next -= 1
        return [t] if cut else []


class SegmentPlanner:
    """Turns cut times into final segments, in order, as soon as each is final."""

    def __init__(self, config: SegmentConfig) -> None:
        self.config = config
        self.start = 0.0  # the open segment's start
        self._held: tuple[float, float] | None = None  # the last closed segment, not yet final

    def _split(self, a: float, b: float) -> list[tuple[float, float]]:
        n = max(1, math.ceil((b - a) / self.config.max_segment_s - 1e-9))
        edges = [a + (b - a) * k / n for k in range(n)] + [b]
        return list(itertools.pairwise(edges))

    def _close(self, pieces: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out = [self._held] if self._held is not None else []
        self._held = pieces[-1]
        return out + pieces[:-1]

    def cut(self, t: float) -> list[tuple[float, float]]:
        """A cut at ``t`` (times in order); returns the segments now final."""
        if t - self.start < self.config.min_segment_s:
            return []
        pieces, self.start = self._split(self.start, t), t
        return self._close(pieces)

    def advance(self, now: float) -> list[tuple[float, float]]:
        """No cut before ``now`` is still to come: close pieces of a long shot."""
        longest, out = self.config.max_segment_s, []
        while now - self.start > 2 * longest:
            out += self._close([(self.start, self.start + longest)])
            self.start += longest
        return out

    def finish(self, end: float) -> list[tuple[float, float]]:
        """The video ends at ``end``: every remaining segment."""
        held, tail = self._held, end - self.start
        self._held = None
        if held is None:
            return self._split(self.start, end) if tail > 0 or self.start == 0 else []
        if tail >= self.config.min_segment_s:
            return [held, *self._split(self.start, end)]
        if end - held[0] <= self.config.max_segment_s:  # a short tail joins the segment before
            return [(held[0], end)]
        middle = (held[0] + end) / 2
        return [(held[0], middle), (middle, end)]


def plan_segments(cuts: Iterable[float], duration: float,
                  config: SegmentConfig | None = None) -> list[tuple[float, float]]:
    """The segments :func:`~xmodal.data.video.read_video` makes of ``cuts`` (sorted times)."""
    planner, out = SegmentPlanner(config or SegmentConfig()), []
    for t in cuts:
        out += planner.advance(t) + planner.cut(t)
    return out + planner.advance(duration) + planner.finish(duration)


@dataclass
class _Candidate:
    t: float
    frame: Any  # an av.VideoFrame (fast path) or an (H, W, 3) uint8 array (naive path)
    change: float  # the analysis change at this frame (motion)
    luma: float  # mean luma, 0..1


class KeyframePool:
    """Candidate keyframes of the segments not yet final, and the choice among them."""

    def __init__(self, config: SegmentConfig) -> None:
        self.config = config
        self.base = config.min_segment_s / 4  # candidate spacing right after a cut
        self.cap = 8 * config.keyframes_per_segment  # candidates per open segment
        self._items: list[_Candidate] = []
        self._open = 0.0  # start of the open segment
        self._spacing = self.base

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, t: float, frame: Any, change: float, luma: float) -> None:
        """A frame at ``t``: kept if ``spacing`` after the last one kept."""
        if self._items and t - self._items[-1].t < self._spacing:
            return
        self._items.append(_Candidate(t, frame, change, luma))
        opened = [i for i, c in enumerate(self._items) if c.t >= self._open]
        if len(opened) > self.cap:  # thin the open segment's candidates by half
            drop = set(opened[1::2])
            self._items = [c for i, c in enumerate(self._items) if i not in drop]
            self._spacing *= 2

    def cut(self, t: float) -> None:
        """A new segment starts at ``t``: its candidates are kept densely again."""
        self._open, self._spacing = t, self.base

    def take(self, a: float, b: float) -> list[_Candidate]:
        """The keyframes of the final segment ``[a, b)``; earlier candidates are let go."""
        k, length = self.config.keyframes_per_segment, b - a
        inside = [c for c in self._items if a <= c.t < b]
        margin = min(0.25, length / 4)
        pool = [c for c in inside if a + margin <= c.t <= b - margin] or inside
        if not pool:  # no frame started inside: the one on screen at `a`
            pool = [c for c in self._items if c.t < a][-1:]
        chosen: list[_Candidate] = []
        for target in (a + length * (j + 0.5) / k for j in range(k)):
            left = [c for c in pool if c not in chosen]
            if left:
                chosen.append(min(left, key=lambda c: self._cost(c, target, length)))
        before = [c for c in self._items if c.t < b]
        self._items = before[-1:] + [c for c in self._items if c.t >= b]  # keep what is on screen
        return sorted(chosen, key=lambda c: c.t)

    def _cost(self, c: _Candidate, target: float, length: float) -> float:
        still = c.change < self.config.threshold / 2
        return abs(c.t - target) / max(length, 1e-9) + 0.5 * (not still) + 0.5 * (c.luma < _DARK)
