"""Ingest's side of the lexical lists: a document's lexical text stored under its id.

:func:`store_lexical` runs for each stored batch (before its main vectors, which mark a document
complete); :func:`lexical_backfill` gives the documents of an index made before lexical lists
theirs, on the next ingest, without re-encoding anything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from xmodal.data.corpus import CorpusFile
from xmodal.data.problems import ItemProblem

from .lexical import document_text
from .lexical_store import LexicalCollection
from .metadata import document_payload
from .validate import document_id

__all__ = ["lexical_backfill", "store_lexical"]


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
            texts.append(f.path.read_text("utf-8") if modality == "text" else None)
            good.append(f)
        except (OSError, UnicodeDecodeError) as exc:
            failed.append(ItemProblem(index=len(failed), item=str(f.path),
                                      reason=f"unreadable text (lexical list): {exc}"))
    store_lexical(lex, good, modality, texts, metas)
