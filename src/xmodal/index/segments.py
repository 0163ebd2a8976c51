"""Time segments of a document: the places inside a long recording (and, with issue 14's video,
its frames, soundtrack and subtitles), stored beside the document's whole-file vector.

A time-based document keeps its *main* point (the whole file, id = the document id: what
file-level search finds, and the commit mark of ingest) and gets one *segment* point per time
span, in the same collection as the representation it belongs to (an audio window in the
``(model, audio)`` collection). A segment's id is :func:`segment_id`, and its payload is its
document's payload (``path``, ``modality``, ``sha256``, ``caption``, the metadata: a filter
sees the same keys on segments as on documents) plus :data:`SEGMENT_KEYS`:

- ``document_id``: the document it belongs to (search groups segments by it);
- ``t_start``, ``t_end``: its time span in seconds (for audio, where it sounds:
  :func:`~xmodal.data.audio_spans.sound_spans`);
- ``segment``: its index within the document's segments of that representation (0-based);

and ``representation`` set to one of :data:`SEGMENT_REPRESENTATIONS`: ``"window"`` for a span of
sound of a long audio file; ``"frame"``, ``"soundtrack"``, ``"subtitle"`` are reserved for video.
These keys are system keys (:data:`xmodal.index.metadata.SYSTEM_KEYS`): a side-car cannot set
them and a hit's ``metadata`` does not show them.

Example:
    >>> segment_id("f03f93d07df61d8c", "window", 0)
    '83870d431bfe785d'
    >>> p = segment_payload({"path": "/a.wav", "modality": "audio", "representation": "audio"},
    ...                     document_id="f03f93d07df61d8c", representation="window", n=1,
    ...                     t_start=10.0, t_end=17.5)
    >>> p["representation"], p["t_start"], p["t_end"], is_segment(p)
    ('window', 10.0, 17.5, True)
    >>> document_of("83870d431bfe785d", p), document_of("f03f93d07df61d8c", {"path": "/a.wav"})
    ('f03f93d07df61d8c', 'f03f93d07df61d8c')
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, Final, Literal

__all__ = ["FRAME", "MIN_SEGMENT_S", "SEGMENT_KEYS", "SEGMENT_REPRESENTATIONS", "SOUNDTRACK",
           "SUBTITLE", "WINDOW", "SegmentRepresentation", "document_of", "document_view",
           "is_segment", "segment_id", "segment_payload", "segment_window_s", "segments_of"]

SegmentRepresentation = Literal["window", "frame", "soundtrack", "subtitle"]
"""What a segment point embeds: a span of sound of an audio file, or (video) a frame, a span of
the soundtrack, a subtitle cue."""
WINDOW: Final = "window"
FRAME: Final = "frame"
SOUNDTRACK: Final = "soundtrack"
SUBTITLE: Final = "subtitle"
SEGMENT_REPRESENTATIONS: frozenset[str] = frozenset({WINDOW, FRAME, SOUNDTRACK, SUBTITLE})
"""The ``representation`` values of segment points."""
SEGMENT_KEYS = ("document_id", "t_start", "t_end", "segment")
"""Payload keys of a segment point beside its document's (system keys: metadata never sets
them)."""
MIN_SEGMENT_S = 10.0
"""The least segment window, in seconds: the longest span of sound a segment may hold is the
encoder's window, and at least this (aisfx's 2.32 s blocks, in ``starter-audio``, give 10 s
spans, as DESIGN's deterministic inference windows are 10 s by default; CLAP's windows are 10 s
already). Only files longer than one window are segmented."""


def segment_id(document_id: str, representation: str, n: int) -> str:
    """The stable id of a document's ``n``-th segment of one representation: 16 hex digits,
    as :func:`~xmodal.index.validate.document_id` gives (``sha256`` of the three, ``\\0``
    between), so a re-ingest of the same file overwrites its segments instead of adding some.

    Raises:
        ValueError: an empty ``document_id``, an unknown representation or a negative ``n``
            (the message names the value).

    Example:
        >>> segment_id("f03f93d07df61d8c", "window", 0) != segment_id("f03f93d07df61d8c",
        ...                                                            "window", 1)
        True
    """
    if not isinstance(document_id, str) or not document_id:
        raise ValueError(f"segment of document {document_id!r}: not a non-empty string id")
    if representation not in SEGMENT_REPRESENTATIONS:
        raise ValueError(f"segment representation {representation!r}: use one of "
                         f"{', '.join(sorted(SEGMENT_REPRESENTATIONS))}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"segment index {n!r} of document {document_id!r}: not an int >= 0")
    digest = hashlib.sha256(f"{document_id}\0{representation}\0{n}".encode()).hexdigest()
    return digest[:16]


def segment_payload(document: Mapping[str, Any], *, document_id: str, representation: str,
                    n: int, t_start: float, t_end: float) -> dict[str, Any]:
    """A segment point's payload: its document's payload (metadata included) with
    ``representation`` set, plus :data:`SEGMENT_KEYS`.

    Raises:
        ValueError: a span that is not finite, starts below 0 or ends before it starts.
    """
    if not (math.isfinite(t_start) and math.isfinite(t_end) and 0 <= t_start <= t_end):
        raise ValueError(f"segment {n} of document {document_id!r}: bad time span "
                         f"{t_start!r}..{t_end!r} s")
    return {**document, "representation": representation, "document_id": document_id,
            "t_start": float(t_start), "t_end": float(t_end), "segment": int(n)}


def is_segment(payload: Mapping[str, Any]) -> bool:
    """Whether a stored payload is a segment point's (it names its document and its span)."""
    return (payload.get("representation") in SEGMENT_REPRESENTATIONS
            and isinstance(payload.get("document_id"), str) and "t_start" in payload)


def document_of(point_id: str, payload: Mapping[str, Any]) -> str:
    """The document a stored point belongs to: a segment's ``document_id``, else its own id."""
    return str(payload["document_id"]) if is_segment(payload) else point_id


def document_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A segment payload as its document's (the segment keys left out); others unchanged."""
    return {k: v for k, v in payload.items() if k not in SEGMENT_KEYS}


def segments_of(entry: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The segments a manifest entry records: ``{collection: {representation: count}}``."""
    return {name: {rep: int(n) for rep, n in reps.items()}
            for name, reps in (entry.get("segments") or {}).items()}


def segment_window_s(card: Any) -> float | None:
    """The segment length of an audio encoder: its ``audio_window_s``, at least
    :data:`MIN_SEGMENT_S`; None when its card has no window (no segments then).

    Example:
        >>> from types import SimpleNamespace
        >>> segment_window_s(SimpleNamespace(audio_window_s=2.32)), segment_window_s(
        ...     SimpleNamespace(audio_window_s=None)), segment_window_s(SimpleNamespace())
        (10.0, None, None)
    """
    window = getattr(card, "audio_window_s", None)
    if window is None or not window > 0:
        return None
    return max(float(window), MIN_SEGMENT_S)


