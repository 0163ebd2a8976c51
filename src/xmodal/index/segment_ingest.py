"""Ingest of time segments: long audio files get one point per span of sound beside their
whole-file vector (:mod:`xmodal.index.segments` for the ids and payloads), called from
:func:`~xmodal.index.ingest.ingest`.

Which files: an audio file whose header says it lasts longer than one segment window
(:func:`~xmodal.index.segments.segment_window_s`: the encoder's ``audio_window_s``, at least
10 s) when its encoder has a window. Such a file is decoded **once** (:func:`encode_audio_batch`,
in this process, :data:`DECODE_CHUNK` files at a time) and cut where its sound is
(:func:`~xmodal.data.audio_spans.sound_spans`: spans of sound between silences and changes,
each at most one window long; silence is no segment). Its whole wave and each span, as
``(wave, rate)`` items, go to the encoder's ``encode_audio`` in one call: the whole wave gives
the document's main vector (the encoder's own pooling: the same vector as from the file's
path), each span its segment vector. The model thus embeds the file's sound twice (once inside
the whole-file vector, once span by span), so segments roughly double the encoding time of
long files (measured with fixed windows: a 5-minute recording with ``starter-audio``, 2 CPU
cores, 31 s → 57–66 s). A recording over the encoder's clip limit (10 minutes, up to
:data:`LONG_RECORDING_MAX_S`) gets the length-weighted mean of its spans as its whole-file
vector. Shorter files take the unchanged path (decoded by the encoder, in worker processes when
asked).

Crash safety follows ingest's rule: a document's segments are stored *before* its main vector
(the commit mark), and the manifest entry records them (``"segments": {collection:
{representation: count}}``), so deleting or replacing a document deletes its segments by id
(:func:`delete_segments`; ``POST /collections/{name}/delete`` of a document finds them by
their ``document_id`` instead, :func:`delete_document_segments`, in
:mod:`xmodal.index.deletion`) and a metadata change rewrites their payloads
(:func:`refresh_segments`). A document adopted after a kill (complete in the store, missing
from the manifest) gets its segments counted from the store (:func:`probe_segments`). Segments
a kill left without their main vector are overwritten when the same file is ingested again, or
deleted (:func:`drop_orphan_segments`) when that path is stored in another version that has
segments. Left behind: those of a file deleted, or shortened to one window, after the kill;
they are no document (search drops segments whose document has no main vector:
:mod:`xmodal.search.segments`), only stored points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xmodal.data.problems import ItemProblem

from .protocols import Collection, Index
from .segments import (
    SEGMENT_REPRESENTATIONS,
    WINDOW,
    segment_id,
    segment_payload,
    segments_of,
)

__all__ = ["DECODE_CHUNK", "AudioBatch", "FileSegments", "delete_document_segments",
           "delete_segments", "drop_orphan_segments", "encode_audio_batch",
           "probe_segments", "refresh_segments", "store_segments"]

DECODE_CHUNK = 2
"""Long files decoded and embedded together (bounded memory: a recording of
:data:`LONG_RECORDING_MAX_S` at 48 kHz is 0.7 GB of float32)."""
LONG_RECORDING_MAX_S = 3600.0
"""The longest recording a segmented (long) audio file may be: one hour, decoded whole into
memory (short files keep :data:`xmodal.data.audio.DEFAULT_MAX_SECONDS`, 10 minutes, as one
pooled vector). Longer files are reported as too long, never cut silently."""
UPSERT_CHUNK = 4096
"""Segment points per upsert call."""


@dataclass(frozen=True)
class FileSegments:
    """The segments of one file (spans of sound, keyframes, cues): their vectors and time
    spans (seconds), in order."""

    vectors: np.ndarray  # (n_segments, d) float32, unit rows
    spans: tuple[tuple[float, float], ...]

    def pooled(self) -> np.ndarray:
        """The whole file's vector from its segments: their mean weighted by length,
        normalised."""
        weights = np.array([max(t1 - t0, 1e-3) for t0, t1 in self.spans])  # (n_segments,)
        mean = weights @ self.vectors.astype(np.float64)  # (d,)
        return (mean / np.linalg.norm(mean)).astype(np.float32)


@dataclass(frozen=True)
class AudioBatch:
    """An encoded batch of audio files, like an :class:`~xmodal.encoders.report.EncodeReport`
    (``vectors[k]`` is the main vector of input ``indices[k]``) plus the segments of the long
    ones (by input index)."""

    vectors: np.ndarray  # (n_good, d) float32: the whole-file vectors
    indices: np.ndarray  # (n_good,) int64 positions in the input, ascending
    failed: tuple[ItemProblem, ...]
    segments: Mapping[int, FileSegments]


def encode_audio_batch(encoder: Any, paths: Sequence[str], durations: Sequence[float | None],
                       *, window_s: float, workers: int = 0) -> AudioBatch:
    """Embed audio files; those longer than ``window_s`` (by ``durations``, from their
    headers) also span by span (where they sound), decoding each file once.

    Args:
        encoder: An encoder with ``encode_audio`` (``errors="report"``) and a card with
            ``sample_rate``.
        paths: The files.
        durations: Their header durations in seconds (None: unknown, no segments).
        window_s: The segment window in seconds (the longest span).
        workers: Decoding worker processes for the short files (long ones decode here).

    Returns:
        The batch's main vectors, failures and segments.

    Example::

        batch = encode_audio_batch(encoder, ["talk.wav"], [300.0], window_s=10.0)
        batch.segments[0].spans[:2]  # e.g. ((0.4, 3.1), (5.0, 14.2)): where it sounds
    """
    long = [i for i, d in enumerate(durations) if d is not None and d > window_s]
    short = sorted(set(range(len(paths))) - set(long))
    rows: dict[int, np.ndarray] = {}
    failed: list[ItemProblem] = []
    segments: dict[int, FileSegments] = {}
    if short:
        kwargs = {"workers": workers} if workers else {}
        report = encoder.encode_audio([paths[i] for i in short], errors="report", **kwargs)
        rows.update((short[int(j)], v) for j, v in zip(report.indices, report.vectors,
                                                        strict=True))
        failed.extend(ItemProblem(index=short[p.index], item=paths[short[p.index]],
                                  reason=p.reason) for p in report.failed)
    for start in range(0, len(long), DECODE_CHUNK):
        _encode_long(encoder, paths, long[start : start + DECODE_CHUNK], window_s, rows,
                     segments, failed)
    order = sorted(rows)
    dim = encoder.card.dim
    vectors = np.stack([rows[i] for i in order]) if order else np.zeros((0, dim), np.float32)
    return AudioBatch(vectors.astype(np.float32), np.asarray(order, dtype=np.int64),  # (n, d)
                      tuple(sorted(failed, key=lambda p: p.index)), segments)


def _encode_long(encoder: Any, paths: Sequence[str], chunk: list[int], window_s: float,
                 rows: dict[int, np.ndarray], segments: dict[int, FileSegments],
                 failed: list[ItemProblem]) -> None:
    """Decode the files ``chunk`` (input positions) once; embed each whole and span by span
    (a recording longer than an encoder's clip limit, 10 minutes, up to
    :data:`LONG_RECORDING_MAX_S`: span by span only, pooling them)."""
    from xmodal.data.audio import DEFAULT_MAX_SECONDS, load_audios
    from xmodal.data.audio_spans import sound_spans

    rate = int(encoder.card.sample_rate)
    decoded = load_audios([paths[i] for i in chunk], sample_rate=rate,
                          max_seconds=LONG_RECORDING_MAX_S)
    failed.extend(ItemProblem(index=chunk[p.index], item=paths[chunk[p.index]],
                              reason=p.reason) for p in decoded.failed)
    items: list[tuple[np.ndarray, int]] = []
    owners: list[tuple[int, int]] = []  # per item: (input position, span number or -1)
    spans: dict[int, tuple[tuple[float, float], ...]] = {}
    for wave, j in zip(decoded.waves, decoded.indices, strict=True):
        i = chunk[j]
        cut = sound_spans(wave, sample_rate=rate, max_s=window_s)
        if wave.size <= DEFAULT_MAX_SECONDS * rate:
            items.append((wave, rate))
            owners.append((i, -1))
        elif not cut:  # over the clip limit, nothing to pool the whole-file vector from
            failed.append(ItemProblem(index=i, item=paths[i],
                                      reason="silent: no sound to embed in a recording over "
                                             f"{DEFAULT_MAX_SECONDS / 60:g} minutes"))
            continue
        if cut:
            spans[i] = cut
            for n, (t0, t1) in enumerate(cut):
                items.append((wave[round(t0 * rate) : round(t1 * rate)], rate))  # a view
                owners.append((i, n))
    if not items:
        return
    report = encoder.encode_audio(items, errors="report")
    got = dict(zip(report.indices.tolist(), report.vectors, strict=True))
    bad = {owners[p.index][0]: p.reason for p in reversed(report.failed)}  # first reason wins
    for i, reason in bad.items():
        failed.append(ItemProblem(index=i, item=paths[i], reason=reason))
    parts: dict[int, list[np.ndarray]] = {}
    for k, (i, n) in enumerate(owners):
        if i in bad:
            continue
        if n < 0:
            rows[i] = got[k]
        else:
            parts.setdefault(i, []).append(got[k])
    for i, vecs in parts.items():
        segments[i] = FileSegments(np.stack(vecs).astype(np.float32), spans[i])  # (m, d)
        if i not in rows:  # a file over the encoder's clip limit
            rows[i] = segments[i].pooled()


def store_segments(col: Collection, docs: Sequence[tuple[str, Mapping[str, Any], FileSegments]],
                   *, model: str, representation: str = WINDOW) -> dict[str, int]:
    """Upsert the segments of documents (before their main vectors: see the module docstring).

    Args:
        col: The collection of their main vectors.
        docs: ``(document id, document payload, segments)`` per document.
        model: The model of the vectors (checked by the collection).
        representation: The segments' representation.

    Returns:
        The number of segments stored per document id.
    """
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    payloads: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for doc, payload, segs in docs:
        for n, (vec, (t0, t1)) in enumerate(zip(segs.vectors, segs.spans, strict=True)):
            ids.append(segment_id(doc, representation, n))
            vectors.append(vec)
            payloads.append(segment_payload(payload, document_id=doc,
                                            representation=representation, n=n, t_start=t0,
                                            t_end=t1))
        counts[doc] = len(segs.spans)
    for s in range(0, len(ids), UPSERT_CHUNK):
        col.upsert(ids[s : s + UPSERT_CHUNK], np.stack(vectors[s : s + UPSERT_CHUNK]),
                   payloads[s : s + UPSERT_CHUNK], model=model)
    return counts


def _segment_ids(doc: str, reps: Mapping[str, int]) -> list[str]:
    return [segment_id(doc, rep, n) for rep, count in reps.items() for n in range(count)]


def delete_segments(index: Index, entry: Mapping[str, Any]) -> None:
    """Delete the segments a manifest entry records (by id: every backend does that)."""
    for name, reps in segments_of(entry).items():
        try:
            col = index.collection(name)
        except KeyError:  # the collection was dropped meanwhile
            continue
        col.delete(_segment_ids(entry["doc"], reps))


def refresh_segments(index: Index, entry: Mapping[str, Any], meta: Mapping[str, Any],
                     system_keys: Iterable[str]) -> None:
    """Rewrite the payloads of a document's segments with new metadata (same vectors)."""
    keep = set(system_keys)
    for name, reps in segments_of(entry).items():
        try:
            col = index.collection(name)
        except KeyError:
            continue
        ids = _segment_ids(entry["doc"], reps)
        for s in range(0, len(ids), UPSERT_CHUNK):
            recs = [r for r in col.get(ids[s : s + UPSERT_CHUNK])
                    if r is not None and r.vector is not None]
            if recs:
                col.upsert([r.id for r in recs], np.stack([r.vector for r in recs]),
                           [{**{k: v for k, v in r.payload.items() if k in keep}, **meta}
                            for r in recs], normalize=True)


