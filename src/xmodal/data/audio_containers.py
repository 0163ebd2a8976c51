"""Sound in containers: ``.m4a .aac .opus`` files and video containers holding sound, decoded
with PyAV (the ``video`` extra) for :func:`xmodal.data.audio.load_audio`.

What goes through here (:func:`decodes_with_pyav`): ``.m4a`` (the MP4 / MOV demuxer), ``.aac``
(ADTS), the video containers ``.mp4 .mkv .webm .mov .avi .ogv`` (their first audio stream: the
sound of an audio-only container, a video's soundtrack), and ``.opus`` (Ogg) when PyAV is
installed (without it libsndfile decodes Ogg Opus). Everything else stays with soundfile.

The video reader's safety applies unchanged (:func:`xmodal.data.video.open_video` and
:func:`~xmodal.data.video.check_header`): only local regular files, only its allowed demuxers
(no playlist, no concat script, nothing fetched), its byte and stream limits, and the duration
limit (``max_seconds``) from the header before decoding and again while decoding (a header that
understates the length does not get past it). The decoding itself is the video reader's sound
path (:class:`xmodal.data.video_decode.VideoPass` with the audio stream alone): resampled to
the requested rate by FFmpeg, channels averaged, clipped to [-1, 1], float32, sample 0 at
t = 0 (an encoder's priming samples are cut as the container says).

Errors are :class:`~xmodal.data.audio.AudioDecodeError` with the reasons of the other audio
paths (``"empty: 0 bytes"``, ``"too long: ..."``, ``"truncated or corrupt: ..."``, ``"no audio
stream"``); a missing PyAV raises :class:`~xmodal._optional.MissingDependencyError` naming the
``video`` extra. Damaged packets inside a file are skipped, as players do; a file that decodes
shorter than its header declares (by over 0.25 s and 2 %) is refused as truncated. Not every
cut is seen: an Ogg file's length is read from its last page and an ADTS file declares none
(FFmpeg estimates it), so these decode to what is there.

Example:
    >>> decodes_with_pyav("memo.M4A"), decodes_with_pyav("podcast.mkv"), decodes_with_pyav("a.wav")
    (True, True, False)
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from xmodal._optional import MissingDependencyError, require
from xmodal.data.audio import AudioDecodeError
from xmodal.data.video import (
    VIDEO_EXTENSIONS,
    VideoDecodeError,
    VideoInfo,
    VideoLimits,
    check_header,
    item_name,
    open_video,
)

__all__ = ["CONTAINER_AUDIO_EXTENSIONS", "decodes_with_pyav", "header_seconds",
           "read_container_audio", "sound_only"]

CONTAINER_AUDIO_EXTENSIONS = frozenset({".m4a", ".aac", ".opus"})
"""Audio files only PyAV decodes here (``.opus`` falls back to libsndfile without PyAV)."""
_ALWAYS_PYAV = (CONTAINER_AUDIO_EXTENSIONS - {".opus"}) | VIDEO_EXTENSIONS
# Decoded this much shorter than the header declares (the larger of the two): truncated.
_SHORT_S, _SHORT_SHARE = 0.25, 0.02


def _has_pyav() -> bool:
    try:
        require("av", "video")
    except MissingDependencyError:
        return False
    return True


def decodes_with_pyav(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`~xmodal.data.audio.load_audio` decodes ``path`` with PyAV (its suffix).

    Example:
        >>> decodes_with_pyav("voice.aac"), decodes_with_pyav("song.flac")
        (True, False)
    """
    suffix = Path(path).suffix.lower()
    return suffix in _ALWAYS_PYAV or (suffix == ".opus" and _has_pyav())


def _audio_reason(reason: str) -> str:
    """A video reader's reason, worded for a sound file."""
    return reason.replace("not a video file", "not an audio file or unsupported format")


def _header(path: str | os.PathLike[str], limits: VideoLimits) -> VideoInfo:
    name = item_name(path)
    with open_video(path, limits) as container:
        return check_header(container, name, limits)[1]


def sound_only(path: str | os.PathLike[str]) -> bool:
    """Whether a container's header holds an audio stream and no video stream (cover art is no
    video), read without decoding; False when PyAV is missing or the header is unreadable or
    over the video limits (the video reader then reports the file).

    Example:
        >>> sound_only("missing.mkv")
        False
    """
    try:
        info = _header(path, VideoLimits())
    except (VideoDecodeError, MissingDependencyError):
        return False
    return info.has_audio and not info.has_video


