"""What to index: the files under some folders (or the demo datasets), each with its modality,
its side-car caption, and the content hash that keys it.

A folder holds images (``.png .jpg .jpeg .webp .gif .bmp .svg``), audio (``.wav .flac .ogg
.oga .mp3 .m4a .opus .aac``), videos (``.mp4 .mkv .webm .mov .avi .ogv``: documents of kind
``"video"``; one whose header holds sound and no video stream, read with PyAV when installed,
is an ``"audio"`` document) and text documents (``.txt .md .rst``). A ``.txt`` file whose
stem is also a media file's (``dog.png`` + ``dog.txt``) is that file's caption, not a
document; so is a caption in a ``captions.jsonl`` (``{"file": "dog.png", "caption": "..."}``
per line) in the same folder. A ``NAME.srt`` / ``NAME.vtt`` beside a video is its subtitles
(read when it is decoded, not a document); its bytes are part of the video's content key
(``sha256``), so an edited side-car re-indexes the video.
Everything else is *skipped with its reason*: a scan never stops at one bad file.

A scan never leaves its roots:

- Symbolic links inside a folder (to files or folders, inside or outside the root) are not
  followed: each is reported as ``"symbolic link (not followed)"``. A symlinked side-car caption
  or ``captions.jsonl`` is not read. A ``captions.jsonl`` entry naming anything but a plain
  file name in its folder (``"../outside.png"``, ``"sub/x.png"``) is ignored and reported.
- A path given by the caller (a root folder or a single file) *is* resolved once, symlink or
  not: the caller named it. Everything found below it must stay under that resolved root.
- Only regular files are opened, with ``O_NOFOLLOW | O_NONBLOCK`` and checked again with
  ``fstat``, so a FIFO, socket or device (or a file swapped for one) is reported, never opened
  for reading (opening a FIFO would block forever).
- Hidden names (starting with ``.``) are left out silently, like ``.git`` or ``.DS_Store``.
- Reported: unreadable files and folders, empty files, files over the size limits, unsupported
  extensions, and text documents holding NUL bytes (binary data named ``.txt``).

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "dog.wav").write_bytes(b"RIFF...")  # not decoded here, only hashed
    >>> _ = (root / "dog.txt").write_text("a dog barking")
    >>> _ = (root / "notes.md").write_text("# Dogs bark")
    >>> _ = (root / "data.bin").write_bytes(b"x")
    >>> scan = scan_corpus([root])
    >>> [(f.path.name, f.modality, f.caption) for f in scan.files]
    [('dog.wav', 'audio', 'a dog barking'), ('notes.md', 'text', None)]
    >>> scan.skipped[0].reason
    'unsupported file type .bin'
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xmodal.modalities import DocumentKind

from .content_keys import KnownFile, content_key, file_sha256
from .problems import ItemProblem
from .regular_files import (
    MAX_CAPTION_BYTES,
    SYMLINK,
    Refused,
    file_kind,
    read_side_car,
    read_small,
)

__all__ = ["AUDIO_EXTENSIONS", "CAPTIONS_FILE", "IMAGE_EXTENSIONS", "MAX_CAPTION_BYTES",
           "MAX_MEDIA_BYTES", "MAX_TEXT_BYTES", "MAX_VIDEO_BYTES", "METADATA_SUFFIX", "SYMLINK",
           "TEXT_EXTENSIONS", "VIDEO_EXTENSIONS", "CorpusFile", "CorpusScan", "KnownFile",
           "file_kind", "file_sha256", "modality_of", "read_side_car", "scan_corpus"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".svg"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".opus", ".aac"})
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".rst"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".ogv"})
"""As :data:`xmodal.data.video.VIDEO_EXTENSIONS` (a test keeps them equal)."""
SUBTITLE_EXTENSIONS = (".srt", ".vtt")
"""A ``NAME.srt`` / ``NAME.vtt`` beside a video is its subtitles (the ``.srt`` wins)."""
CAPTIONS_FILE = "captions.jsonl"
METADATA_SUFFIX = ".json"
"""A ``NAME.json`` beside an indexed ``NAME.ext`` is its metadata side-car (never a document)."""
MAX_TEXT_BYTES = 1_000_000
"""Text documents larger than this are skipped (the encoders truncate far below it anyway)."""
MAX_MEDIA_BYTES = 1 << 30
"""Image and audio files larger than this (1 GiB) are skipped (decoders refuse far less)."""
MAX_VIDEO_BYTES = 8 << 30
"""Videos larger than this (8 GiB, :class:`xmodal.data.video.VideoLimits`) are skipped."""


@dataclass(frozen=True)
class CorpusFile:
    """One file to index."""

    path: Path  # absolute path
    modality: DocumentKind  # a video is a kind of document, not an embedding modality
    sha256: str  # of the file's bytes (a video's: and its subtitle side-car's): the content key
    caption: str | None = None  # side-car caption of an image or audio file
    folder: str | None = None  # the file's folder relative to the scanned root ("." for it)
    extra: dict[str, Any] | None = field(default=None, compare=False)  # extra keys of its
    #                                      captions.jsonl entry (unchecked; not hashed)
    sidecar: Path | None = None  # its metadata side-car NAME.json, when there is one
    stat: tuple[int, int] | None = field(default=None, compare=False)  # (size, mtime_ns) a
    #   later scan may trust sha256 by (None: a video, or modified just before it was read)


@dataclass(frozen=True)
class CorpusScan:
    """The result of :func:`scan_corpus`: the files to index and the ones skipped, with why."""

    files: tuple[CorpusFile, ...]
    skipped: tuple[ItemProblem, ...]

    def by_modality(self, modality: DocumentKind) -> list[CorpusFile]:
        """The files of one modality, in scan order."""
        return [f for f in self.files if f.modality == modality]




def modality_of(path: Path) -> DocumentKind | None:
    """The document kind a file extension stands for, or None."""
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in TEXT_EXTENSIONS:
        return "text"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None




@dataclass
class _Scan:
    files: list[CorpusFile] = field(default_factory=list)
    skipped: list[ItemProblem] = field(default_factory=list)
    listings: dict[Path, dict[str, tuple[str | None, dict[str, Any]]] | Refused | None] = field(
        default_factory=dict)
    known: Mapping[str, KnownFile] = field(default_factory=dict)  # path -> recorded key
    names: dict[Path, frozenset[str]] = field(default_factory=dict)  # a folder's entries, as
    #   the walk listed them: side-cars are looked up there, not with one lstat each (43/file)

    def exists(self, path: Path) -> bool:
        """Whether ``path`` exists (not followed), from its folder's listing when walked."""
        names = self.names.get(path.parent)
        return path.name in names if names is not None else os.path.lexists(path)

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append(ItemProblem(index=len(self.files) + len(self.skipped),
                                        item=str(path), reason=reason))


