"""Document metadata: the keys every file gets automatically, the user's (a side-car
``NAME.json``, extra keys of a ``captions.jsonl`` entry), their validation, and the split of a
stored payload into system keys and metadata.

Metadata is stored flat in each point's payload, beside the system keys (:data:`SYSTEM_KEYS`,
never overwritten), on every representation of the document (its item, its caption), so a
filter sees the same keys in every collection. Precedence: automatic < ``captions.jsonl`` <
side-car. Automatic keys (documented in README):

- every file: ``folder`` (relative to the indexed root, ``"."`` for the root itself), ``ext``
  (lower case, no dot), ``size_bytes``, ``mtime`` (``"2026-12-06T08:00:00Z"``, UTC);
- images: ``width``, ``height`` (from the header, no full decode; SVG: none), ``taken_at``
  (EXIF DateTimeOriginal, ISO-8601, UTC when the EXIF offset is given, else the camera's
  local time written without an offset);
- audio: ``duration_s`` (from the header, via soundfile: WAV, FLAC, OGG, MP3; via PyAV for
  what it decodes: M4A, AAC, Opus, sound in a video container);
- video: ``width``, ``height``, ``duration_s`` (from the container's header, via PyAV:
  :func:`xmodal.data.video.probe_video`; an audio-only container has no size).

A user value of an automatic key must have its type (``mtime`` a datetime string, ``width`` a
number…): filters and payload indexes rely on one type per key. A bad side-car (not JSON, not
an object, a bad key or value, too big) is reported and left out: the file is indexed with its
automatic metadata (and its ``captions.jsonl`` keys), never dropped.

Example:
    >>> check_metadata({"tags": ["a", "b"], "rating": 4}, "x.json")
    {'tags': ['a', 'b'], 'rating': 4}
    >>> check_metadata({"path": "elsewhere"}, "x.json")
    Traceback (most recent call last):
    ...
    xmodal.index.metadata.MetadataError: x.json: key 'path' is a system key (path, modality, \
sha256, representation, caption, _id, _words, document_id, t_start, t_end, segment)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from xmodal.index.filters import KEY_PATTERN, parse_datetime
from xmodal.index.segments import SEGMENT_KEYS

__all__ = ["AUTOMATIC_KEYS", "PROBES", "SYSTEM_KEYS", "MetadataError", "automatic_metadata",
           "check_metadata", "document_metadata", "document_payload", "metadata_digest",
           "payload_metadata"]

SYSTEM_KEYS = ("path", "modality", "sha256", "representation", "caption", "_id", "_words",
               *SEGMENT_KEYS)
"""Payload keys xmodal owns; metadata never sets them (the segment keys: a time segment's
document and span, :mod:`xmodal.index.segments`)."""
AUTOMATIC_KEYS: Mapping[str, str] = {
    "folder": "str", "ext": "str", "size_bytes": "number", "mtime": "datetime",
    "width": "number", "height": "number", "duration_s": "number", "taken_at": "datetime"}
"""The automatic keys and the type a user value of one must have."""
MAX_KEYS = 64
"""Metadata keys per document."""
MAX_STRING = 1000
"""Characters per string value."""
MAX_LIST = 100
"""Elements per list value."""
MAX_BYTES = 16_384
"""A document's metadata as compact JSON, in bytes."""
MAX_SIDECAR_BYTES = 65_536
"""A side-car ``NAME.json`` larger than this is not read."""


class MetadataError(ValueError):
    """Unusable metadata; the message names the source and the key."""


def _scalar_type(v: Any) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int) or (isinstance(v, float) and math.isfinite(v)):
        return "number"
    if isinstance(v, str):
        return "str"
    return "null" if v is None else None


