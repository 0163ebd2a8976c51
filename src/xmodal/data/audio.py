"""Audio for the encoders: mono float32 at a fixed rate, cut into fixed windows.

Inference is deterministic (``DESIGN.md``): a clip is resampled with a fixed polyphase filter
and split into consecutive, non-overlapping windows (10 s by default), never randomly cropped.
An encoder embeds every window and mean-pools the window embeddings weighted by
:func:`window_weights`, so the zero-padded tail of the last window counts only for its real part.

Accepted items:

- a path (``str`` / ``os.PathLike``) or ``bytes`` holding any file libsndfile decodes
  (WAV, FLAC, OGG Vorbis/Opus, MP3, AIFF...); a path to ``.m4a .aac .opus`` or a video
  container (its sound) is decoded with PyAV instead (:mod:`xmodal.data.audio_containers`);
- an ``(array, rate)`` tuple;
- a bare ``np.ndarray``, taken to be at the requested ``sample_rate`` already.

Array layout: a 1-D array is mono ``(n,)``. A 2-D array of shape ``(a, b)`` is
``(channels, n)`` when ``a <= 8 < b``, ``(n, channels)`` when ``b <= 8``; when both sides are
over 8 the layout is ambiguous and the array is refused. Integer arrays are PCM and scaled to
[-1, 1] (``int16 / 32768``; unsigned types are centred first); float arrays are taken as they are.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np

from xmodal._optional import MissingDependencyError, require
from xmodal.data.problems import ItemProblem

__all__ = [
    "DEFAULT_MAX_SECONDS",
    "AudioDecodeError",
    "DecodedAudio",
    "load_audio",
    "load_audios",
    "window_weights",
    "windows",
]

#: Longest clip accepted, in seconds (10 minutes: 60 windows of 10 s). Longer clips are refused
#: from the file header, before they are decoded; pass ``max_seconds`` to change it.
DEFAULT_MAX_SECONDS = 600.0
_MAX_ARRAY_CHANNELS = 8
# libsndfile's log when a WAV/AIFF header declares more data than the file holds.
_SHORT_DATA = re.compile(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)")


class AudioDecodeError(ValueError):
    """An item could not be turned into audio; the message names the item and the problem."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


@dataclass(frozen=True)
class DecodedAudio:
    """The decoded good items of a batch, and the bad ones.

    ``waves[k]`` is input ``indices[k]`` (mono float32 at the requested rate); ``failed`` lists
    the items that could not be decoded, with the reason.
    """

    waves: tuple[np.ndarray, ...]
    indices: tuple[int, ...]
    failed: tuple[ItemProblem, ...] = ()


def _name(item: object) -> str:
    if isinstance(item, str | os.PathLike):  # the whole path, or its end when very long
        path = str(os.fspath(item))
        return path if len(path) <= 200 else "…" + path[-199:]
    if isinstance(item, bytes | bytearray | memoryview):
        return "<bytes>"
    if isinstance(item, np.ndarray | tuple):
        return "<array>"
    return f"<{type(item).__name__}>"


def _in_container(item: object) -> bool:
    """Whether ``item`` is a path PyAV decodes (:mod:`xmodal.data.audio_containers`)."""
    from xmodal.data.audio_containers import decodes_with_pyav

    return isinstance(item, str | os.PathLike) and decodes_with_pyav(item)


def _check_rate(sample_rate: object) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")


def _too_long(seconds: float, max_seconds: float) -> str:
    return f"too long: {seconds:,.1f} s, over the limit of {max_seconds:,g} s"