def scan_corpus(paths: Sequence[str | os.PathLike[str]], *,
                known: Mapping[str, KnownFile] | None = None) -> CorpusScan:
    """Walk files and folders (recursively, sorted, never leaving a root; see the module doc).

    Args:
        paths: Files or folders. Each is resolved once (a symlinked root is followed, because
            the caller named it); nothing below it is reached through a symlink.
        known: ``(size, mtime_ns, sha256)`` recorded per absolute path by an earlier scan
            (:func:`xmodal.index.manifest.known_files`): a file (not a video) whose size and
            mtime are unchanged keeps that sha256 and is not read
            (:mod:`xmodal.data.content_keys`).

    Returns:
        The files to index (images and audio with their side-car captions, text documents) and
        the skipped ones with their reasons.

    Raises:
        FileNotFoundError: A given path does not exist (a file missing *inside* a folder while
            scanning is skipped and reported instead).
    """
    scan = _Scan(known=known or {})
    seen: set[Path] = set()
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise FileNotFoundError(f"no such file or folder: {str(root)!r}")
        root = root.resolve()
        if root.is_dir():
            candidates: Iterator[Path] = _walk(root, scan)
        else:
            candidates = iter([root])
        for path in candidates:
            if path in seen:
                continue
            seen.add(path)
            _scan_one(path, root, scan)
    return CorpusScan(files=tuple(scan.files), skipped=tuple(scan.skipped))


