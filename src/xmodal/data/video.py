"""Videos as time-segmented documents: decoded with limits, cut into shots, with keyframes,
soundtrack and subtitles, so one bad file never stops a batch.

:func:`read_video` decodes a file once (PyAV, the ``video`` extra; FFmpeg inside) and returns a
:class:`DecodedVideo`: contiguous :class:`VideoSegment` s covering ``[0, duration]`` (shots
from frame change, each within ``[min_segment_s, max_segment_s]``, see
:mod:`xmodal.data.video_segments`), one or more RGB :class:`Keyframe` s per segment taken inside
it (never at the cut), the soundtrack as mono float32 at the model's rate, and the subtitles as
:class:`TimedText` (a side-car ``NAME.srt`` / ``NAME.vtt`` wins over a subtitle stream).
How the pass is kept fast (skipped non-reference frames, analysis on a small grid read from
the decoded planes, only keyframes converted to RGB) is in :mod:`xmodal.data.video_decode`.

Containers: ``.mp4 .mkv .webm .mov .avi .ogv`` (:data:`VIDEO_EXTENSIONS`); only their demuxers
are allowed (a playlist or concat script named ``.mp4`` is refused, nothing is fetched) and only
local files are opened. :class:`VideoLimits` are checked from the header before decoding (file
size, stream count, frame size, duration) and again while decoding (a frame larger than the
header said is refused; decoding stops at ``max_seconds`` when the header understated the
length). A truncated file gives what decodes, with a warning in ``DecodedVideo.warnings``; a
file with nothing decodable raises :class:`VideoDecodeError` with the reason.

No video stream (an ``.mkv`` of sound): the segments still cover the duration (split at
``max_segment_s``), with no keyframes. No audio stream: ``audio`` is ``None``.

Memory: the pass itself holds a few frames per open segment, whatever the length; the result
holds every keyframe (~0.7 MB each at the default ``keyframe_max_pixels``) and the soundtrack
(64 kB a second at 16 kHz: a 4-hour one is ~0.9 GB). On a composed 10-minute 720p H.264 video
with sound the fast path peaks near 200 MB (``benchmarks/video_decode.py``).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from xmodal.data.video_compose import compose_video
    >>> shots = [(Image.new("RGB", (8, 8), c), 1.6) for c in ("red", "blue")]
    >>> path = compose_video(Path(tempfile.mkdtemp()) / "rb.mp4", shots, fps=10, size=(64, 48))
    >>> video = read_video(path)
    >>> [(s.t_start, s.t_end) for s in video.segments]
    [(0.0, 1.6), (1.6, 3.2)]
    >>> [s.keyframes[0].image.getpixel((32, 24)) for s in video.segments]  # doctest: +SKIP
    [(254, 0, 0), (0, 0, 254)]
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal._optional import MissingDependencyError, require
from xmodal.data.problems import ItemProblem
from xmodal.data.subtitles import SubtitleError, TimedText, read_subtitles
from xmodal.data.video_segments import SegmentConfig

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "VIDEO_EXTENSIONS",
    "DecodeStats",
    "DecodedVideo",
    "DecodedVideos",
    "Keyframe",
    "SegmentConfig",
    "TimedText",
    "VideoDecodeError",
    "VideoInfo",
    "VideoLimits",
    "VideoSegment",
    "check_header",
    "is_video",
    "item_name",
    "load_videos",
    "open_video",
    "probe_video",
    "read_video",
]

VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".ogv"})
# Demuxers allowed to open a file (mp4/mov, Matroska/WebM, AVI, Ogg, ADTS AAC): no hls, concat...
_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,ogg,aac"
_SEGMENTS = SegmentConfig()  # the default (frozen: safe to share)
_TEXT_SUBTITLES = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"})


class VideoDecodeError(ValueError):
    """A video could not be decoded; the message names the item and the problem."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


