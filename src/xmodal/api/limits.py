"""Limits of the served API and the typed refusals every front end (HTTP, MCP) maps the same way.

Every check runs *before* any model or store sees the input: a request that is too large, too
long, or malformed is refused with a message naming the problem, never answered with a 500.

Example:
    >>> limits = ServeLimits(max_k=20)
    >>> check_k(5, limits)
    5
    >>> check_k(50, limits)
    Traceback (most recent call last):
    ...
    xmodal.api.limits.BadInput: k must be in [1, 20], got 50
    >>> error_status(InputTooLarge("too big"))
    (413, 'too_large')
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xmodal._optional import MissingDependencyError
from xmodal.index.filters import FilterError
from xmodal.index.types import (
    CollectionMismatchError,
    CollectionNotFoundError,
    DuplicateIdError,
    VectorError,
)

MiB = 1024 * 1024


def _default_concurrency() -> int:
    return 2 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeLimits:
    """What one request may ask for (the defaults suit a laptop serving a few people).

    Attributes:
        max_body_bytes: Largest request body (uploads included), in bytes.
        max_image_pixels: Largest image (width × height) decoded: a decompression bomb (a tiny
            PNG of 10,000 × 10,000 pixels) is refused from its header, before decoding. The
            service's encoders decode under the same limit (:func:`pixel_limited`).
        max_audio_seconds: Longest audio clip accepted as a query.
        max_text_chars: Longest text query, in characters.
        max_k: Most hits one search may ask for.
        max_concurrency: Requests doing work at once; more are refused (429), not queued.
        request_timeout_s: Seconds a request may work before it is answered 504.
        index_timeout_s: Seconds a ``POST /index`` may work before it is answered 504 (the
            ingest then finishes in the background, still holding its slot).
        max_media_streams: Stored files (``/media``) served at once, apart from the work
            slots; more wait briefly in a queue of their own (:mod:`xmodal.api.media`).
    """

    max_body_bytes: int = 25 * MiB
    max_image_pixels: int = 40_000_000
    max_audio_seconds: float = 600.0
    max_text_chars: int = 2000
    max_k: int = 100
    max_concurrency: int = field(default_factory=_default_concurrency)
    request_timeout_s: float = 30.0
    index_timeout_s: float = 600.0
    max_media_streams: int = 32


class ServiceError(Exception):
    """Base of the service's own refusals; ``status`` is the HTTP status a front end answers."""

    status = 500
    code = "error"


class BadInput(ServiceError, ValueError):
    """Malformed or out-of-range input (422)."""

    status, code = 422, "bad_input"


class InputTooLarge(ServiceError, ValueError):
    """A body, image, clip or batch above its limit (413)."""

    status, code = 413, "too_large"


class NotFound(ServiceError, KeyError):
    """No such item or media file (404)."""

    status, code = 404, "not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReadOnly(ServiceError, PermissionError):
    """A write to a service started read-only (403)."""

    status, code = 403, "read_only"


class IndexingDisabled(ServiceError, PermissionError):
    """Folder indexing asked of a service started without an index root (403)."""

    status, code = 403, "indexing_disabled"


class Overloaded(ServiceError):
    """Every work slot is busy (429); retry after ``retry_after`` seconds."""

    status, code = 429, "overloaded"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkTimeout(ServiceError):
    """A call that outlived its timeout (504); one already running finishes in the background."""

    status, code = 504, "timeout"


def error_status(exc: BaseException) -> tuple[int, str] | None:
    """The (HTTP status, error code) of an expected refusal; None for a real bug.

    Order matters: the specific index errors come before their ``ValueError`` / ``KeyError``
    bases.
    """
    if isinstance(exc, ServiceError):
        return exc.status, exc.code
    if isinstance(exc, CollectionNotFoundError):
        return 404, "collection_not_found"
    if isinstance(exc, CollectionMismatchError):
        return 409, "collection_mismatch"
    if isinstance(exc, VectorError):
        return 422, "bad_vector"
    if isinstance(exc, DuplicateIdError):
        return 422, "duplicate_id"
    if isinstance(exc, FilterError):
        return 422, "bad_filter"
    if isinstance(exc, MissingDependencyError):  # before ValueError: it is an ImportError
        return 501, "missing_dependency"
    if isinstance(exc, ValueError):
        return 422, "bad_input"
    return None


def check_k(k: int, limits: ServeLimits) -> int:
    """``k`` if it is in [1, max_k], else :class:`BadInput`."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limits.max_k:
        raise BadInput(f"k must be in [1, {limits.max_k}], got {k!r}")
    return k


def check_text(text: str, limits: ServeLimits) -> str:
    """A non-blank text query of at most ``max_text_chars`` characters."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput("the text query is empty")
    if len(text) > limits.max_text_chars:
        raise InputTooLarge(f"the text query has {len(text)} characters; the limit is "
                            f"{limits.max_text_chars}")
    return text


