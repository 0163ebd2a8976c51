"""Deleting documents: every point of a document goes, and its manifest entry with it.

A document (one file, :mod:`xmodal.index.ingest`) is stored as several points under its id: its
representation in each collection (the file's vector, its caption's, another model's), its
lexical point, and its time segments (:mod:`xmodal.index.segments`: a long recording's windows
beside its whole-file point; a video's frames in its image collection, its soundtrack and
subtitles in the audio and text models' collections). :func:`delete_entry` deletes all of them
for a manifest entry: ``prune`` and the replacement of a changed file use it.

:func:`delete_documents` is ``POST /collections/{name}/delete``: deleting ids from a collection.

- Each id is deleted from the collection, as in any vector store; the count is of the ids that
  were there.
- An id that was a document's point there (not a segment's) deletes the document's time
  segments too, in every collection, found by their ``document_id`` (with or without a
  manifest, and those of versions a kill left): search drops a segment whose document has no
  point in its own collection, but not a video's soundtrack and subtitles, whose document's
  point is in the image collection (:data:`xmodal.search.segments.ELSEWHERE`), so they would
  surface as hits of a document that is gone.
- The document of an indexed file (the manifest lists it with that collection) is deleted
  whole, as ``prune`` deletes a gone file's: its other representations and lexical point too,
  and its manifest entry, which is written first (a kill then leaves a complete unlisted
  document, which the next ingest adopts; never an entry whose points are gone). The next
  ``xmodal index`` of its folder indexes the file again if it is still there: the files are the
  record of what the index holds.

Example:
    >>> import tempfile, numpy as np
    >>> from xmodal.index import open_index
    >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
    ...     col = index.create_collection("m.audio", dim=2, model="m", modality="audio")
    ...     _ = col.upsert(["doc", "seg"], np.eye(2), [{"representation": "audio"}, {
    ...         "representation": "window", "document_id": "doc", "t_start": 0.0,
    ...         "t_end": 10.0}])
    ...     delete_documents(index, "m.audio", ["doc", "nope"]), col.count()
    (1, 0)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from .lexical_store import open_lexical
from .manifest import load_manifest, save_manifest
from .protocols import Index
from .segment_ingest import delete_document_segments, delete_segments
from .segments import is_segment

__all__ = ["delete_documents", "delete_entry"]


def delete_entry(index: Index, entry: Mapping[str, Any]) -> None:
    """Delete the document of a manifest entry: its segments, its lexical point, then its point
    in each of its collections (a collection dropped meanwhile is skipped)."""
    delete_segments(index, entry)
    lex = open_lexical(index)
    if lex is not None:
        lex.delete([entry["doc"]])
    for name in entry.get("collections", []):
        with contextlib.suppress(KeyError):  # the collection was dropped meanwhile
            index.collection(name).delete([entry["doc"]])


def delete_documents(index: Index, collection: str, ids: Sequence[str], *,
                     manifest: str | os.PathLike[str] | None = None) -> int:
    """Delete ids from a collection, and the documents they are (see the module docstring).

    Args:
        index: The index.
        collection: The collection's name.
        ids: Point ids: documents' ids, or segments' (then that point only).
        manifest: The ingest manifest (none, or a missing file: no indexed file's document).

    Returns:
        How many of ``ids`` (each counted once) the collection held.

    Raises:
        CollectionNotFoundError: no such collection.
    """
    col = index.collection(collection)
    recs = [r for r in col.get(list(ids)) if r is not None]
    docs = sorted({r.id for r in recs if not is_segment(r.payload)})
    if docs and manifest is not None:
        _forget_files(index, Path(manifest), set(docs), collection)
    col.delete(list(ids))
    if docs:
        for info in index.collections():
            delete_document_segments(index.collection(info.name), docs)
    return len({r.id for r in recs})


def _forget_files(index: Index, manifest: Path, docs: Collection[str], collection: str) -> None:
    """Delete whole the documents of ``docs`` the manifest lists with ``collection``: their
    entries first (written atomically), then their points."""
    known = load_manifest(manifest)
    gone = [path for path, e in known.items()
            if e.get("doc") in docs and collection in e.get("collections", ())]
    if not gone:
        return
    entries = [known.pop(path) for path in gone]
    save_manifest(manifest, known)
    known.close()
    for entry in entries:
        delete_entry(index, entry)