def header_seconds(path: str | os.PathLike[str]) -> float | None:
    """A container's duration from its header, in seconds (None when it declares none).

    Raises:
        VideoDecodeError: Missing, empty, not a container, no stream, or over the video limits.
        MissingDependencyError: PyAV (the ``video`` extra) is not installed.

    Example:
        >>> header_seconds("missing.m4a")
        Traceback (most recent call last):
        ...
        xmodal.data.video.VideoDecodeError: missing.m4a: not found
    """
    seconds = _header(path, VideoLimits()).duration_s
    return seconds if math.isfinite(seconds) else None


def read_container_audio(path: str | os.PathLike[str], *, sample_rate: int,
                         max_seconds: float) -> np.ndarray:
    """Decode a container's first audio stream to mono float32 at ``sample_rate``, in [-1, 1].

    Args:
        path: A local file (see the module docstring for the containers).
        sample_rate: The rate wanted, in Hz.
        max_seconds: Longer sound is refused (from the header, then while decoding).

    Returns:
        ``(n,)`` float32.

    Raises:
        AudioDecodeError: Missing, empty, not a container, no audio stream, truncated, corrupt
            or too long; the message names the file.
        MissingDependencyError: PyAV (the ``video`` extra) is not installed.

    Example:
        >>> read_container_audio("missing.opus", sample_rate=16000, max_seconds=60)
        Traceback (most recent call last):
        ...
        xmodal.data.audio.AudioDecodeError: missing.opus: not found
    """
    from xmodal.data.video_decode import VideoPass
    from xmodal.data.video_segments import SegmentConfig

    name, limits = item_name(path), VideoLimits(max_seconds=max_seconds)
    try:
        with open_video(path, limits) as container:
            streams, info = check_header(container, name, limits)
            if "audio" not in streams:
                raise AudioDecodeError(name, "no audio stream")
            sound = VideoPass(container, {"audio": streams["audio"]}, config=SegmentConfig(),
                              max_seconds=max_seconds, max_pixels=limits.max_pixels,
                              sample_rate=sample_rate,
                              fail=lambda reason: AudioDecodeError(name, reason))
            out = sound.run()
            # ADTS declares no length (FFmpeg estimates one from the bitrate): nothing to check
            declared = math.nan if container.format.name == "aac" else info.duration_s
    except VideoDecodeError as exc:
        raise AudioDecodeError(name, _audio_reason(exc.reason)) from None
    except (AudioDecodeError, MissingDependencyError):
        raise
    except Exception as exc:  # a decoder's surprise on a hostile file: reported, not raised
        raise AudioDecodeError(name, f"decoding failed: {type(exc).__name__}: {exc}") from exc
    _check_decoded(name, out.audio, out.audio_end, out.warnings, declared,
                   stopped=sound.stopped, max_seconds=max_seconds)
    assert out.audio is not None  # checked
    return out.audio


def _check_decoded(name: str, audio: np.ndarray | None, decoded_s: float, warnings: list[str],
                   declared_s: float, *, stopped: bool, max_seconds: float) -> None:
    """Refuse what the other audio paths refuse: too long, cut short, corrupt, nothing."""
    if stopped:  # the header understated the length
        raise AudioDecodeError(name, f"too long: more than {max_seconds:,g} s decoded (the "
                                     f"header declares {declared_s:,.1f} s), over the limit "
                                     f"of {max_seconds:,g} s")
    stop = next((w for w in warnings if w.startswith("corrupt data")), None)
    if stop is not None:
        raise AudioDecodeError(name, f"truncated or corrupt: {stop}")
    if audio is None or audio.size == 0:
        raise AudioDecodeError(name, "truncated or corrupt: the audio stream decodes to no "
                                     "sample")
    if declared_s - decoded_s > max(_SHORT_S, _SHORT_SHARE * declared_s):  # False when nan
        raise AudioDecodeError(name, f"truncated or corrupt: {decoded_s:,.1f} s decoded of the "
                                     f"{declared_s:,.1f} s its header declares")
    if not np.isfinite(audio).all():
        raise AudioDecodeError(name, "contains NaN or Inf samples")