def check_metadata(obj: Any, source: str) -> dict[str, Any]:
    """Validate user metadata: an object of scalars and lists of one scalar type.

    Args:
        obj: The decoded JSON.
        source: What it came from, for messages (a side-car's name).

    Returns:
        The metadata as a new dict.

    Raises:
        MetadataError: Not an object, a bad or system key, a value of another type (a nested
            object, a non-finite float, a list mixing types), over a size limit.
    """
    if not isinstance(obj, Mapping):
        raise MetadataError(f"{source}: expected a JSON object, got {type(obj).__name__}")
    if len(obj) > MAX_KEYS:
        raise MetadataError(f"{source}: {len(obj)} keys, the limit is {MAX_KEYS}")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in SYSTEM_KEYS:
            raise MetadataError(f"{source}: key {key!r} is a system key "
                                f"({', '.join(SYSTEM_KEYS)})")
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise MetadataError(f"{source}: key {key!r} is not a valid name (letters, digits, "
                                "_ and -, starting with a letter or _, at most 64)")
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > MAX_LIST:
            raise MetadataError(f"{source}: key {key!r}: {len(value)} elements, the limit is "
                                f"{MAX_LIST}")
        kinds = {_scalar_type(v) for v in items}
        if None in kinds or (isinstance(value, list) and ("null" in kinds or len(kinds) > 1)):
            raise MetadataError(f"{source}: key {key!r}: {value!r:.80} is not a string, number "
                                "(finite), boolean, null or a list of one of those types")
        for v in items:
            if isinstance(v, str) and len(v) > MAX_STRING:
                raise MetadataError(f"{source}: key {key!r}: a string of {len(v)} characters, "
                                    f"the limit is {MAX_STRING}")
        want = AUTOMATIC_KEYS.get(key)
        if want and value is not None and not all(
                _scalar_type(v) == ("str" if want == "datetime" else want)
                and (want != "datetime" or parse_datetime(v) is not None) for v in items):
            raise MetadataError(f"{source}: key {key!r} is automatic: its value must be a "
                                f"{want}, got {value!r:.80}")
        out[key] = list(value) if isinstance(value, list) else value
    size = len(json.dumps(out, separators=(",", ":")).encode())
    if size > MAX_BYTES:
        raise MetadataError(f"{source}: {size:,} bytes of metadata, the limit is {MAX_BYTES:,}")
    return out


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _image_keys(path: Path) -> dict[str, Any]:
    """``width``, ``height`` from the header, and EXIF ``taken_at`` (no full decode)."""
    from PIL import Image

    out: dict[str, Any] = {}
    with Image.open(path) as img:  # lazy: reads the header only
        out["width"], out["height"] = int(img.size[0]), int(img.size[1])
        exif = img.getexif().get_ifd(0x8769)  # the Exif IFD
    taken = exif.get(0x9003)  # DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"
    if isinstance(taken, str) and len(taken) >= 19:
        try:
            dt = datetime.strptime(taken[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            return out
        offset = exif.get(0x9011)  # OffsetTimeOriginal, "+01:00"
        if isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-":
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            out["taken_at"] = _iso(dt.replace(tzinfo=timezone(
                delta if offset[0] == "+" else -delta)))
        else:
            out["taken_at"] = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out


def _audio_keys(path: Path) -> dict[str, Any]:
    """``duration_s`` from the header (the audio loader's decoder: soundfile, or PyAV)."""
    import soundfile

    from xmodal.data.audio_containers import decodes_with_pyav, header_seconds

    if decodes_with_pyav(path):
        seconds = header_seconds(path)
        return {} if seconds is None else {"duration_s": round(seconds, 3)}
    info = soundfile.info(str(path))
    return {"duration_s": round(float(info.frames) / float(info.samplerate), 3)}


def _video_keys(path: Path) -> dict[str, Any]:
    """``width``, ``height`` and ``duration_s`` from the container's header (no decoding)."""
    from xmodal.data.video import probe_video

    info = probe_video(path)
    out: dict[str, Any] = {}
    if info.width and info.height:
        out["width"], out["height"] = int(info.width), int(info.height)
    if math.isfinite(info.duration_s):
        out["duration_s"] = round(float(info.duration_s), 3)
    return out


PROBES: dict[str, Callable[[Path], dict[str, Any]]] = {"image": _image_keys,
                                                       "audio": _audio_keys,
                                                       "video": _video_keys}
"""Header readers per document kind (a failure leaves their keys out; decoding reports the
file)."""


def automatic_metadata(path: Path, modality: str, folder: str | None = None) -> dict[str, Any]:
    """The automatic keys of one file (see the module docstring).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "Notes.MD"
        >>> _ = p.write_text("hi")
        >>> m = automatic_metadata(p, "text", folder=".")
        >>> m["folder"], m["ext"], m["size_bytes"], m["mtime"].endswith("Z")
        ('.', 'md', 2, True)
    """
    st = os.stat(path, follow_symlinks=False)
    out: dict[str, Any] = {} if folder is None else {"folder": folder}
    out |= {"ext": path.suffix.lower().lstrip("."), "size_bytes": int(st.st_size),
            "mtime": _iso(datetime.fromtimestamp(st.st_mtime, UTC))}
    probe = PROBES.get(modality)
    if probe is not None and path.suffix.lower() != ".svg":
        # an unreadable header only loses these keys: decoding the file reports the problem
        with contextlib.suppress(Exception):
            out |= probe(path)
    return out


def document_metadata(file: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A corpus file's metadata: automatic < its ``captions.jsonl`` keys < its side-car.

    Args:
        file: A :class:`~xmodal.data.corpus.CorpusFile`.

    Returns:
        The metadata, and the problems as ``(item, reason)``: a bad side-car or entry is left
        out (the file keeps the rest) and reported.
    """
    from xmodal.data.corpus import read_side_car

    meta = automatic_metadata(file.path, file.modality, file.folder)
    problems: list[tuple[str, str]] = []
    if file.extra:
        try:
            meta |= check_metadata(file.extra, f"captions.jsonl entry of {file.path.name}")
        except MetadataError as exc:
            problems.append((str(file.path), f"metadata not used: {exc}"))
    if file.sidecar is not None:
        where = file.sidecar.name
        try:
            text = read_side_car(file.sidecar, MAX_SIDECAR_BYTES)
            if text is not None:
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise MetadataError(f"{where}: not JSON ({exc.msg}, line {exc.lineno})") \
                        from None
                meta |= check_metadata(obj, where)
        except (MetadataError, OSError, ValueError) as exc:
            problems.append((str(file.sidecar), f"side-car not used ({file.path.name} is "
                             f"indexed with its other metadata): {exc}"))
    return meta, problems


def document_payload(file: Any, modality: str, representation: str,
                     meta: Mapping[str, Any]) -> dict[str, Any]:
    """A stored payload: the system keys, then the document's metadata (flat). ``file`` is a
    :class:`~xmodal.data.corpus.CorpusFile` (its ``path``, ``sha256`` and ``caption``).

    Example:
        >>> from types import SimpleNamespace
        >>> f = SimpleNamespace(path="/a.png", sha256="ab", caption=None)
        >>> document_payload(f, "image", "image", {"ext": "png"})["ext"]
        'png'
    """
    return {"path": str(file.path), "modality": modality, "sha256": file.sha256,
            "representation": representation, "caption": file.caption, **meta}


def metadata_digest(meta: Mapping[str, Any]) -> str:
    """A short digest of metadata (the manifest compares it to see a change)."""
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def payload_metadata(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A stored payload minus the system keys: what a hit shows as ``"metadata"``.

    Example:
        >>> payload_metadata({"path": "/a.png", "modality": "image", "ext": "png"})
        {'ext': 'png'}
    """
    return {k: v for k, v in payload.items() if k not in SYSTEM_KEYS}
