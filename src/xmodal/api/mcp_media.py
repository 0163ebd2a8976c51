"""What an agent sees of a stored item through MCP: an image's thumbnail, a video's keyframe, a
clip of a sound, as content blocks beside a tool's structured result.

``fetch_item`` on an image item adds an ``ImageContent``: the file decoded as the encoders
decode it (:func:`~xmodal.data.images.load_image`: EXIF orientation applied, transparency on
white, the served pixel limit ``max_image_pixels`` checked from the header), its longest side
cut to :data:`THUMB_SIDE` pixels (aspect kept), as PNG (a PNG, GIF, SVG, BMP or TIFF source)
or JPEG. On a video document or segment (payload modality ``"video"``, or a ``frame`` /
``soundtrack`` / ``subtitle`` segment) the block is the keyframe at the segment's middle (a
document: its first frame segment's middle, else t = 0), from
:func:`~xmodal.api.frames.video_frame`. On an audio item it is an ``AudioContent``: a WAV of at
most :data:`CLIP_SECONDS`, mono, :data:`CLIP_RATE` Hz, from a segment's ``t_start`` (else the
start). ``search`` with ``thumbnails=N`` adds the image of each of its first N image or video
hits, each after a line naming the hit. Text items get no block.

The file is always the one the index's manifest lists for the item's document
(:meth:`~xmodal.api.service.SearchService.media_path`), never a path from a payload. A file
that is gone, corrupt, over a limit or undecodable gives a text block naming the item and the
reason instead of the media (the structured result is still returned); any other exception is
a bug and is raised.

Example:
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (1024, 256), "red").save(buf, "PNG")
    >>> data, mime = image_thumbnail(buf.getvalue(), max_pixels=10**6)
    >>> mime, Image.open(io.BytesIO(data)).size
    ('image/png', (512, 128))
    >>> media_kind({"modality": "audio", "representation": "soundtrack"})
    'video'
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from xmodal.api.limits import error_status
from xmodal.index.segments import FRAME, SOUNDTRACK, SUBTITLE, document_of, segment_id

if TYPE_CHECKING:
    from PIL.Image import Image

    from xmodal.api.service import SearchService

__all__ = ["CLIP_RATE", "CLIP_SECONDS", "MAX_THUMBNAILS", "THUMB_SIDE", "audio_clip",
           "hit_blocks", "image_thumbnail", "item_blocks", "media_kind", "tool_result",
           "video_keyframe"]

THUMB_SIDE = 512
"""The longest side of a thumbnail or keyframe, in pixels (a smaller image is not enlarged)."""
CLIP_SECONDS = 30.0
"""The longest audio clip returned, in seconds."""
CLIP_RATE = 16_000
"""The sample rate of a returned clip, in Hz (mono, 16-bit WAV)."""
MAX_THUMBNAILS = 8
"""Most thumbnails one ``search`` may attach."""
JPEG_QUALITY = 85
_LOSSLESS = frozenset({".png", ".gif", ".svg", ".bmp", ".tif", ".tiff"})
_VIDEO_REPRESENTATIONS = frozenset({FRAME, SOUNDTRACK, SUBTITLE})

MediaKind = Literal["image", "audio", "video"]


def media_kind(record: Mapping[str, Any]) -> MediaKind | None:
    """What an item (its payload) or a hit shows as: ``"video"`` (a video document or any of
    its segments), ``"image"``, ``"audio"``, or None (text, unknown)."""
    modality = record.get("modality")
    if modality == "video" or record.get("representation") in _VIDEO_REPRESENTATIONS:
        return "video"
    return modality if modality in ("image", "audio") else None


# -- encoding ------------------------------------------------------------------------------
def _fit(image: Image, side: int) -> Image:
    """``image`` with its longest side at most ``side`` pixels, aspect kept."""
    from PIL import Image as PILImage

    if max(image.size) <= side:
        return image
    image = image.copy()
    image.thumbnail((side, side), PILImage.Resampling.LANCZOS)
    return image


def _encode(image: Image, *, lossless: bool) -> tuple[bytes, str]:
    """(bytes, MIME type) of an RGB image as PNG or JPEG."""
    buf = io.BytesIO()
    if lossless:
        image.save(buf, "PNG", optimize=True)
        return buf.getvalue(), "image/png"
    image.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue(), "image/jpeg"


def image_thumbnail(source: str | os.PathLike[str] | bytes, *, max_pixels: int,
                    side: int = THUMB_SIDE) -> tuple[bytes, str]:
    """A thumbnail of an image file: (PNG or JPEG bytes, MIME type).

    Args:
        source: The file (or its bytes: then always PNG).
        max_pixels: Larger images are refused from their header, before decoding.
        side: The longest side of the thumbnail, in pixels.

    Raises:
        ImageDecodeError: missing, corrupt, not an image, over ``max_pixels`` (names the file).
    """
    from xmodal.data.images import load_image

    image = load_image(source, max_pixels=max_pixels, svg_size=side)
    lossless = (isinstance(source, bytes)
                or os.path.splitext(os.fspath(source))[1].lower() in _LOSSLESS)
    return _encode(_fit(image, side), lossless=lossless)


def video_keyframe(path: str | os.PathLike[str], t: float, *, side: int = THUMB_SIDE) -> bytes:
    """The frame of a video shown at ``t`` seconds as JPEG, longest side at most ``side``
    (:func:`~xmodal.api.frames.video_frame` bounds the width; a tall frame is cut here)."""
    from PIL import Image as PILImage

    from xmodal.api.frames import video_frame

    jpeg = video_frame(path, t, width=side)
    with PILImage.open(io.BytesIO(jpeg)) as image:
        if max(image.size) <= side:
            return jpeg
        return _encode(_fit(image.convert("RGB"), side), lossless=False)[0]


def _read_span(path: str | os.PathLike[str], start_s: float,
               seconds: float) -> tuple[np.ndarray, int]:
    """(mono samples, rate) of ``seconds`` of a file from ``start_s``: libsndfile seeks there;
    a container (``.m4a``, a soundtrack…) is decoded whole, at :data:`CLIP_RATE`, and cut."""
    from xmodal._optional import require
    from xmodal.data.audio import AudioDecodeError, load_audio
    from xmodal.data.audio_containers import decodes_with_pyav
    from xmodal.data.video import item_name

    if decodes_with_pyav(path):
        from xmodal.index.segment_ingest import LONG_RECORDING_MAX_S

        wave = load_audio(os.fspath(path), sample_rate=CLIP_RATE,
                          max_seconds=LONG_RECORDING_MAX_S)
        a = round(start_s * CLIP_RATE)
        return wave[a: a + round(seconds * CLIP_RATE)], CLIP_RATE
    sf = require("soundfile", "audio")
    try:
        with sf.SoundFile(os.fspath(path)) as f:
            rate = int(f.samplerate)
            if rate <= 0:
                raise AudioDecodeError(item_name(path), f"truncated or corrupt: rate {rate}")
            f.seek(min(round(start_s * rate), f.frames))
            frames = f.read(round(seconds * rate), dtype="float32", always_2d=True)  # (n, ch)
    except (sf.LibsndfileError, RuntimeError, EOFError) as exc:
        msg = getattr(exc, "error_string", None) or str(exc)
        raise AudioDecodeError(item_name(path), f"not decodable: {msg}") from exc
    return frames.mean(axis=1), rate  # (n,)


def audio_clip(path: str | os.PathLike[str], *, start_s: float = 0.0,
               seconds: float = CLIP_SECONDS) -> bytes:
    """A mono 16-bit WAV at :data:`CLIP_RATE` of at most ``seconds`` of an audio file, from
    ``start_s`` (resampled and checked as the encoders' audio is:
    :func:`~xmodal.data.audio.load_audio`).

    Raises:
        AudioDecodeError: missing, corrupt, not audio, or nothing at ``start_s`` (names the
            file).
    """
    from xmodal._optional import require
    from xmodal.data.audio import AudioDecodeError, load_audio
    from xmodal.data.video import item_name

    if not (math.isfinite(start_s) and start_s >= 0):
        raise AudioDecodeError(item_name(path), f"bad start time {start_s!r}")
    span, rate = _read_span(path, start_s, seconds)
    if span.size == 0:
        raise AudioDecodeError(item_name(path), f"no sound at or after {start_s:g} s")
    wave = load_audio((span, rate), sample_rate=CLIP_RATE, max_seconds=seconds + 1.0)
    sf = require("soundfile", "audio")
    buf = io.BytesIO()
    sf.write(buf, wave, CLIP_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# -- content blocks ------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _middle(record: Mapping[str, Any] | None) -> float | None:
    """The middle of ``record``'s ``t_start`` / ``t_end``, None without both."""
    a, b = (None, None) if record is None else (_number(record.get("t_start")),
                                                _number(record.get("t_end")))
    return None if a is None or b is None else (a + b) / 2


