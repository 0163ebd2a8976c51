"""The one decoding pass of :func:`xmodal.data.video.read_video` (PyAV): frames, sound, cues.

Fast path (``SegmentConfig.decode="fast"``): the decoder runs with threads and, for codecs
with non-reference frames (H.264, HEVC, MPEG-1/2/4, VP8/9), skips those (``skip_frame=NONREF``:
B-frames nothing else needs; cut times stay within a frame or two) and, unless
``SegmentConfig.deblock``, the in-loop deblocking filter (``skip_loop_filter=all``: 15-30 % less
decoding; keyframes then differ from a full decode by 50-60 dB PSNR on the benchmark's 0.3
Mbit/s H.264 video, 35-57 dB at 3 Mbit/s with grain: fine for embedding, keep it to display
them). Frames are *analysed* at
``analysis_fps`` by reading a small grid straight out of their Y, U and V planes (no colour
conversion, no scaling), and a few are kept, unconverted, as keyframe candidates (see
:class:`~xmodal.data.video_segments.KeyframePool`); only the chosen keyframes are converted to
RGB, at most ``keyframe_max_pixels``. Naive path (``"naive"``, the baseline of the benchmark):
every frame is decoded and converted to a full-size RGB array, and the grid is its block mean.

Times are seconds from the container's start. The soundtrack is decoded in the same pass,
resampled (channels kept), then averaged to mono like :func:`xmodal.data.audio.load_audio`,
and aligned to time 0 (zeros before a late start, an early start cut).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xmodal._optional import require
from xmodal.data.subtitles import TimedText, clean_cue_text
from xmodal.data.video_segments import CutDetector, KeyframePool, SegmentConfig, SegmentPlanner

_SKIP_NONREF = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4", "vp8", "vp9"})
_PLANAR_YUV = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                         "yuv440p", "yuvj440p", "yuv411p", "yuv410p"})
# BT.601 RGB -> YUV (full range), for the naive path's grid.
_AUDIO_BLOCK = 1 << 20  # samples per block of the soundtrack's buffer (4 MB)
_RGB_TO_YUV = np.array([[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]],
                       dtype=np.float32)


@dataclass
class PassResult:
    """What one pass decoded (the caller wraps it in the public dataclasses)."""

    segments: list[tuple[float, float, list[tuple[float, Any]]]] = field(default_factory=list)
    audio: np.ndarray | None = None  # (n,) float32 mono
    cues: list[TimedText] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    video_end: float = 0.0
    audio_end: float = 0.0
    frames_decoded: int = 0
    frames_analysed: int = 0
    frames_converted: int = 0
    cuts: int = 0


def _grid_from_planes(frame: Any, size: tuple[int, int],
                      cache: dict[tuple[int, int, int], np.ndarray]) -> np.ndarray:
    """A ``(3, h, w)`` float32 grid of Y, U, V samples read from the frame's planes (``cache``
    keeps the sample positions per plane geometry)."""
    width, height = size
    if frame.format.name not in _PLANAR_YUV:  # rare formats: let FFmpeg scale and convert
        frame = frame.reformat(width=width, height=height, format="yuv444p")
    grid = np.empty((3, height, width), np.float32)  # (3, h, w)
    for k, plane in enumerate(frame.planes[:3]):
        key = (plane.width, plane.height, plane.line_size)
        if key not in cache:
            rows = np.linspace(0, plane.height - 1, height).round().astype(np.intp)  # (h,)
            cols = np.linspace(0, plane.width - 1, width).round().astype(np.intp)  # (w,)
            cache[key] = rows[:, None] * plane.line_size + cols[None, :]  # (h, w)
        grid[k] = np.frombuffer(plane, np.uint8)[cache[key]]  # (h, w)
    return grid


def _grid_from_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A ``(3, h, w)`` YUV grid of an ``(H, W, 3)`` image by block means (the naive path)."""
    width, height = size
    rows = np.linspace(0, rgb.shape[0], height + 1).astype(np.intp)  # (h + 1,)
    cols = np.linspace(0, rgb.shape[1], width + 1).astype(np.intp)  # (w + 1,)
    sums = np.add.reduceat(np.add.reduceat(rgb.astype(np.float32), rows[:-1], axis=0),
                           cols[:-1], axis=1)  # (h, w, 3)
    counts = np.diff(rows)[:, None, None] * np.diff(cols)[None, :, None]  # (h, w, 1)
    yuv = (sums / counts) @ _RGB_TO_YUV.T  # (h, w, 3)
    yuv[..., 1:] += 128.0
    return np.moveaxis(yuv, -1, 0)  # (3, h, w)