def check_vector(vector: Sequence[float], dim: int, *, what: str = "vector") -> np.ndarray:
    """A finite, non-zero vector of length ``dim``, returned L2-normalised as float32 (dim,).

    Raises:
        VectorError: wrong length, NaN/Inf (also values beyond float range, like 1e400),
            or all zeros.
    """
    try:
        v = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise VectorError(f"{what} must be a list of numbers") from exc
    if v.ndim != 1 or v.shape[0] != dim:
        raise VectorError(f"{what} has dimension {v.shape[0] if v.ndim == 1 else v.shape}; "
                          f"the collection's is {dim}")
    if not np.isfinite(v).all():
        raise VectorError(f"{what} holds NaN or infinite values")
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise VectorError(f"{what} is all zeros (or its norm overflows)")
    return (v / norm).astype(np.float32)


def check_upload(data: bytes, limits: ServeLimits) -> bytes:
    """Non-empty bytes of at most ``max_body_bytes``."""
    if not data:
        raise BadInput("the uploaded file is empty")
    if len(data) > limits.max_body_bytes:
        raise InputTooLarge(f"the upload has {len(data)} bytes; the limit is "
                            f"{limits.max_body_bytes}")
    return data


def check_image(data: bytes, limits: ServeLimits) -> tuple[int, int]:
    """(width, height) of an image read from its header only; refuses bombs and non-images."""
    from PIL import Image, UnidentifiedImageError

    check_upload(data, limits)
    try:
        with warnings.catch_warnings():  # we judge the size ourselves, below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:  # lazy: reads the header only
                width, height = img.size
    except Image.DecompressionBombError as exc:
        raise InputTooLarge(f"the image is a decompression bomb ({exc}); the limit is "
                            f"{limits.max_image_pixels} pixels") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BadInput(f"not a decodable image ({type(exc).__name__}: {exc})") from exc
    if width * height > limits.max_image_pixels:
        raise InputTooLarge(f"the image has {width} × {height} = {width * height} pixels; the "
                            f"limit is {limits.max_image_pixels} (a decompression bomb?)")
    return width, height


def pixel_limited(load: Callable[[str], Any] | None, limits: ServeLimits
                  ) -> Callable[[str], Any]:
    """A model loader whose encoders decode images under ``limits.max_image_pixels``.

    The limit :func:`check_image` applies to an upload's header is then the decoder's too
    (``EncoderBase.max_pixels``), for image queries and for the files ``POST /index`` reads;
    a limit above the decoder's default (50 MP) takes effect instead of being capped by it.

    Args:
        load: Loads an encoder from a model name (None: :func:`xmodal.encoders.load_encoder`).
        limits: The served limits.

    Example:
        >>> class Toy:
        ...     max_pixels = 50_000_000
        >>> pixel_limited(lambda name: Toy(), ServeLimits())("toy").max_pixels
        40000000
    """

    def load_limited(name: str) -> Any:
        if load is None:
            from xmodal.encoders import load_encoder  # torch: only when a model is needed

            encoder = load_encoder(name)
        else:
            encoder = load(name)
        if hasattr(encoder, "max_pixels"):  # an encoder that decodes images
            encoder.max_pixels = limits.max_image_pixels
        return encoder

    return load_limited


def check_audio(data: bytes, limits: ServeLimits) -> float:
    """Duration in seconds of an audio clip read from its header; refuses long or bad clips."""
    import soundfile

    check_upload(data, limits)
    try:
        info = soundfile.info(io.BytesIO(data))
    except (RuntimeError, TypeError, ValueError, soundfile.LibsndfileError) as exc:
        raise BadInput(f"not a decodable audio file ({exc})") from exc
    seconds = float(info.frames) / float(info.samplerate or 1)
    if not math.isfinite(seconds) or seconds > limits.max_audio_seconds:
        raise InputTooLarge(f"the clip lasts {seconds:.1f} s; the limit is "
                            f"{limits.max_audio_seconds:g} s")
    if info.frames <= 0:
        raise BadInput("the audio clip is empty")
    return seconds


def guess_modality(data: bytes, *, content_type: str | None = None,
                   filename: str | None = None) -> str:
    """"image" or "audio" for an upload: its content type, else its extension, else its bytes."""
    import mimetypes

    for kind in (content_type or "", mimetypes.guess_type(filename or "")[0] or ""):
        major = kind.split("/", 1)[0].lower()
        if major in ("image", "audio"):
            return major
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)):
            return "image"
    except Exception:  # not an image: try audio
        pass
    import soundfile

    try:
        soundfile.info(io.BytesIO(data))
        return "audio"
    except Exception as exc:
        raise BadInput("cannot tell whether the upload is an image or audio: give "
                       "modality=image or modality=audio") from exc