def _walk(folder: Path, scan: _Scan) -> Iterator[Path]:
    """Regular files under ``folder``, sorted, without following symlinks; reports the rest."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        scan.names[folder] = frozenset(e.name for e in entries)
    except OSError as exc:
        scan.skip(folder, f"unreadable folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            scan.skip(path, f"unreadable: {exc.strerror or exc}")
            continue
        if stat.S_ISLNK(mode):
            if entry.name != CAPTIONS_FILE and not _is_side_car(path, scan):
                scan.skip(path, SYMLINK)
            elif entry.name == CAPTIONS_FILE:
                scan.skip(path, f"{SYMLINK}: captions not read")
            else:
                scan.skip(path, f"{SYMLINK}: caption not read")
        elif stat.S_ISDIR(mode):
            yield from _walk(path, scan)
        elif stat.S_ISREG(mode):
            yield path
        else:
            scan.skip(path, f"not a regular file ({file_kind(mode)}): not opened")


def _is_side_car(path: Path, scan: _Scan) -> bool:
    return path.suffix.lower() == ".txt" and _media_sibling(path, scan)


def _scan_one(path: Path, root: Path, scan: _Scan) -> None:
    if path.name == CAPTIONS_FILE:
        return
    if path != root and not path.is_relative_to(root):
        scan.skip(path, f"outside the root {root}: not read")
        return
    modality = modality_of(path)
    if modality == "text" and path.suffix.lower() == ".txt" and _media_sibling(path, scan):
        return  # a side-car caption, read with its media file
    if (modality is None and path.suffix.lower() == METADATA_SUFFIX
            and _indexed_sibling(path, scan)):
        return  # a metadata side-car, read with its file
    if path.suffix.lower() in SUBTITLE_EXTENSIONS and _sibling(path, VIDEO_EXTENSIONS, scan):
        return  # a video's subtitles, read with it
    if modality is None:
        scan.skip(path, f"unsupported file type {path.suffix.lower() or '(none)'}")
        return
    limit = {"text": MAX_TEXT_BYTES, "video": MAX_VIDEO_BYTES}.get(modality, MAX_MEDIA_BYTES)
    try:
        key = content_key(path, limit, text=modality == "text",
                          known=None if modality == "video" else scan.known.get(str(path)))
        digest = key.sha256
        if modality == "video" and _sound_only(path):
            modality = "audio"  # a podcast in a .webm: indexed as a .wav would be
        elif modality == "video":
            digest = _with_subtitles(path, digest)
        caption, extra = _caption(path, scan) if modality != "text" else (None, None)
    except Refused as exc:
        scan.skip(path, str(exc))
        return
    except OSError as exc:
        scan.skip(path, f"unreadable: {exc.strerror or exc}")
        return
    side = path.with_suffix(METADATA_SUFFIX)
    folder = path.parent.relative_to(root).as_posix() if root.is_dir() else "."
    scan.files.append(CorpusFile(path=path, modality=modality, sha256=digest, caption=caption,
                                 folder=folder, extra=extra or None,
                                 sidecar=side if scan.exists(side) else None,
                                 stat=None if modality == "video" else key.stat))


def _sound_only(path: Path) -> bool:
    """Whether a video container holds sound and no video (its header only; False without
    PyAV or for an unreadable header: the video reader then reports the file)."""
    from .audio_containers import sound_only

    return sound_only(path)




def _with_subtitles(path: Path, digest: str) -> str:
    """A video's content key: its bytes' sha256, combined with its subtitle side-car's."""
    for ext in (*SUBTITLE_EXTENSIONS, *(e.upper() for e in SUBTITLE_EXTENSIONS)):
        side = path.with_suffix(ext)  # the order read_video looks for them in
        if os.path.lexists(side):
            try:
                text = read_small(side)
            except Refused:
                return digest  # not read when decoded either
            extra = hashlib.sha256((text or "").encode()).hexdigest()
            return hashlib.sha256(f"{digest}\0{extra}".encode()).hexdigest()
    return digest