def keyframe_size(width: int, height: int, max_pixels: int,
                  aspect: float = 1.0) -> tuple[int, int]:
    """Display size of a ``width × height`` frame (pixel ``aspect`` applied) within ``max_pixels``.

    Example:
        >>> keyframe_size(3840, 2160, 1280 * 720), keyframe_size(720, 576, 10**6, aspect=16 / 15)
        ((1280, 720), (768, 576))
    """
    shown = width * aspect if aspect > 0 else width
    scale = min(1.0, math.sqrt(max_pixels / max(1.0, shown * height)))
    return max(2, round(shown * scale)), max(2, round(height * scale))


class VideoPass:
    """One pass over a container's selected streams (see the module docstring)."""

    def __init__(self, container: Any, streams: dict[str, Any], *, config: SegmentConfig,
                 max_seconds: float, max_pixels: int, sample_rate: int | None,
                 fail: Callable[[str], Exception]) -> None:
        self.av = require("av", "video")
        self.container, self.config, self.fail = container, config, fail
        self.video, self.sound, self.text = streams.get("video"), streams.get("audio"), \
            streams.get("subtitle")
        self.max_seconds, self.max_pixels, self.sample_rate = max_seconds, max_pixels, sample_rate
        start = container.start_time
        self.origin = start / 1e6 if start is not None else 0.0
        self.out = PassResult()
        self.stopped = False
        fps = float(self.video.average_rate or self.video.guessed_rate or 25) if self.video else 25
        self.frame_s = 1 / fps if fps > 0 else 0.04
        rate = min(config.analysis_fps or fps, fps)
        self.step = 1 / config.analysis_fps if config.analysis_fps else 0.0
        self.next_sample = 0.0
        self.last_t = 0.0
        self.detector = CutDetector(config, rate)
        self.planner = SegmentPlanner(config)
        self.pool = KeyframePool(config)
        self._open = 0.0  # the planner's open segment, as the pool last heard of it
        self._positions: dict[tuple[int, int, int], np.ndarray] = {}  # grid sample positions
        self.aspect = float(self.video.sample_aspect_ratio or 1) if self.video else 1.0
        # The soundtrack, in blocks of _AUDIO_BLOCK samples: thousands of small long-lived arrays
        # between the frames' large short-lived ones would fragment the heap (seen: +2 GB RSS).
        self._blocks: list[np.ndarray] = []  # (_AUDIO_BLOCK,) float32 each, the last filling
        self._filled = 0  # samples written in the last block
        self._samples = 0
        self._resampler: Any = None
        self._resampler_key: tuple[str, int] | None = None
        self._audio_start: float | None = None
        if self.video is not None:
            self.video.thread_type = "AUTO"
            if config.decode == "fast" and self.video.codec_context.name in _SKIP_NONREF:
                self.video.codec_context.skip_frame = "NONREF"
                if not config.deblock:
                    self.video.codec_context.options = {"skip_loop_filter": "all"}

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> PassResult:
        av, handlers = self.av, {"video": self._on_video, "audio": self._on_audio,
                                 "subtitle": self._on_subtitle}
        streams = [s for s in (self.video, self.sound, self.text) if s is not None]
        bad = 0
        try:
            for packet in self.container.demux(streams):
                try:
                    items = packet.decode()
                except av.FFmpegError:  # one damaged packet: go on, as players do
                    bad += 1
                    continue
                for item in items:
                    handlers[packet.stream.type](item, packet)
                if self.stopped:
                    break
        except av.FFmpegError as exc:
            self.out.warnings.append(f"corrupt data after {self.last_t:.1f} s, decoding stopped "
                                     f"({exc.strerror or exc})")
        if bad:
            self.out.warnings.append(f"{bad} damaged packet(s) skipped")
        self._finish_audio()
        return self.out

    def finish(self, duration: float) -> None:
        """Close the last segments at ``duration`` (the decoded end of the video)."""
        for t in self.detector.finish():
            self._cut(t)
        self._emit(self.planner.advance(duration) + self.planner.finish(duration))

    # -- video -----------------------------------------------------------------------------------

    def _time(self, item: Any, fallback: float) -> float:
        t = item.time
        return fallback if t is None else float(t) - self.origin

    def _on_video(self, frame: Any, packet: Any) -> None:
        t = max(self._time(frame, self.last_t + self.frame_s), self.last_t, 0.0)
        if t > self.max_seconds:
            return self._stop()
        if frame.width * frame.height > self.max_pixels:
            pixels = frame.width * frame.height
            raise self.fail(f"a frame of {frame.width}×{frame.height} = {pixels:,} pixels at "
                            f"{t:.1f} s, over the limit of {self.max_pixels:,}")
        self.last_t = t
        self.out.frames_decoded += 1
        length = float(frame.duration * frame.time_base) if frame.duration and frame.time_base \
            else self.frame_s
        self.out.video_end = max(self.out.video_end, t + length)
        if self.config.decode == "naive":  # the baseline: every frame to full-size RGB
            frame = frame.to_ndarray(format="rgb24")  # (H, W, 3)
            self.out.frames_converted += 1
        if t < self.next_sample:
            return None
        self.next_sample = max(self.next_sample + self.step, t) if self.step else t
        if isinstance(frame, np.ndarray):
            ref, grid = frame, _grid_from_rgb(frame, self.config.analysis_size)  # (3, h, w)
        else:
            ref, grid = frame, _grid_from_planes(frame, self.config.analysis_size,
                                                 self._positions)  # (3, h, w)
        self.out.frames_analysed += 1
        cuts = self.detector.feed(t, grid)
        self.pool.offer(t, ref, self.detector.change_at(t), float(grid[0].mean()) / 255)
        for c in cuts:
            self._cut(c)
        self._emit(self.planner.advance(self.detector.decided))
        return None

    def _cut(self, t: float) -> None:
        self.out.cuts += 1
        self._emit(self.planner.advance(t) + self.planner.cut(t))

    def _emit(self, segments: list[tuple[float, float]]) -> None:
        if self.planner.start != self._open:  # a new segment opened: dense candidates again
            self._open = self.planner.start
            self.pool.cut(self._open)
        for a, b in segments:
            chosen = self.pool.take(a, b)
            self.out.segments.append((a, b, [(max(c.t, a), self._image(c.frame)) for c in chosen]))

    def _image(self, frame: Any) -> Any:
        pil = require("PIL.Image", "image")
        self.out.frames_converted += self.config.decode == "fast"
        if isinstance(frame, np.ndarray):  # naive path: already RGB
            image = pil.fromarray(frame)
            size = keyframe_size(image.width, image.height, self.config.keyframe_max_pixels,
                                 self.aspect)
            return image if size == image.size else image.resize(size, pil.Resampling.BILINEAR)
        size = keyframe_size(frame.width, frame.height, self.config.keyframe_max_pixels,
                             self.aspect)
        image = frame.to_image(width=size[0], height=size[1])
        rotation = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
        if rotation:  # a phone's display matrix: counter-clockwise quarter turns
            image = image.transpose((None, pil.Transpose.ROTATE_90, pil.Transpose.ROTATE_180,
                                     pil.Transpose.ROTATE_270)[rotation])
        return image

    def _stop(self) -> None:
        if not self.stopped:
            self.out.warnings.append(f"longer than the limit of {self.max_seconds:,g} s: decoded "
                                     "up to the limit")
        self.stopped = True

    # -- audio -----------------------------------------------------------------------------------

    def _on_audio(self, frame: Any, packet: Any) -> None:
        t = self._time(frame, self.out.audio_end)
        if t > self.max_seconds:
            return self._stop()
        self.out.audio_end = max(self.out.audio_end, t + frame.samples / max(1, frame.sample_rate))
        if self.sample_rate is None:
            return None
        if self._audio_start is None:
            self._audio_start = t
            lead = round(t * self.sample_rate)
            if lead > 0:
                self._append(np.zeros(lead, np.float32))
            else:
                self._samples = lead  # an early start: its first -lead samples are cut
        if self._resampler is None or self._resampler_key != (frame.layout.name, frame.sample_rate):
            self._flush_resampler()
            self._resampler = self.av.AudioResampler(format="fltp", layout=frame.layout.name,
                                                     rate=self.sample_rate)
            self._resampler_key = (frame.layout.name, frame.sample_rate)
        for out in self._resampler.resample(frame):
            self._append_frame(out)
        return None

    def _append_frame(self, out: Any) -> None:
        planes = out.to_ndarray()  # (channels, n)
        self._append(planes[0] if planes.shape[0] == 1 else planes.mean(axis=0))

    def _append(self, wave: np.ndarray) -> None:
        limit = math.floor(self.max_seconds * (self.sample_rate or 0))
        start = self._samples
        self._samples += wave.size
        part = wave[max(0, -start) : max(0, min(wave.size, limit - start))]  # (m,)
        while part.size:
            if not self._blocks or self._filled == _AUDIO_BLOCK:
                self._blocks.append(np.empty(_AUDIO_BLOCK, np.float32))
                self._filled = 0
            n = min(part.size, _AUDIO_BLOCK - self._filled)
            self._blocks[-1][self._filled : self._filled + n] = part[:n]
            self._filled += n
            part = part[n:]

    def _flush_resampler(self) -> None:
        if self._resampler is not None:
            for out in self._resampler.resample(None):
                self._append_frame(out)

    def _finish_audio(self) -> None:
        if self.sample_rate is None or self.sound is None:
            return
        self._flush_resampler()
        if not self._blocks:
            return
        blocks, self._blocks = self._blocks, []
        audio = np.empty((len(blocks) - 1) * _AUDIO_BLOCK + self._filled, np.float32)  # (n,)
        at = 0
        while blocks:  # each block let go once copied
            block = blocks.pop(0)
            n = min(block.size, audio.size - at)
            audio[at : at + n] = block[:n]
            at += n
        self.out.audio = np.clip(audio, -1.0, 1.0, out=audio)

    # -- subtitles -------------------------------------------------------------------------------

    def _on_subtitle(self, subtitle: Any, packet: Any) -> None:
        text = getattr(subtitle, "dialogue", None)  # text cues; bitmap cues have none
        if packet.pts is None or not text:
            return
        base = packet.time_base
        start = float(packet.pts * base) - self.origin
        end = start + float(packet.duration * base) if packet.duration else start
        cue = clean_cue_text(text.decode("utf-8", errors="replace"))
        if cue and 0 <= start <= self.max_seconds:
            self.out.cues.append(TimedText(t_start=start, t_end=max(start, end), text=cue))


