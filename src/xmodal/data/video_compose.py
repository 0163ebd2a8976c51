"""Compose test videos with known content: still images held for known times, with PyAV.

The tests, the video benchmark and the demo need videos whose content per time is known (the
*oracle*): :func:`compose_video` holds shot ``k``'s image from ``sum(durations[:k])`` to
``sum(durations[:k + 1])`` seconds, each frame moved a little (a small circular drift plus a
fixed grain) so that no two frames are bit-identical and the encoder does real work. Cuts are hard
cuts at frame ``round(start * fps)``. A shot can carry a sound (cut or zero-padded to the shot)
and a subtitle cue (the shot's span), written as the container's subtitle stream.

Containers come from the suffix: ``.mp4 .mov .mkv .avi`` (H.264 by default), ``.webm .ogv``
(VP8). Audio is AAC (``.mp4 .mov .mkv``), Opus (``.webm .ogv``) or 16-bit PCM (``.avi``), mono at
``audio_rate``. Subtitle streams: ``mov_text`` (``.mp4 .mov``), SubRip (``.mkv``), WebVTT
(``.webm``); AVI and Ogg have none that FFmpeg muxes, so subtitles there raise ``ValueError``:
write a side-car ``NAME.srt`` with :func:`xmodal.data.subtitles.format_srt` instead.
:func:`compose_audio` writes sound alone (:data:`AUDIO_CONTAINERS`: ``.m4a``, ``.opus``,
``.aac`` and the video containers holding only sound).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> red, blue = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    >>> out = compose_video(Path(tempfile.mkdtemp()) / "two.mkv", [(red, 0.4), (blue, 0.4)],
    ...                     fps=10, size=(32, 24))
    >>> out.suffix, out.stat().st_size > 0
    ('.mkv', True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xmodal._optional import require

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["AUDIO_CONTAINERS", "CONTAINERS", "compose_audio", "compose_video", "letterbox"]

#: suffix -> (FFmpeg muxer, default video codec, audio codec, subtitle codec or None)
CONTAINERS: dict[str, tuple[str, str, str, str | None]] = {
    ".mp4": ("mp4", "libx264", "aac", "mov_text"),
    ".mov": ("mov", "libx264", "aac", "mov_text"),
    ".mkv": ("matroska", "libx264", "aac", "subrip"),
    ".webm": ("webm", "libvpx", "libopus", "webvtt"),
    ".avi": ("avi", "libx264", "pcm_s16le", None),
    ".ogv": ("ogg", "libvpx", "libopus", None),
}
#: suffix -> (FFmpeg muxer, audio codec) of a file of sound alone
AUDIO_CONTAINERS: dict[str, tuple[str, str]] = {
    ".m4a": ("mp4", "aac"), ".aac": ("adts", "aac"), ".opus": ("ogg", "libopus"),
    **{suffix: (muxer, sound) for suffix, (muxer, _, sound, _) in CONTAINERS.items()},
}
# libvpx's defaults encode ~10 frames a second here; test videos need speed, not quality. A
# negative cpu-used fixes the speed: a positive one adapts it to the machine's load, and the
# same call then gives different frames.
_FAST_OPTIONS = {"libvpx": {"deadline": "realtime", "cpu-used": "-8"}}
_GRAIN_VARIANTS = 4  # pre-computed grain patterns per shot, cycled frame by frame
_DRIFT_PX = 2  # radius of the circular drift, in pixels


def letterbox(image: Image | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit ``size = (width, height)``, aspect kept, centred on black.

    Example:
        >>> letterbox(np.full((10, 20, 3), 255, np.uint8), (20, 20))[:, 0, 0].tolist()[4:7]
        [0, 255, 255]
    """
    pil = require("PIL.Image", "image")
    if isinstance(image, np.ndarray):
        image = pil.fromarray(image)
    image = image.convert("RGB")
    width, height = size
    scale = min(width / image.width, height / image.height)
    inner = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = pil.new("RGB", size, (0, 0, 0))
    canvas.paste(image.resize(inner, pil.Resampling.BILINEAR),
                 ((width - inner[0]) // 2, (height - inner[1]) // 2))
    return np.asarray(canvas)  # (H, W, 3)


def _grains(frame: np.ndarray, seed: int, grain: int) -> list[np.ndarray]:
    """A few copies of ``frame`` with a fixed ±``grain`` noise each (computed once per shot)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(_GRAIN_VARIANTS):
        noise = rng.integers(-grain, grain + 1, size=frame.shape, dtype=np.int16)  # (H, W, 3)
        out.append(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    return out


def _shot_audio(av: Any, wave: np.ndarray, rate: int, out_rate: int, n: int) -> np.ndarray:
    """A shot's sound as mono float32 at ``out_rate``, cut or zero-padded to ``n`` samples."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:  # (n, channels) or (channels, n): the mean of the channels
        wave = wave.mean(axis=1 if wave.shape[1] <= 8 else 0)
    out = np.zeros(n, dtype=np.float32)  # (n,)
    if wave.size == 0:
        return out
    if rate != out_rate:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=out_rate)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[None, :]), format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        parts = [f.to_ndarray()[0] for f in [*resampler.resample(frame), *resampler.resample(None)]]
        wave = np.concatenate(parts) if parts else np.zeros(0, np.float32)  # (m,)
    m = min(n, wave.size)
    out[:m] = np.clip(wave[:m], -1.0, 1.0)
    return out