@dataclass(frozen=True)
class VideoLimits:
    """What a file may hold before it is refused (checked from the header, then while decoding)."""

    max_seconds: float = 4 * 3600.0  # duration
    max_pixels: int = 4096 * 2160  # per frame (DCI 4K)
    max_streams: int = 32  # streams of any kind in the container
    max_bytes: int = 8 << 30  # file size (8 GiB)

    def __post_init__(self) -> None:
        if not (self.max_seconds > 0 and self.max_pixels > 0 and self.max_streams > 0
                and self.max_bytes > 0):
            raise ValueError(f"every limit must be positive: {self}")


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds, from its header (:func:`probe_video`) or as decoded."""

    duration_s: float
    width: int | None  # coded frame size; None without a video stream
    height: int | None
    fps: float | None  # average frame rate
    has_video: bool
    has_audio: bool
    subtitle_streams: int
    video_codec: str | None = None
    audio_codec: str | None = None


@dataclass(frozen=True)
class Keyframe:
    """One frame of a segment, as shown at ``t`` seconds (RGB)."""

    t: float
    image: Image


@dataclass(frozen=True)
class VideoSegment:
    """A stretch ``[t_start, t_end)`` of a video (a shot, or part of a long one)."""

    index: int
    t_start: float
    t_end: float
    keyframes: tuple[Keyframe, ...]


@dataclass(frozen=True)
class DecodeStats:
    """What the decoding pass did (for benchmarks)."""

    frames_decoded: int  # frames out of the video decoder (skipped ones not counted)
    frames_analysed: int  # frames looked at for cuts
    frames_converted: int  # frames converted to RGB (keyframes; every frame when naive)
    cuts: int  # cuts found, before the min/max segment rules
    seconds: float  # wall time of read_video


@dataclass(frozen=True)
class DecodedVideo:
    """A decoded video: its segments with keyframes, soundtrack and subtitles."""

    path: str
    info: VideoInfo  # duration_s: as decoded (the header's may be wrong)
    segments: tuple[VideoSegment, ...]
    audio: np.ndarray | None  # (n,) mono float32 at sample_rate, sample 0 at t = 0
    sample_rate: int | None
    subtitles: tuple[TimedText, ...]
    warnings: tuple[str, ...] = ()  # what was wrong but still decoded (truncation...)
    stats: DecodeStats | None = None


@dataclass(frozen=True)
class DecodedVideos:
    """The decoded videos of a list, and the ones that failed (``videos[k]`` is ``indices[k]``)."""

    videos: tuple[DecodedVideo, ...]
    indices: tuple[int, ...]
    failed: tuple[ItemProblem, ...] = ()


def item_name(path: object) -> str:
    """How errors name an item: its path, the last 200 characters of a long one."""
    text = os.fspath(path) if isinstance(path, str | os.PathLike) else repr(path)
    return str(text) if len(str(text)) <= 200 else "…" + str(text)[-199:]


def open_video(path: str | os.PathLike[str], limits: VideoLimits) -> Any:
    """Open a local regular file with the allowed demuxers, after the size limit: a PyAV
    container (close it), or :class:`VideoDecodeError` saying why not."""
    av = require("av", "video")
    name = item_name(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VideoDecodeError(name, "not found") from None
    except OSError as exc:
        raise VideoDecodeError(name, f"could not be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VideoDecodeError(name, "not a regular file (folder, FIFO, socket or device)")
    if st.st_size == 0:
        raise VideoDecodeError(name, "empty: 0 bytes")
    if st.st_size > limits.max_bytes:
        raise VideoDecodeError(name, f"too large: {st.st_size:,} bytes, over the limit of "
                                     f"{limits.max_bytes:,}")
    url = "file:" + os.path.abspath(path)  # "file:" so that no name reads as a protocol
    try:
        return av.open(url, options={"protocol_whitelist": "file", "format_whitelist": _DEMUXERS})
    except av.FFmpegError as exc:
        raise VideoDecodeError(name, "not a video file, or truncated or corrupt "
                                     f"({exc.strerror or exc})") from None


def _header_duration(container: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1e6
    spans = [float(s.duration * s.time_base) for s in container.streams
             if s.duration and s.time_base]
    return max(spans) if spans else None


def _streams(container: Any) -> dict[str, Any]:
    """The video stream (not cover art), audio stream and text subtitle stream used."""
    cover = require("av", "video").stream.Disposition.attached_pic
    out: dict[str, Any] = {}
    for s in container.streams:
        if s.type == "video" and "video" not in out:
            if not s.disposition & cover:
                out["video"] = s
        elif s.type == "audio" and "audio" not in out:
            out["audio"] = s
        elif s.type == "subtitle" and "subtitle" not in out and s.codec_context.name in \
                _TEXT_SUBTITLES:
            out["subtitle"] = s
    return out


def check_header(container: Any, name: str, limits: VideoLimits) -> tuple[dict[str, Any],
                                                                            VideoInfo]:
    """The streams used (``video``, ``audio``, ``subtitle``) and the header's
    :class:`VideoInfo`, or :class:`VideoDecodeError` for a header over ``limits``."""
    if len(container.streams) > limits.max_streams:
        raise VideoDecodeError(name, f"{len(container.streams)} streams, over the limit of "
                                     f"{limits.max_streams}")
    streams = _streams(container)
    video, sound = streams.get("video"), streams.get("audio")
    if video is None and sound is None:
        raise VideoDecodeError(name, "no video or audio stream")
    width = height = fps = None
    if video is not None:
        width, height = video.codec_context.width or None, video.codec_context.height or None
        if (width or 0) * (height or 0) > limits.max_pixels:
            raise VideoDecodeError(name, f"frames of {width}×{height} = {width * height:,} "
                                         f"pixels, over the limit of {limits.max_pixels:,}")
        rate = video.average_rate or video.guessed_rate
        fps = float(rate) if rate else None
    duration = _header_duration(container)
    if duration is not None and duration > limits.max_seconds:
        raise VideoDecodeError(name, f"too long: {duration:,.1f} s, over the limit of "
                                     f"{limits.max_seconds:,g} s")
    info = VideoInfo(
        duration_s=duration if duration is not None else math.nan, width=width, height=height,
        fps=fps, has_video=video is not None, has_audio=sound is not None,
        subtitle_streams=len(container.streams.subtitles),
        video_codec=video.codec_context.name if video is not None else None,
        audio_codec=sound.codec_context.name if sound is not None else None)
    return streams, info


def probe_video(path: str | os.PathLike[str], *, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """What a video holds, from its header only (nothing is decoded).

    ``duration_s`` is the header's (``nan`` when it declares none); ``width`` and ``height`` are
    the coded size. Every limit is checked as in :func:`read_video`.

    Raises:
        VideoDecodeError: Missing, empty, not a video, no video or audio stream, or over a limit.
        MissingDependencyError: PyAV (the ``video`` extra) is not installed.

    Example:
        >>> probe_video("missing.mp4")
        Traceback (most recent call last):
        ...
        xmodal.data.video.VideoDecodeError: missing.mp4: not found
    """
    name = item_name(path)
    with open_video(path, limits) as container:
        return check_header(container, name, limits)[1]


def _length_warnings(declared: float, decoded: float) -> list[str]:
    """A warning when the decoded length and the header's differ by over 1 s and 5 %."""
    slack = max(1.0, 0.05 * declared)
    if declared - decoded > slack:
        return [f"truncated: {decoded:.1f} s decoded of the {declared:.1f} s its header declares"]
    if decoded - declared > slack:
        return [f"{decoded:.1f} s decoded, longer than the {declared:.1f} s its header declares"]
    return []  # also when the header declares no length (nan)