def video_time(service: SearchService, collection: str, doc: str,
               record: Mapping[str, Any]) -> float:
    """When to show a video item or hit: the middle of its span, else of its document's first
    frame segment (looked up in ``collection``, then the image collections), else 0."""
    t = _middle(record)
    if t is not None:
        return t
    first = segment_id(doc, FRAME, 0)
    names = [collection] + [c["name"] for c in service.collections()
                            if c["modality"] == "image" and c["name"] != collection]
    for name in names:
        got = service.get(name, [first])[0]
        if got is not None and (t := _middle(got["payload"])) is not None:
            return t
    return 0.0


def _media_block(service: SearchService, kind: MediaKind, collection: str, doc: str,
                 record: Mapping[str, Any]) -> Any:
    """The ImageContent / AudioContent of document ``doc`` (``record``: its payload or hit)."""
    from mcp_types import AudioContent, ImageContent

    path = service.media_path(doc)
    if kind == "audio":
        start = _number(record.get("t_start")) or 0.0
        seconds = min(CLIP_SECONDS, service.limits.max_audio_seconds)
        data = audio_clip(path, start_s=start, seconds=seconds)
        return AudioContent(data=base64.b64encode(data).decode(), mime_type="audio/wav")
    if kind == "video":
        data = video_keyframe(path, video_time(service, collection, doc, record))
        mime = "image/jpeg"
    else:
        data, mime = image_thumbnail(path, max_pixels=service.limits.max_image_pixels)
    return ImageContent(data=base64.b64encode(data).decode(), mime_type=mime)


