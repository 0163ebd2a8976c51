"""Ingest's side of the lexical lists: a document's lexical text stored under its id.

:func:`store_lexical` runs for each stored batch (before its main vectors, which mark a document
complete); :func:`lexical_backfill` gives the documents of an index made before lexical lists
theirs, on the next ingest, without re-encoding anything, and rewrites those whose metadata
alone changed. Both store the same text (:func:`~xmodal.index.lexical.document_text`): the
file name, the caption, and a text document's text or a video's subtitles
(:func:`subtitle_text`; the backfill reads them again without decoding the video:
:func:`~xmodal.data.video_decode.video_subtitles`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from xmodal._optional import MissingDependencyError
from xmodal.data.corpus import CorpusFile
from xmodal.data.problems import ItemProblem
from xmodal.data.subtitles import SubtitleError, TimedText

from .lexical import document_text
from .lexical_store import LexicalCollection
from .metadata import document_payload
from .validate import document_id

__all__ = ["lexical_backfill", "store_lexical", "subtitle_text"]

_VIDEO = "video"  # a video document's kind (xmodal.index.video_ingest.VIDEO)


def subtitle_text(cues: Iterable[TimedText]) -> str | None:
    """A video's subtitles as lexical text: its cues' text, in order (None: no cue).

    Example:
        >>> subtitle_text([TimedText(0.0, 1.0, "hello"), TimedText(1.0, 2.0, "world")])
        'hello world'
    """
    return " ".join(c.text for c in cues) or None


def store_lexical(lex: LexicalCollection, files: Sequence[CorpusFile], modality: str,
                  texts: Sequence[str | None],
                  metas: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Store the lexical text of ``files`` (file name, caption, text) under their document ids,
    with the payload of their other representations (``metas``: metadata per path)."""
    metas = metas or {}
    if files:
        lex.upsert([document_id(str(f.path), f.sha256) for f in files],
                   [document_text(str(f.path), caption=f.caption, text=t)
                    for f, t in zip(files, texts, strict=True)],
                   [document_payload(f, modality, "lexical", metas.get(str(f.path), {}))
                    for f in files])


def lexical_backfill(lex: LexicalCollection, files: list[CorpusFile], modality: str,
                     failed: list[ItemProblem],
                     metas: Mapping[str, Mapping[str, Any]] | None = None, *,
                     refresh: Collection[CorpusFile] = ()) -> None:
    """Store the lexical text of stored documents the lexical collection lacks, and again for
    those in ``refresh`` (their metadata changed)."""
    missing = [f for f, rec in zip(files, lex.get(
        [document_id(str(f.path), f.sha256) for f in files]), strict=True)
        if rec is None or f in refresh]
    texts: list[str | None] = []
    good: list[CorpusFile] = []
    for f in missing:
        try:
            texts.append(_source_text(f, modality))
            good.append(f)
        except (OSError, UnicodeDecodeError) as exc:
            failed.append(ItemProblem(index=len(failed), item=str(f.path),
                                      reason=f"unreadable text (lexical list): {exc}"))
        except (ValueError, MissingDependencyError) as exc:  # VideoDecodeError is a ValueError
            failed.append(ItemProblem(index=len(failed), item=str(f.path),
                                      reason=f"subtitles not read (lexical list): {exc}"))
    store_lexical(lex, good, modality, texts, metas)


def _source_text(f: CorpusFile, modality: str) -> str | None:
    """A stored document's text beside its name and caption, as its ingest stored it: a text
    document's text, a video's subtitles (a side-car that does not parse: none, as then)."""
    if modality == "text":
        return f.path.read_text("utf-8")
    if modality != _VIDEO:
        return None
    from xmodal.data.video_decode import video_subtitles

    try:
        return subtitle_text(video_subtitles(f.path))
    except SubtitleError:
        return None