def _check_rate(sample_rate: object) -> None:
    if sample_rate is None:
        return
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int or None, got {sample_rate!r}")


def read_video(
    path: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    segments: SegmentConfig = _SEGMENTS,
    limits: VideoLimits = VideoLimits(),
    subtitles: bool = True,
) -> DecodedVideo:
    """Decode a video into segments with keyframes, its soundtrack and subtitles (one pass).

    Args:
        path: A local video file (see the module docstring for containers and limits).
        sample_rate: Rate of the returned soundtrack, in Hz; ``None``: the sound is not decoded.
        segments: Shot detection, segment lengths and keyframes (:class:`SegmentConfig`).
        limits: What the file may hold (:class:`VideoLimits`).
        subtitles: Read the side-car ``NAME.srt`` / ``NAME.vtt``, else the subtitle stream.

    Returns:
        The segments cover ``[0, info.duration_s]`` contiguously, in order; ``warnings`` says
        what was wrong but still decoded (a truncated file, a bad side-car...).

    Raises:
        VideoDecodeError: Missing, empty, not a video, nothing decodable, or over a limit.
        MissingDependencyError: PyAV (the ``video`` extra) or Pillow is not installed.
    """
    from xmodal.data.video_decode import VideoPass, sidecar_subtitles

    _check_rate(sample_rate)
    started, name = time.perf_counter(), item_name(path)
    with open_video(path, limits) as container:
        streams, header = check_header(container, name, limits)
        if sample_rate is None and "video" in streams:
            streams.pop("audio", None)  # its length is not needed either
        sidecar = sidecar_subtitles(os.fspath(path)) if subtitles else None
        if not subtitles or sidecar is not None:
            streams.pop("subtitle", None)
        decoder = VideoPass(container, streams, config=segments, max_seconds=limits.max_seconds,
                            max_pixels=limits.max_pixels, sample_rate=sample_rate,
                            fail=lambda reason: VideoDecodeError(name, reason))
        try:
            out = decoder.run()
            if out.frames_decoded == 0 and out.audio_end == 0:
                raise VideoDecodeError(name, "truncated or corrupt: nothing decodes"
                                       + "".join(f"; {w}" for w in out.warnings))
            duration = min(max(out.video_end, out.audio_end), limits.max_seconds)
            decoder.finish(duration)
        except (VideoDecodeError, MissingDependencyError):
            raise
        except Exception as exc:  # a decoder's surprise on a hostile file: reported, not raised
            raise VideoDecodeError(name, f"decoding failed: {type(exc).__name__}: {exc}") from exc
    if "video" in streams and out.frames_decoded == 0:
        out.warnings.append("the video stream decodes to no frame")
    if sample_rate is not None and "audio" in streams and out.audio is None:
        out.warnings.append("the audio stream decodes to no sample")
    out.warnings += _length_warnings(header.duration_s, duration)
    cues: tuple[TimedText, ...] = tuple(out.cues)
    if sidecar is not None:
        try:
            cues = read_subtitles(sidecar)
        except SubtitleError as exc:
            out.warnings.append(f"side-car subtitles not read: {exc}")
    segs = tuple(VideoSegment(index=k, t_start=a, t_end=b,
                              keyframes=tuple(Keyframe(t=t, image=img) for t, img in keys))
                 for k, (a, b, keys) in enumerate(out.segments))
    info = dataclasses.replace(header, duration_s=duration)
    stats = DecodeStats(frames_decoded=out.frames_decoded, frames_analysed=out.frames_analysed,
                        frames_converted=out.frames_converted, cuts=out.cuts,
                        seconds=time.perf_counter() - started)
    return DecodedVideo(path=os.fspath(path), info=info, segments=segs, audio=out.audio,
                        sample_rate=sample_rate if out.audio is not None else None,
                        subtitles=cues, warnings=tuple(out.warnings), stats=stats)