def _decode_file(
    item: str | os.PathLike | bytes, name: str, max_seconds: float
) -> tuple[np.ndarray, int]:
    """Decode a file or bytes with soundfile; returns ``((n, channels) float32, rate)``."""
    sf = require("soundfile", "audio")
    if isinstance(item, bytes | bytearray | memoryview):
        if len(item) == 0:
            raise AudioDecodeError(name, "empty: 0 bytes")
        source: object = io.BytesIO(bytes(item))
    else:
        path = os.fspath(item)
        if not os.path.exists(path):
            raise AudioDecodeError(name, "not found")
        if not os.path.isfile(path):
            raise AudioDecodeError(name, "not a regular file")
        if os.path.getsize(path) == 0:
            raise AudioDecodeError(name, "empty: 0 bytes")
        source = path
    try:
        f = sf.SoundFile(source)
    except (sf.LibsndfileError, RuntimeError, EOFError) as exc:
        msg = getattr(exc, "error_string", None) or str(exc)
        if "malformed" in msg or msg.startswith("Error in"):
            raise AudioDecodeError(name, f"truncated or corrupt: {msg}") from exc
        raise AudioDecodeError(name, f"not an audio file or unsupported format: {msg}") from exc
    with f:
        declared, rate = f.frames, f.samplerate
        if rate <= 0:
            raise AudioDecodeError(name, f"truncated or corrupt: sample rate {rate}")
        # The limit is checked from the header, before anything is decoded.
        if declared / rate > max_seconds:
            raise AudioDecodeError(name, _too_long(declared / rate, max_seconds))
        short = _SHORT_DATA.search(f.extra_info)
        # A declared size of 0xFFFFFFFF is a streamed WAV's "unknown", not a truncation.
        if short and int(short.group(2)) < int(short.group(1)) < 0xFFFFFFFF:
            raise AudioDecodeError(
                name,
                f"truncated or corrupt: the header declares {int(short.group(1)):,} bytes "
                f"of audio, the file holds {int(short.group(2)):,}",
            )
        try:
            # Reads a little past the header's count at most (MP3 frame counts are estimates).
            limit = math.floor(max_seconds * rate) + 1
            data = f.read(frames=limit, dtype="float32", always_2d=True)  # (n, channels)
        except (sf.LibsndfileError, RuntimeError, EOFError) as exc:
            msg = getattr(exc, "error_string", None) or str(exc)
            raise AudioDecodeError(name, f"truncated or corrupt: {msg}") from exc
        fuzz = 0
        if f.format == "MP3":  # frame counts are estimates from the file size and bitrate,
            declared = round(declared * _mp3_audio_share(source))  # tags included
            fuzz = 0.01 * declared
        if len(data) < declared - fuzz:
            raise AudioDecodeError(
                name, f"truncated or corrupt: {len(data):,} of {declared:,} samples decoded"
            )
    return data, rate


def _mp3_audio_share(source: object) -> float:
    """The share of an MP3's bytes that is audio: libsndfile estimates an MP3's length from
    its size, ID3v2 tags (cover art: often most of a short clip's file) and ID3v1 included.

    Example:
        >>> tag = b"ID3" + bytes([4, 0, 0, 0, 0, 0x07, 0x76])  # syncsafe 1,014 + 10
        >>> round(_mp3_audio_share(io.BytesIO(tag + bytes(1014 + 3072))), 3)  # 1,024 of 4,096
        0.75
    """
    if isinstance(source, io.BytesIO):
        blob = source.getbuffer()
        size, head, tail = len(blob), bytes(blob[:10]), bytes(blob[-128:])
    else:
        with open(os.fspath(source), "rb") as fh:  # type: ignore[arg-type]
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(10)
            fh.seek(max(0, size - 128))
            tail = fh.read(128)
    tags = 0
    if len(head) == 10 and head[:3] == b"ID3":
        tags = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        tags += 10 if head[5] & 0x10 else 0  # footer
    if len(tail) == 128 and tail[:3] == b"TAG":
        tags += 128
    return max(0.0, size - tags) / size if size else 1.0


def _as_frames(array: np.ndarray, name: str) -> np.ndarray:
    """Any accepted array layout as float ``(n, channels)``, PCM integers scaled to [-1, 1]."""
    if array.ndim == 1:
        array = array[:, None]  # (n, 1)
    elif array.ndim == 2:
        a, b = array.shape
        if a <= _MAX_ARRAY_CHANNELS < b:
            array = array.T  # (channels, n) -> (n, channels)
        elif b > _MAX_ARRAY_CHANNELS:
            raise AudioDecodeError(
                name,
                f"ambiguous array shape {array.shape}: expected (n,), (n, channels) or "
                f"(channels, n) with at most {_MAX_ARRAY_CHANNELS} channels",
            )
    else:
        raise AudioDecodeError(name, f"expected a 1-D or 2-D array, got shape {array.shape}")
    kind = array.dtype.kind
    if kind in "iu":
        info = np.iinfo(array.dtype)
        half = (int(info.max) + 1) / 2 if kind == "u" else -float(info.min)
        offset = half if kind == "u" else 0.0
        return (array.astype(np.float64) - offset) / half  # (n, channels)
    if kind != "f":
        raise AudioDecodeError(name, f"unsupported sample type {array.dtype}")
    if not np.isfinite(array).all():
        raise AudioDecodeError(name, "contains NaN or Inf samples")
    return array  # (n, channels)