def _sibling(path: Path, extensions: Iterable[str], scan: _Scan) -> bool:
    """Whether a file of the same stem with one of ``extensions`` (either case) sits beside."""
    names = scan.names.get(path.parent)
    if names is None:
        stem = path.with_suffix("")
        return any(os.path.lexists(stem.with_suffix(ext)) or os.path.lexists(
            stem.with_suffix(ext.upper())) for ext in extensions)
    stem = path.stem  # Path.with_suffix(ext) names stem + ext
    return any(stem + ext in names or stem + ext.upper() in names for ext in extensions)


def _indexed_sibling(path: Path, scan: _Scan) -> bool:
    """Whether ``NAME.json`` sits beside a file that is indexed (media or text document)."""
    return _sibling(path, (*IMAGE_EXTENSIONS, *AUDIO_EXTENSIONS, *TEXT_EXTENSIONS,
                           *VIDEO_EXTENSIONS), scan)


def _media_sibling(path: Path, scan: _Scan) -> bool:
    return _sibling(path, (*IMAGE_EXTENSIONS, *AUDIO_EXTENSIONS, *VIDEO_EXTENSIONS), scan)


def _caption(path: Path, scan: _Scan) -> tuple[str | None, dict[str, Any] | None]:
    """The caption of a media file (its ``NAME.txt``, else its ``captions.jsonl`` entry) and
    the entry's extra keys (its metadata)."""
    side = path.with_suffix(".txt")
    try:
        text = read_small(side) if scan.exists(side) else None
    except Refused as exc:
        if str(exc) == SYMLINK:
            text = None  # reported by the walk; the media file is indexed without it
        else:
            raise Refused(f"caption {side.name}: {exc}") from None
    listing = _listing(path.parent / CAPTIONS_FILE, scan)
    if isinstance(listing, Refused):
        if text is None:
            raise listing
        listing = None
    caption, extra = listing.get(path.name, (None, None)) if listing else (None, None)
    if text is not None:
        return " ".join(text.split()) or None, extra
    return caption, extra


def _listing(listing: Path, scan: _Scan) -> dict[str, str] | Refused | None:
    """A folder's ``captions.jsonl`` (read once per scan), or the reason it is unusable."""
    if listing not in scan.listings:
        try:
            text = read_small(listing)
            scan.listings[listing] = None if text is None else _captions_in(listing, text, scan)
        except Refused as exc:
            scan.listings[listing] = None if str(exc) == SYMLINK else exc
        except ValueError as exc:
            scan.listings[listing] = Refused(str(exc))
    return scan.listings[listing]


def _captions_in(listing: Path, text: str, scan: _Scan
                 ) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """``{file name: (caption, extra keys)}`` of a ``captions.jsonl``: an entry has ``file``
    and a ``caption``, or other keys (metadata), or both."""
    out: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{listing}:{n}: not JSON ({exc.msg})") from exc
        if isinstance(row, dict) and isinstance(row.get("file"), str) and (isinstance(
                row.get("caption"), str) or set(row) - {"file", "caption"}):
            name = row["file"]
            if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
                scan.skip(f"{listing}:{n}", f"caption entry for {name!r} is not a file name in "
                                            "this folder: ignored (never read)")
                continue
            caption = row.get("caption")
            out[name] = (" ".join(caption.split()) if isinstance(caption, str) else None,
                         {k: v for k, v in row.items() if k not in ("file", "caption")})
    return out