def _subtitle_packet(av: Any, stream: Any, codec: str, text: str, start: float,
                     end: float) -> Any:
    data = text.encode("utf-8")
    if codec == "mov_text":  # a 16-bit big-endian length, then the UTF-8 text
        data = len(data).to_bytes(2, "big") + data
    packet = av.Packet(data)
    packet.stream = stream
    packet.pts = packet.dts = round(start * 1000)
    packet.duration = max(1, round((end - start) * 1000))
    return packet


def compose_video(
    path: str | os.PathLike[str],
    shots: Sequence[tuple[Image | np.ndarray, float]],
    *,
    fps: float = 25,
    size: tuple[int, int] = (320, 240),
    audio: Sequence[tuple[np.ndarray, int]] | None = None,
    subtitles: Sequence[str] | None = None,
    codec: str | None = None,
    audio_rate: int = 48000,
    options: dict[str, str] | None = None,
    seed: int = 0,
    grain: int = 2,
) -> Path:
    """Write a video of still shots with known times (the oracle of the video tests).

    Shot ``k`` spans ``[sum(d[:k]), sum(d[:k + 1]))`` seconds (frames from
    ``round(start * fps)``); its image is letterboxed to ``size`` and drifts by up to 2 pixels on
    a circle, over a fixed grain (``grain`` levels), so consecutive frames differ slightly.

    Args:
        path: Output file; its suffix picks the container (see :data:`CONTAINERS`).
        shots: ``(image, seconds)`` per shot: a PIL image or an ``(H, W, 3)`` uint8 array.
        fps: Frame rate.
        size: ``(width, height)`` of the video (even numbers for H.264's 4:2:0).
        audio: One ``(wave, rate)`` per shot (mono ``(n,)`` or ``(n, channels)``), resampled
            to ``audio_rate`` and cut or zero-padded to the shot; ``None``: no audio stream.
        subtitles: One cue per shot (``""``: none), written as a subtitle stream.
        codec: Video encoder; ``None``: the container's (libx264, or libvpx for WebM / Ogg).
        audio_rate: Sample rate of the audio stream (Opus needs 48000).
        options: Encoder options, e.g. ``{"preset": "veryfast"}`` for libx264; ``None``: the
            encoder's defaults, except libvpx's real-time mode (its default is slow).
        seed: Seed of the grain.
        grain: Amplitude of the grain, in 8-bit levels (a larger grain costs the encoder and
            the decoder more bits: 2 gives ~0.3 Mbit/s at 720p, 8 a few Mbit/s).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: An unknown suffix, bad shots, one sound or cue per shot not given, or
            subtitles for a container without a subtitle stream (``.avi``, ``.ogv``).
        MissingDependencyError: PyAV (the ``video`` extra) or Pillow is not installed.
    """
    av = require("av", "video")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CONTAINERS:
        raise ValueError(f"unknown video suffix {suffix!r}: one of {sorted(CONTAINERS)}")
    muxer, default_codec, audio_codec, subtitle_codec = CONTAINERS[suffix]
    if not shots or any(not (seconds > 0 and math.isfinite(seconds)) for _, seconds in shots):
        raise ValueError("shots must be a non-empty list of (image, seconds > 0)")
    for what, given in (("audio", audio), ("subtitles", subtitles)):
        if given is not None and len(given) != len(shots):
            raise ValueError(f"{what}: one per shot expected, got {len(given)} for {len(shots)}")
    if subtitles is not None and subtitle_codec is None:
        raise ValueError(f"{suffix} holds no subtitle stream FFmpeg can write: use a side-car .srt")
    width, height = size
    bounds = np.concatenate([[0.0], np.cumsum([float(s) for _, s in shots])])  # (shots + 1,)
    first_frames = np.round(bounds * fps).astype(int)  # (shots + 1,)

    with av.open(str(path), "w", format=muxer) as out:
        video = out.add_stream(codec or default_codec, rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if options is None and video.codec_context.name in _FAST_OPTIONS:
            options = _FAST_OPTIONS[video.codec_context.name]
        if options:
            video.options = dict(options)
        sound = None
        if audio is not None:
            sound = out.add_stream(audio_codec, rate=audio_rate)
            sound.layout = "mono"
        text = None
        if subtitles is not None:
            text = out.add_mux_stream(subtitle_codec, time_base=Fraction(1, 1000))
        edges = np.round(bounds * audio_rate).astype(int)  # (shots + 1,)
        index = 0
        for k, (image, _) in enumerate(shots):
            variants = _grains(letterbox(image, size), seed + k, grain)
            for i in range(first_frames[k], first_frames[k + 1]):
                angle = 2 * math.pi * i / max(fps, 1)  # one turn per second
                dx, dy = round(_DRIFT_PX * math.cos(angle)), round(_DRIFT_PX * math.sin(angle))
                pixels = np.roll(variants[i % _GRAIN_VARIANTS], (dy, dx), axis=(0, 1))  # (H, W, 3)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = index
                out.mux(video.encode(frame))
                index += 1
            if sound is not None and audio is not None:  # interleaved with the video, shot by shot
                wave, rate = audio[k]
                chunk = _shot_audio(av, wave, rate, audio_rate, int(edges[k + 1] - edges[k]))
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                frame.sample_rate, frame.pts = audio_rate, int(edges[k])
                out.mux(sound.encode(frame))
            if text is not None and subtitles is not None and subtitles[k]:
                out.mux(_subtitle_packet(av, text, subtitle_codec, subtitles[k], bounds[k],
                                         bounds[k + 1]))
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return path


def compose_audio(path: str | os.PathLike[str], wave: np.ndarray, rate: int, *,
                  audio_rate: int = 48000, layout: str = "mono") -> Path:
    """Write a file of sound alone (no video stream): the tests' audio containers.

    Args:
        path: Output file; its suffix picks the container and codec (:data:`AUDIO_CONTAINERS`).
        wave: The sound, mono ``(n,)`` or ``(n, channels)`` (averaged), resampled to
            ``audio_rate``.
        rate: ``wave``'s rate, in Hz.
        audio_rate: Rate of the stream (Opus needs 48000).
        layout: ``"mono"``, or ``"stereo"`` for the same sound in both channels.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: An unknown suffix.
        MissingDependencyError: PyAV (the ``video`` extra) is not installed.

    Example:
        >>> import tempfile
        >>> t = np.arange(8000) / 8000
        >>> out = compose_audio(Path(tempfile.mkdtemp()) / "beep.m4a",
        ...                     np.sin(2 * np.pi * 440 * t), 8000, audio_rate=16000)
        >>> out.suffix, out.stat().st_size > 0
        ('.m4a', True)
    """
    av = require("av", "video")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_CONTAINERS:
        raise ValueError(f"unknown audio suffix {suffix!r}: one of {sorted(AUDIO_CONTAINERS)}")
    muxer, codec = AUDIO_CONTAINERS[suffix]
    mono = _shot_audio(av, np.asarray(wave), rate, audio_rate,
                       round(len(wave) * audio_rate / rate))  # (n,)
    channels = 2 if layout == "stereo" else 1
    with av.open(str(path), "w", format=muxer) as out:
        sound = out.add_stream(codec, rate=audio_rate)
        sound.layout = layout
        for start in range(0, mono.size, audio_rate):  # a second at a time
            chunk = np.repeat(mono[None, start : start + audio_rate], channels, axis=0)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts = audio_rate, start
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    return path
