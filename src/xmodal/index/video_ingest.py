"""Ingest of videos: each one decoded once (:func:`~xmodal.data.video.read_video`) and stored as
a time-segmented document, called from :func:`~xmodal.index.ingest.ingest` for the files of
kind ``"video"``.

A video needs the image encoder; with an audio encoder its soundtrack is embedded too, with a
text encoder its subtitles. Stored, all under the video's document id, payload ``modality``
``"video"`` (segment points: :mod:`xmodal.index.segments`):

- ``"frame"`` segments in the image model's image collection: one point per keyframe (one per
  segment by default), with its segment's ``t_start`` / ``t_end``;
- ``"soundtrack"`` segments in the audio model's audio collection: the soundtrack cut where it
  sounds (:func:`~xmodal.data.audio_spans.sound_spans`, spans at most the encoder's segment
  window, :func:`~xmodal.index.segments.segment_window_s`, 10 s for ``starter-audio``), like a
  long recording's ``"window"`` segments. There is no separate whole-soundtrack pass: the
  soundtrack is embedded once, span by span (a silent one gives no segment);
- ``"subtitle"`` segments in the *text model's* text collection (the model text documents use:
  subtitles are spoken text, and a text-to-text model matches a query's words best), one per
  cue with its times;
- the side-car caption (``NAME.txt``) in the image model's text collection, as for images;
- the lexical text: file name words, caption and the subtitles' text;
- last, the whole-file point (the commit mark, id = document id) in the image collection: the
  mean of the frame vectors weighted by their segments' lengths, normalised.

A video without a decodable frame (a broken stream) is reported, not stored; a container
holding sound and no video stream never comes here: the scan makes it an audio document
(:mod:`xmodal.data.corpus`). Decoding errors of any kind are reported per file and never stop
the run; a video decoded in part (truncated, damaged packets skipped) is stored with what
decoded, and its decode warnings are reported. Videos are decoded one at a time (memory: one
video's keyframes and soundtrack).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xmodal.data.audio_spans import sound_spans
from xmodal.data.corpus import CorpusFile
from xmodal.data.problems import ItemProblem

from . import collection_name
from .ingest_targets import target_collection
from .lexical_ingest import store_lexical, subtitle_text
from .lexical_store import LexicalCollection
from .metadata import document_payload
from .protocols import Collection, Index
from .quantization import Quantization
from .segment_ingest import FileSegments, probe_segments, store_segments
from .segments import FRAME, SOUNDTRACK, SUBTITLE, segment_window_s
from .validate import document_id

__all__ = ["VIDEO", "VIDEO_MODALITIES", "encoder_modalities", "probe_video_segments",
           "store_videos", "video_encoders", "video_targets"]

VIDEO = "video"
VIDEO_MODALITIES = ("image", "audio", "text")
"""The encoders a video uses: image (required: its frames), audio (soundtrack), text
(subtitles)."""


def encoder_modalities(kinds: Sequence[str]) -> set[str]:
    """The encoder modalities documents of these kinds use (a video: :data:`VIDEO_MODALITIES`).

    Example:
        >>> sorted(encoder_modalities(["image", "video"]))
        ['audio', 'image', 'text']
    """
    return {m for kind in kinds for m in (VIDEO_MODALITIES if kind == VIDEO else (kind,))}


def video_encoders(encoders: Mapping[str, Any]) -> tuple[Any, Any | None, Any | None]:
    """The (image, audio, text) encoders a video uses: audio only when it embeds audio with a
    window and a sample rate, text only when given."""
    audio = encoders.get("audio")
    if audio is not None and not (audio.card.supports("audio") and audio.card.sample_rate
                                  and segment_window_s(audio.card)):
        audio = None
    return encoders["image"], audio, encoders.get("text")


def video_targets(encoders: Mapping[str, Any]) -> list[str]:
    """The collections a video's soundtrack and subtitles go to (beside the image's)."""
    _, audio, text = video_encoders(encoders)
    return ([collection_name(audio.card.name, "audio")] if audio is not None else []) + \
        ([collection_name(text.card.name, "text")] if text is not None else [])


def probe_video_segments(index: Index, main: Collection, encoders: Mapping[str, Any],
                         docs: Sequence[str]) -> dict[str, dict[str, dict[str, int]]]:
    """The segments stored videos have (adopted after a kill): ``{doc: {collection:
    {representation: count}}}``."""
    _, audio, text = video_encoders(encoders)
    where = [(main, FRAME)]
    for enc, modality, rep in ((audio, "audio", SOUNDTRACK), (text, "text", SUBTITLE)):
        if enc is not None:
            try:
                where.append((index.collection(collection_name(enc.card.name, modality)), rep))
            except KeyError:
                continue
    out: dict[str, dict[str, dict[str, int]]] = {}
    for col, rep in where:
        for doc, n in probe_segments(col, docs, rep).items():
            out.setdefault(doc, {})[col.name] = {rep: n}
    return out


def store_videos(index: Index, batch: Sequence[CorpusFile], encoders: Mapping[str, Any],
                 main: Collection, caption_col: Collection | None, failed: list[ItemProblem],
                 metas: Mapping[str, Mapping[str, Any]], lex: LexicalCollection | None,
                 segmented: dict[str, dict[str, dict[str, int]]],
                 quantization: Quantization | None = None,
                 warnings: list[ItemProblem] | None = None) -> list[CorpusFile]:
    """Decode, embed and store videos one at a time (see the module docstring).

    Args:
        index: The index (for the soundtrack's and subtitles' collections).
        batch: The videos.
        encoders: Encoder per modality (``"image"`` required).
        main: The image model's image collection (frames and the whole-file points).
        caption_col: The image model's text collection for captions, or None.
        failed: Bad videos are appended here (item, reason).
        metas: Metadata per path.
        lex: The lexical collection, or None.
        segmented: Filled with the segments each stored document has.
        quantization: For collections this creates.
        warnings: The decode warnings of stored videos are appended here (item, reason: a
            truncated file, a side-car that does not parse...).

    Returns:
        The stored videos.
    """
    image, audio, text = video_encoders(encoders)
    cols = {"audio": None if audio is None else target_collection(index, audio, "audio",
                                                                   quantization),
            "text": None if text is None else target_collection(index, text, "text",
                                                                 quantization)}
    stored = []
    for f in batch:
        try:
            warned = _store_one(f, image, audio, text, main, caption_col, cols,
                                metas[str(f.path)], lex, segmented)
            if warned is not None:
                stored.append(f)
                if warnings is not None:
                    warnings.extend(ItemProblem(index=len(warnings) + k, item=str(f.path),
                                                reason=w) for k, w in enumerate(warned))
            else:
                failed.append(ItemProblem(index=len(failed), item=str(f.path),
                                          reason="no decodable video frame"))
        except _Bad as exc:
            failed.append(ItemProblem(index=len(failed), item=str(f.path), reason=str(exc)))
    return stored


class _Bad(Exception):
    """A video that cannot be stored, with the reason."""


def _decode(f: CorpusFile, audio: Any | None) -> Any:
    from xmodal._optional import MissingDependencyError
    from xmodal.data.video import VideoDecodeError, read_video

    rate = int(audio.card.sample_rate) if audio is not None else None
    try:
        return read_video(f.path, sample_rate=rate)
    except VideoDecodeError as exc:
        raise _Bad(exc.reason) from None
    except MissingDependencyError as exc:
        raise _Bad(str(exc)) from None


def _encode(method: Any, items: list[Any], what: str) -> tuple[np.ndarray, list[int]]:
    """Vectors of the items that encode, and their positions (a failing item is left out)."""
    if not items:
        return np.zeros((0, 1), np.float32), []
    try:
        report = method(items, errors="report")
    except Exception as exc:  # an encoder's surprise on odd content: this video only
        raise _Bad(f"{what} not embedded: {type(exc).__name__}: {exc}") from None
    return np.asarray(report.vectors, np.float32), report.indices.tolist()  # (n_good, d)


def _store_one(f: CorpusFile, image: Any, audio: Any | None, text: Any | None,
               main: Collection, caption_col: Collection | None,
               cols: Mapping[str, Collection | None], meta: Mapping[str, Any],
               lex: LexicalCollection | None,
               segmented: dict[str, dict[str, dict[str, int]]]) -> tuple[str, ...] | None:
    """Store one video; its decode warnings, or None when no frame decodes (nothing stored)."""
    video = _decode(f, audio)
    doc = document_id(str(f.path), f.sha256)
    payload = document_payload(f, VIDEO, VIDEO, meta)
    frames = [(s.t_start, s.t_end, k.image) for s in video.segments for k in s.keyframes]
    vecs, good = _encode(image.encode_image, [im for *_, im in frames], "frames")
    if not good:
        return None
    frame_segs = FileSegments(vecs, tuple(frames[i][:2] for i in good))  # (m, d)
    mean = frame_segs.pooled()  # (d,) the whole-file point
    todo: list[tuple[Collection, str, Any, FileSegments]] = [(main, FRAME, image, frame_segs)]
    if audio is not None and cols["audio"] is not None and video.audio is not None \
            and video.audio.size:
        rate = int(video.sample_rate)
        spans = sound_spans(video.audio, sample_rate=rate,
                            max_s=float(segment_window_s(audio.card)))
        items = [(video.audio[round(a * rate) : round(b * rate)], rate) for a, b in spans]
        avecs, agood = _encode(audio.encode_audio, items, "soundtrack")
        if agood:
            todo.append((cols["audio"], SOUNDTRACK, audio,
                         FileSegments(avecs, tuple(spans[i] for i in agood))))
    cues = [c for c in video.subtitles if c.text.strip()]
    if text is not None and cols["text"] is not None and cues:
        tvecs, tgood = _encode(text.encode_document, [c.text for c in cues], "subtitles")
        if tgood:
            todo.append((cols["text"], SUBTITLE, text, FileSegments(
                tvecs, tuple((cues[i].t_start, cues[i].t_end) for i in tgood))))
    if caption_col is not None:  # captions, lexical text, segments: all before the main vector
        cap_vecs, cap_good = _encode(image.encode_document, [f.caption] if f.caption else [],
                                     "caption")
        if cap_good:
            caption_col.upsert([doc], cap_vecs, [document_payload(f, VIDEO, "caption", meta)],
                               model=image.card.name)
        else:
            caption_col.delete([doc])
    if lex is not None:
        store_lexical(lex, [f], VIDEO, [subtitle_text(video.subtitles)], {str(f.path): meta})
    for col, rep, enc, segs in todo:
        n = store_segments(col, [(doc, payload, segs)], model=enc.card.name,
                           representation=rep)[doc]
        segmented.setdefault(doc, {})[col.name] = {rep: n}
    main.upsert([doc], mean[None, :], [payload], model=image.card.name)  # the commit mark
    return video.warnings