def load_videos(
    paths: Iterable[str | os.PathLike[str]],
    *,
    sample_rate: int | None = None,
    segments: SegmentConfig = _SEGMENTS,
    limits: VideoLimits = VideoLimits(),
    subtitles: bool = True,
) -> DecodedVideos:
    """Decode many videos like :func:`read_video`; bad files are reported, the rest finish.

    Returns:
        The decoded videos with their input positions, and one problem per failed file.

    Example:
        >>> out = load_videos(["nothing-here.mp4"])
        >>> out.indices, [(p.index, p.reason) for p in out.failed]
        ((), [(0, 'not found')])
    """
    _check_rate(sample_rate)
    videos, indices, failed = [], [], []
    for index, path in enumerate(paths):
        try:
            videos.append(read_video(path, sample_rate=sample_rate, segments=segments,
                                     limits=limits, subtitles=subtitles))
            indices.append(index)
        except VideoDecodeError as exc:
            failed.append(ItemProblem(index=index, item=item_name(path), reason=exc.reason))
    return DecodedVideos(videos=tuple(videos), indices=tuple(indices), failed=tuple(failed))


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s suffix is a video container's (:data:`VIDEO_EXTENSIONS`).

    Example:
        >>> is_video("clip.MKV"), is_video("song.ogg")
        (True, False)
    """
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