def probe_segments(col: Collection, docs: Sequence[str], representation: str = WINDOW,
                   step: int = 64) -> dict[str, int]:
    """How many segments of ``representation`` each document has in ``col`` (documents
    without any left out): ids are looked up in order until one is missing."""
    counts: dict[str, int] = {}
    todo = list(docs)
    at = 0
    width = 1  # first only segment 0 of each document: most have none
    while todo:
        ids = [segment_id(d, representation, at + n) for d in todo for n in range(width)]
        found = col.get(ids)
        more = []
        for k, d in enumerate(todo):
            row = found[k * width : (k + 1) * width]
            n = next((j for j, r in enumerate(row) if r is None), width)
            if at + n:
                counts[d] = at + n
            if n == width:
                more.append(d)
        todo, at, width = more, at + width, step
    return counts


def drop_orphan_segments(col: Collection, docs: Mapping[str, str], chunk: int = 500) -> int:
    """Delete the segments stored for the paths of ``docs`` (path → its stored document id)
    that belong to another document: left by a kill before their main vector, for a version of
    the file that is not stored. Returns how many were deleted."""
    items = sorted(docs.items())
    deleted = 0
    for s in range(0, len(items), chunk):  # a filter's value list holds at most 1,000
        part = items[s : s + chunk]
        deleted += col.delete_where({
            "must": [{"key": "path", "match": {"any": [p for p, _ in part]}},
                     {"key": "representation",
                      "match": {"any": sorted(SEGMENT_REPRESENTATIONS)}}],
            "must_not": [{"key": "document_id", "match": {"any": [d for _, d in part]}}]})
    return deleted


def delete_document_segments(col: Collection, docs: Sequence[str], chunk: int = 500) -> int:
    """Delete every segment of the documents ``docs`` (ids) in ``col``, found by their
    ``document_id`` (whichever version or manifest recorded them). Returns how many."""
    deleted = 0
    for s in range(0, len(docs), chunk):  # a filter's value list holds at most 1,000
        deleted += col.delete_where({
            "must": [{"key": "document_id", "match": {"any": list(docs[s : s + chunk])}},
                     {"key": "representation",
                      "match": {"any": sorted(SEGMENT_REPRESENTATIONS)}}]})
    return deleted