def load_audio(
    item: object, *, sample_rate: int, max_seconds: float = DEFAULT_MAX_SECONDS
) -> np.ndarray:
    """Decode one item to a mono float32 waveform at ``sample_rate``, values in [-1, 1].

    Channels are averaged; other rates are resampled with ``scipy.signal.resample_poly`` at
    the reduced ratio ``sample_rate / rate`` (deterministic; none when the rates match); the
    result is clipped to [-1, 1]. See the module docstring for the accepted items.

    Args:
        item: a path, ``bytes`` of a file, an ``(array, rate)`` tuple, or a bare array taken
            to be at ``sample_rate`` already.
        sample_rate: the rate wanted, in Hz.
        max_seconds: clips longer than this are refused (files from their header, before
            decoding).

    Returns:
        ``(n,)`` float32.

    Raises:
        AudioDecodeError: the item is missing, not audio, truncated, empty, too long, or has
            NaN/Inf samples; the message names the item and the problem.
        MissingDependencyError: the decoder is not installed (PyAV for containers).

    Example:
        >>> import numpy as np
        >>> t = np.arange(4800) / 48000
        >>> stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)])  # (2, 4800)
        >>> wave = load_audio((stereo, 48000), sample_rate=16000)
        >>> wave.shape, wave.dtype.name, round(float(np.abs(wave).max()), 1)
        ((1600,), 'float32', 0.5)
    """
    _check_rate(sample_rate)
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}")
    name = _name(item)
    if _in_container(item):
        from xmodal.data.audio_containers import read_container_audio

        return read_container_audio(item, sample_rate=sample_rate, max_seconds=max_seconds)
    if isinstance(item, str | os.PathLike | bytes | bytearray | memoryview):
        frames, rate = _decode_file(item, name, max_seconds)  # (n, channels)
        if not np.isfinite(frames).all():
            raise AudioDecodeError(name, "contains NaN or Inf samples")
    else:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise AudioDecodeError(name, "expected an (array, rate) tuple")
            array, rate = item
            if isinstance(rate, float) and rate.is_integer():
                rate = int(rate)
            if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
                raise AudioDecodeError(name, f"sample rate must be a positive int, got {rate!r}")
            rate = int(rate)
        elif isinstance(item, np.ndarray):
            array, rate = item, sample_rate
        else:
            raise AudioDecodeError(
                name, "unsupported item: expected a path, bytes, an array or an (array, rate) tuple"
            )
        array = np.asarray(array)
        n = array.shape[0] if array.ndim == 1 else max(array.shape, default=0)
        if array.size and n / rate > max_seconds:
            raise AudioDecodeError(name, _too_long(n / rate, max_seconds))
        frames = _as_frames(array, name)  # (n, channels)
    if frames.shape[0] == 0 or frames.size == 0:
        raise AudioDecodeError(name, "empty: 0 samples")
    if frames.shape[0] / rate > max_seconds:
        raise AudioDecodeError(name, _too_long(frames.shape[0] / rate, max_seconds))
    channels = frames.shape[1]
    # The channel mean as a matrix-vector product: numpy's strided mean over a short axis is
    # ~10× slower, and decoding runs beside the model.
    wave = frames[:, 0] if channels == 1 else frames @ np.full(channels, 1 / channels, frames.dtype)
    if rate != sample_rate:
        signal = require("scipy.signal", "audio")
        g = math.gcd(rate, sample_rate)
        wave = signal.resample_poly(wave, sample_rate // g, rate // g)  # (n * up / down,)
    return np.clip(wave, -1.0, 1.0).astype(np.float32)  # (n,)


def _layout(wave: np.ndarray, sample_rate: int, window_s: float) -> tuple[int, int, int]:
    """``(n, window_len, n_windows)`` for a non-empty 1-D wave."""
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"expected a non-empty 1-D wave, got shape {wave.shape}")
    length = round(window_s * sample_rate)
    if length < 1:
        raise ValueError(f"window of {window_s} s at {sample_rate} Hz holds no sample")
    return wave.size, length, -(-wave.size // length)


def windows(wave: np.ndarray, *, sample_rate: int, window_s: float = 10.0) -> np.ndarray:
    """Cut a mono wave into consecutive, non-overlapping windows; never random.

    ``window_len = round(window_s * sample_rate)``. A clip shorter than one window becomes one
    window zero-padded at the end; a longer clip is split from its start, the last window
    zero-padded. Pool the window embeddings weighted by :func:`window_weights`.

    Args:
        wave: ``(n,)`` mono waveform, ``n >= 1``.
        sample_rate: the wave's rate, in Hz.
        window_s: window length in seconds (10 s by default).

    Returns:
        ``(n_windows, window_len)`` float32, ``n_windows = ceil(n / window_len)``.

    Example:
        >>> wave = np.ones(25, dtype=np.float32)
        >>> w = windows(wave, sample_rate=1, window_s=10)
        >>> w.shape, w[2].tolist()[:6]
        ((3, 10), [1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    """
    wave = np.asarray(wave)
    n, length, count = _layout(wave, sample_rate, window_s)
    out = np.zeros(count * length, dtype=np.float32)  # (n_windows * window_len,)
    out[:n] = wave
    return out.reshape(count, length)  # (n_windows, window_len)


def window_weights(wave: np.ndarray, *, sample_rate: int, window_s: float = 10.0) -> np.ndarray:
    """The fraction of real (unpadded) samples in each of :func:`windows`' windows.

    An encoder pools ``sum(weights[i] * emb[i]) / sum(weights)``, so a short last window counts
    for its real content only and never dominates the clip's embedding.

    Args:
        wave: ``(n,)`` mono waveform, ``n >= 1`` (only its length is used).
        sample_rate: the wave's rate, in Hz.
        window_s: window length in seconds, as given to :func:`windows`.

    Returns:
        ``(n_windows,)`` float32 in (0, 1]: 1 for full windows.

    Example:
        >>> window_weights(np.ones(25, dtype=np.float32), sample_rate=1, window_s=10).tolist()
        [1.0, 1.0, 0.5]
    """
    n, length, count = _layout(np.asarray(wave), sample_rate, window_s)
    real = np.full(count, length, dtype=np.int64)  # (n_windows,)
    real[-1] = n - (count - 1) * length
    return (real / length).astype(np.float32)  # (n_windows,)


def _decode_one(
    item: object, *, sample_rate: int, max_seconds: float
) -> tuple[np.ndarray | None, str | None]:
    """``(wave, None)`` or ``(None, reason)``; top-level so worker processes can run it."""
    try:
        return load_audio(item, sample_rate=sample_rate, max_seconds=max_seconds), None
    except AudioDecodeError as exc:
        return None, exc.reason
    except MissingDependencyError as exc:
        if _in_container(item):  # PyAV missing: this file only (the others may decode)
            return None, str(exc)
        raise
    except Exception as exc:  # a bad item must not stop the batch
        return None, f"{type(exc).__name__}: {exc}"


def load_audios(
    items: Iterable[object],
    *,
    sample_rate: int,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    workers: int = 0,
) -> DecodedAudio:
    """Decode many items like :func:`load_audio`, reporting bad ones instead of raising.

    Args:
        items: paths, bytes, arrays or ``(array, rate)`` tuples.
        sample_rate: the rate wanted, in Hz.
        max_seconds: longer clips are reported as failed.
        workers: ``0`` decodes here; ``> 0`` decodes in that many worker processes (order is
            kept either way).

    Returns:
        The good waves with their input positions, and the failures.

    Example:
        >>> good = np.zeros(160, dtype=np.float32)
        >>> out = load_audios([good, np.array([np.nan])], sample_rate=16000)
        >>> out.indices, out.failed[0].reason
        ((0,), 'contains NaN or Inf samples')
    """
    _check_rate(sample_rate)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be an int >= 0, got {workers!r}")
    items = list(items)
    decode = partial(_decode_one, sample_rate=sample_rate, max_seconds=max_seconds)
    if workers > 0 and len(items) > 1:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=ctx) as pool:
            results = list(pool.map(decode, items))
    else:
        results = [decode(item) for item in items]
    waves, indices, failed = [], [], []
    for index, (item, (wave, reason)) in enumerate(zip(items, results, strict=True)):
        if wave is None:
            failed.append(ItemProblem(index=index, item=_name(item), reason=reason))
        else:
            waves.append(wave)
            indices.append(index)
    return DecodedAudio(waves=tuple(waves), indices=tuple(indices), failed=tuple(failed))