def _blocks(service: SearchService, kind: MediaKind, collection: str, id: str, doc: str,
            record: Mapping[str, Any]) -> list[Any]:
    """[the media block], or [a text block naming the item and why there is none]."""
    from mcp_types import TextContent

    try:
        return [_media_block(service, kind, collection, doc, record)]
    except Exception as exc:
        if error_status(exc) is None and not isinstance(exc, OSError):
            raise  # a bug, not a file that cannot be shown
        what = "clip" if kind == "audio" else "image"
        return [TextContent(text=f"no {what} of item {id} in {collection}: {exc}")]


def item_blocks(service: SearchService, collection: str, id: str,
                payload: Mapping[str, Any]) -> list[Any]:
    """The media blocks of one stored item (``fetch_item``): none for text."""
    kind = media_kind(payload)
    if kind is None:
        return []
    return _blocks(service, kind, collection, id, document_of(id, payload), payload)


def hit_blocks(service: SearchService, hits: Sequence[Mapping[str, Any]], n: int) -> list[Any]:
    """A line naming the hit, then its image, for the first ``n`` image or video hits."""
    from mcp_types import TextContent

    out: list[Any] = []
    shown = [h for h in hits if media_kind(h) in ("image", "video")][:n]
    for hit in shown:
        kind = media_kind(hit)
        assert kind is not None
        name = os.path.basename(str(hit.get("path") or ""))
        out.append(TextContent(text=f"hit {hit['rank']}: {hit['id']} {name}".rstrip()))
        out += _blocks(service, kind, hit["collection"], hit["id"], hit["document_id"], hit)
    return out


def tool_result(structured: Mapping[str, Any], blocks: Sequence[Any]) -> Any:
    """A ``CallToolResult``: the JSON text the SDK would write for ``structured``, then
    ``blocks``, with ``structured`` as the structured content."""
    import pydantic_core
    from mcp_types import CallToolResult, TextContent

    text = pydantic_core.to_json(structured, fallback=str, indent=2).decode()
    return CallToolResult(content=[TextContent(text=text), *blocks],
                          structured_content=dict(structured))