def sidecar_subtitles(path: str) -> str | None:
    """The side-car subtitle file of a video: ``NAME.srt`` or else ``NAME.vtt``, if present."""
    stem, _ = os.path.splitext(path)
    for suffix in (".srt", ".vtt", ".SRT", ".VTT"):
        if os.path.lexists(stem + suffix):
            return stem + suffix
    return None


def video_subtitles(path: str | os.PathLike[str]) -> tuple[TimedText, ...]:
    """A video's subtitles as :func:`~xmodal.data.video.read_video` gives them, without
    decoding its pictures or sound: the side-car ``NAME.srt`` / ``NAME.vtt``, else the cues of
    its text subtitle stream (demuxed alone). For what needs the subtitles again, not the
    video (a document's lexical text when only its metadata changed).

    Raises:
        SubtitleError: a side-car that cannot be read.
        VideoDecodeError: a file that does not open, or is over a header limit.
        MissingDependencyError: PyAV is not installed (needed for a subtitle stream only).
    """
    from xmodal.data.subtitles import read_subtitles
    from xmodal.data.video import (
        VideoDecodeError,
        VideoLimits,
        check_header,
        item_name,
        open_video,
    )

    sidecar = sidecar_subtitles(os.fspath(path))
    if sidecar is not None:
        return read_subtitles(sidecar)
    name, limits = item_name(path), VideoLimits()
    with open_video(path, limits) as container:
        streams, _ = check_header(container, name, limits)
        if "subtitle" not in streams:
            return ()
        only = VideoPass(container, {"subtitle": streams["subtitle"]}, config=SegmentConfig(),
                         max_seconds=limits.max_seconds, max_pixels=limits.max_pixels,
                         sample_rate=None, fail=lambda reason: VideoDecodeError(name, reason))
        return tuple(only.run().cues)
