"""One frame of a video as a JPEG: the poster of a video hit and the keyframe of a segment
(``GET /media/{doc_id}/frame?t=SECONDS``).

:func:`video_frame` opens the file as :mod:`xmodal.data.video` does (local file, allowed
demuxers only, :class:`~xmodal.data.video.VideoLimits` checked from the header), seeks to the
keyframe at or before ``t``, decodes forward to the frame shown at ``t`` (at most
:data:`MAX_DECODED_FRAMES` frames: past that bound the last decoded frame is used), refuses a
frame larger than the limit, and converts that one frame, downscaled to at most ``width``
pixels wide (:data:`MAX_WIDTH`).

Example:
    >>> import io, tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from xmodal.data.video_compose import compose_video
    >>> shots = [(Image.new("RGB", (8, 8), c), 1.0) for c in ("red", "blue")]
    >>> path = compose_video(Path(tempfile.mkdtemp()) / "rb.mp4", shots, fps=10, size=(64, 48))
    >>> image = Image.open(io.BytesIO(video_frame(path, 1.5)))
    >>> image.size, image.getpixel((32, 24))[2] > 200  # the blue shot
    ((64, 48), True)
    >>> video_frame(path, 9.0)
    Traceback (most recent call last):
    ...
    xmodal.api.frames.FrameOutOfRange: t=9 s is outside the video's [0, 2] s
"""

from __future__ import annotations

import io
import math
import os
from typing import Any

from xmodal._optional import require
from xmodal.api.limits import BadInput
from xmodal.data.video import (
    VIDEO_EXTENSIONS,
    VideoDecodeError,
    VideoLimits,
    check_header,
    item_name,
    open_video,
)

__all__ = ["DEFAULT_WIDTH", "MAX_DECODED_FRAMES", "MAX_WIDTH", "VIDEO_TYPES", "FrameOutOfRange",
           "NotAVideo", "video_frame"]

DEFAULT_WIDTH = 640
"""Width of a frame when the request names none (a smaller frame is not enlarged)."""
MAX_WIDTH = 1280
"""The widest frame the route returns."""
MAX_DECODED_FRAMES = 1500
"""Frames decoded after the seek, at most (a minute at 25 fps between two keyframes)."""
JPEG_QUALITY = 85

VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
               ".mov": "video/quicktime", ".ogv": "video/ogg", ".avi": "video/x-msvideo"}
"""The content type ``/media`` serves for each of :data:`~xmodal.data.video.VIDEO_EXTENSIONS`."""
assert set(VIDEO_TYPES) == VIDEO_EXTENSIONS

_SLACK_S = 0.05  # a t just past the header's duration (rounding) still gives the last frame


class NotAVideo(BadInput):
    """The document is not a video, or holds no video stream (422 ``not_a_video``)."""

    code = "not_a_video"


class FrameOutOfRange(BadInput):
    """``t`` is outside ``[0, duration]`` (422 ``bad_time``)."""

    code = "bad_time"


class BadVideo(BadInput):
    """The file could not be decoded (422 ``bad_video``): corrupt, truncated, over a limit."""

    code = "bad_video"


def _frame_time(frame: Any) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def _decode_to(container: Any, stream: Any, t: float, limits: VideoLimits) -> Any:
    """The frame shown at ``t``: the last one starting at or before it (else the first one)."""
    name = item_name(container.name)
    if t > 0 and stream.time_base:
        container.seek(int(t / stream.time_base), stream=stream, backward=True, any_frame=False)
    shown = None
    decoded = 0
    for packet in container.demux(stream):
        for frame in packet.decode():
            if frame.width * frame.height > limits.max_pixels:
                raise BadVideo(f"{name}: a frame of {frame.width}×{frame.height} pixels, over "
                               f"the limit of {limits.max_pixels:,}")
            when = _frame_time(frame)
            if shown is not None and when is not None and when > t + 1e-6:
                return shown
            shown, decoded = frame, decoded + 1
            if decoded >= MAX_DECODED_FRAMES:
                return shown
    return shown


def _to_jpeg(frame: Any, width: int, aspect: float) -> bytes:
    shown = frame.width * (aspect if aspect > 0 else 1.0)
    scale = min(1.0, width / shown)
    size = (max(2, round(shown * scale)), max(2, round(frame.height * scale)))
    image = frame.to_image(width=size[0], height=size[1])
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def video_frame(path: str | os.PathLike[str], t: float, *, width: int = DEFAULT_WIDTH,
                limits: VideoLimits | None = None) -> bytes:
    """The frame of the video at ``path`` shown at ``t`` seconds, as JPEG bytes.

    Args:
        path: A local video file (one of :data:`~xmodal.data.video.VIDEO_EXTENSIONS`).
        t: Seconds from the start, in ``[0, duration]``.
        width: The widest the image may be, in pixels (1 to :data:`MAX_WIDTH`); the aspect
            ratio is kept and a smaller frame is not enlarged.
        limits: What the file may hold (checked from its header, and per decoded frame);
            ``None``: the defaults of :class:`~xmodal.data.video.VideoLimits`.

    Returns:
        A JPEG image.

    Raises:
        NotAVideo: Not a video file name, or a file without a video stream.
        FrameOutOfRange: ``t`` is not a finite number within the video's duration.
        BadInput: ``width`` is out of range.
        BadVideo: A missing, corrupt or truncated file, one over a limit, or nothing decodable
            at ``t``.

    Example:
        >>> video_frame("notes.txt", 1.0)
        Traceback (most recent call last):
        ...
        xmodal.api.frames.NotAVideo: notes.txt is not a video (.avi .mkv .mov .mp4 .ogv .webm)
    """
    limits = limits or VideoLimits()
    name = item_name(path)
    if os.path.splitext(os.fspath(path))[1].lower() not in VIDEO_EXTENSIONS:
        raise NotAVideo(f"{name} is not a video ({' '.join(sorted(VIDEO_EXTENSIONS))})")
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
        raise BadInput(f"width must be in [1, {MAX_WIDTH}], got {width!r}")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise FrameOutOfRange(f"t must be a finite number of seconds ≥ 0, got {t!r}")
    av = require("av", "video")
    try:
        with open_video(path, limits) as container:
            streams, info = check_header(container, name, limits)
            stream = streams.get("video")
            if stream is None:
                raise NotAVideo(f"{name} holds no video stream (sound only)")
            duration = info.duration_s
            if not math.isnan(duration) and t > duration + _SLACK_S:
                raise FrameOutOfRange(f"t={t:g} s is outside the video's [0, {duration:g}] s")
            stream.thread_type = "AUTO"
            frame = _decode_to(container, stream, float(t), limits)
            if frame is None:
                raise BadVideo(f"{name}: no frame decodes at t={t:g} s (truncated or corrupt)")
            return _to_jpeg(frame, width, float(stream.sample_aspect_ratio or 1))
    except VideoDecodeError as exc:
        raise BadVideo(str(exc)) from None
    except av.FFmpegError as exc:
        raise BadVideo(f"{name}: corrupt or truncated ({exc.strerror or exc})") from None
