"""What to index: the files under some folders (or the demo datasets), each with its modality,
its side-car caption, and the content hash that keys it.

A folder holds images (``.png .jpg .jpeg .webp .gif .bmp .svg``), audio (``.wav .flac .ogg
.oga .mp3``) and text documents (``.txt .md .rst``). A ``.txt`` file whose stem is also a media
file's (``dog.png`` + ``dog.txt``) is that file's caption, not a document; so is a caption in a
``captions.jsonl`` (``{"file": "dog.png", "caption": "..."}`` per line) in the same folder.
Everything else (other extensions, unreadable or empty files, documents over the size limit) is
*skipped with its reason*: a scan never stops at one bad file.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .problems import ItemProblem

Modality = Literal["image", "audio", "text"]
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".svg"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3"})
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".rst"})
CAPTIONS_FILE = "captions.jsonl"
MAX_TEXT_BYTES = 1_000_000
"""Text documents larger than this are skipped (the encoders truncate far below it anyway)."""


@dataclass(frozen=True)
class CorpusFile:
    """One file to index."""

    path: Path  # absolute path
    modality: Modality
    sha256: str  # of the file's bytes: the content key (a moved file keeps it)
    caption: str | None = None  # side-car caption of an image or audio file


@dataclass(frozen=True)
class CorpusScan:
    """The result of :func:`scan_corpus`: the files to index and the ones skipped, with why."""

    files: tuple[CorpusFile, ...]
    skipped: tuple[ItemProblem, ...]

    def by_modality(self, modality: Modality) -> list[CorpusFile]:
        """The files of one modality, in scan order."""
        return [f for f in self.files if f.modality == modality]


def modality_of(path: Path) -> Modality | None:
    """The modality a file extension stands for, or None."""
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in TEXT_EXTENSIONS:
        return "text"
    return None


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def scan_corpus(paths: Sequence[str | os.PathLike[str]]) -> CorpusScan:
    """Walk files and folders (recursively, sorted, symlinked folders not followed).

    Args:
        paths: Files or folders.

    Returns:
        The files to index (images and audio with their side-car captions, text documents) and
        the skipped ones with their reasons.

    Raises:
        FileNotFoundError: A given path does not exist (a file missing *inside* a folder while
            scanning is skipped and reported instead).
    """
    files: list[CorpusFile] = []
    skipped: list[ItemProblem] = []
    seen: set[Path] = set()
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise FileNotFoundError(f"no such file or folder: {str(root)!r}")
        candidates = [root] if root.is_file() else sorted(_walk(root))
        for path in candidates:
            path = path.resolve()
            if path in seen:
                continue
            seen.add(path)
            _scan_one(path, files, skipped)
    return CorpusScan(files=tuple(files), skipped=tuple(skipped))


def _walk(root: Path) -> Iterable[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.startswith("."):
                yield Path(folder) / name


def _scan_one(path: Path, files: list[CorpusFile], skipped: list[ItemProblem]) -> None:
    def skip(reason: str) -> None:
        skipped.append(ItemProblem(index=len(files) + len(skipped), item=str(path),
                                   reason=reason))

    if path.name == CAPTIONS_FILE:
        return
    modality = modality_of(path)
    if modality is None:
        skip(f"unsupported file type {path.suffix.lower() or '(none)'}")
        return
    if modality == "text" and path.suffix.lower() == ".txt" and _media_sibling(path):
        return  # a side-car caption, read with its media file
    try:
        size = path.stat().st_size
        if size == 0:
            skip("empty file")
            return
        if modality == "text" and size > MAX_TEXT_BYTES:
            skip(f"text file of {size:,} bytes is over the {MAX_TEXT_BYTES:,}-byte limit")
            return
        digest = file_sha256(path)
        caption = _caption(path) if modality != "text" else None
    except OSError as exc:
        skip(f"unreadable: {exc.strerror or exc}")
        return
    except ValueError as exc:
        skip(str(exc))
        return
    files.append(CorpusFile(path=path, modality=modality, sha256=digest, caption=caption))


def _media_sibling(path: Path) -> bool:
    stem = path.with_suffix("")
    return any(stem.with_suffix(ext).exists() or stem.with_suffix(ext.upper()).exists()
               for ext in (*IMAGE_EXTENSIONS, *AUDIO_EXTENSIONS))


def _caption(path: Path) -> str | None:
    side = path.with_suffix(".txt")
    if side.is_file():
        text = side.read_text("utf-8", errors="replace").strip()
        return " ".join(text.split()) or None
    listing = path.parent / CAPTIONS_FILE
    if listing.is_file():
        return _captions_in(listing).get(path.name)
    return None


def _captions_in(listing: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(listing.read_text("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{listing}:{n}: not JSON ({exc.msg})") from exc
        if isinstance(row, dict) and isinstance(row.get("file"), str) and isinstance(
                row.get("caption"), str):
            out[row["file"]] = " ".join(row["caption"].split())
    return out
