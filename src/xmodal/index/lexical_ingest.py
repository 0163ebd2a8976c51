"""Ingest's side of the lexical lists: a document's lexical text stored under its id.

:func:`store_lexical` runs for each stored batch (before its main vectors, which mark a document
complete); :func:`lexical_backfill` gives the documents of an index made before lexical lists
theirs, on the next ingest, without re-encoding anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xmodal.data.corpus import CorpusFile
from xmodal.data.problems import ItemProblem

from .lexical import document_text
from .lexical_store import LexicalCollection
from .validate import document_id

__all__ = ["lexical_backfill", "store_lexical"]


def _payload(f: CorpusFile, modality: str, representation: str) -> dict[str, Any]:
    """The payload every representation of a document carries."""
    return {"path": str(f.path), "modality": modality, "sha256": f.sha256,
            "representation": representation, "caption": f.caption}


def store_lexical(lex: LexicalCollection, files: Sequence[CorpusFile], modality: str,
                   texts: Sequence[str | None]) -> None:
    """Store the lexical text of ``files`` (file name, caption, text) under their document ids."""
    if files:
        lex.upsert([document_id(str(f.path), f.sha256) for f in files],
                   [document_text(str(f.path), caption=f.caption, text=t)
                    for f, t in zip(files, texts, strict=True)],
                   [_payload(f, modality, "lexical") for f in files])


def lexical_backfill(lex: LexicalCollection, files: list[CorpusFile], modality: str,
                      failed: list[ItemProblem]) -> None:
    """Store the lexical text of stored documents the lexical collection lacks."""
    missing = [f for f, rec in zip(files, lex.get(
        [document_id(str(f.path), f.sha256) for f in files]), strict=True) if rec is None]
    texts: list[str | None] = []
    good: list[CorpusFile] = []
    for f in missing:
        try:
            texts.append(f.path.read_text("utf-8") if modality == "text" else None)
            good.append(f)
        except (OSError, UnicodeDecodeError) as exc:
            failed.append(ItemProblem(index=len(failed), item=str(f.path),
                                      reason=f"unreadable text (lexical list): {exc}"))
    store_lexical(lex, good, modality, texts)
