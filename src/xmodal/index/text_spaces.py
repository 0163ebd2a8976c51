"""Text documents in every shared space: each cross-modal model's text side embeds them too.

A text document is stored by the text model (``minilm.text``) and, so that image and audio
queries can reach it, by the text side of every *cross-modal* model of the index (one that embeds
text and another modality: ``starter-image``, ``starter-audio``…), in that model's text
collection (one model, one modality, as every collection). Those text collections then hold two
kinds of text points, told apart by the payload (:func:`~xmodal.index.metadata.document_payload`):

- a text **document**: ``"modality": "text"``, ``"representation": "text"``, its own ``path``;
- a **caption** of a media item: the item's ``"modality"`` (``"image"``…), ``"representation":
  "caption"``, the item's id and ``path``, so a caption hit still resolves to its media item.

A search's text lists are filtered by the payload's modality (``starter-image.text[text]``: the
documents; ``starter-image.text[image]``: the captions), so neither kind leaks into the other.

:func:`store_in_spaces` runs after the text model's own pass of an ingest: for each text document
the manifest lists (stored by the text model) and each space whose collection its entry does
not list yet, it reads the file, embeds it with that model's ``encode_document`` and stores it,
then adds the collection to the entry. The same code back-fills the documents of an index when a
cross-modal model joins it, and it resumes after a kill: a document already in the space's
collection with the same content hash is adopted (no re-encoding), the rest is encoded.
:func:`remove_model` takes a model out of an index: its collections and every manifest entry's
mention of them.

Example:
    >>> from types import SimpleNamespace as NS
    >>> card = lambda name, *m: NS(card=NS(name=name, modalities=m))
    >>> encoders = [card("minilm", "text"), card("clip", "text", "image"), card("clip", "text")]
    >>> [e.card.name for e in cross_modal(encoders)]
    ['clip']
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xmodal.data.corpus import CorpusFile
from xmodal.data.problems import ItemProblem

from .adopt import get_all
from .ingest_targets import target_collection
from .manifest import save_manifest
from .metadata import document_payload
from .protocols import Index
from .quantization import Quantization
from .validate import document_id

__all__ = ["cross_modal", "load_spaces", "read_documents", "remove_model", "space_models",
           "store_in_spaces"]


def _is_cross_modal(modalities: Iterable[str]) -> bool:
    mods = set(modalities)
    return "text" in mods and len(mods) > 1


def cross_modal(encoders: Iterable[Any]) -> list[Any]:
    """The encoders that embed text and another modality (their text side is a shared
    space), once per model name, in the order given."""
    seen: dict[str, Any] = {}
    for e in encoders:
        if _is_cross_modal(e.card.modalities):
            seen.setdefault(e.card.name, e)
    return list(seen.values())


def space_models(collections: Iterable[Any]) -> list[str]:
    """The cross-modal models of an index (from its collections' cards), sorted.

    Example:
        >>> from xmodal.index.types import CollectionInfo
        >>> space_models([CollectionInfo("c.image", 2, "clip", "image",
        ...                              card={"modalities": ["text", "image"]}),
        ...               CollectionInfo("m.text", 2, "minilm", "text",
        ...                              card={"modalities": ["text"]})])
        ['clip']
    """
    return sorted({c.model for c in collections
                   if _is_cross_modal(c.card.get("modalities", ()))})


def load_spaces(collections: Iterable[Any], load: Callable[[str], Any]) -> list[Any]:
    """The encoders of an index's cross-modal models (:func:`space_models`), loaded by name;
    one that will not load is left out (the text model still indexes the documents)."""
    spaces = []
    for model in space_models(collections):
        with contextlib.suppress(Exception):
            spaces.append(load(model))
    return spaces


def read_documents(files: Sequence[CorpusFile], failed: list[ItemProblem], *, where: str = ""
                   ) -> tuple[list[CorpusFile], list[str]]:
    """The text documents ``files`` that read as UTF-8, and their texts; each one that does
    not is reported in ``failed`` (``unreadable text{where}: ...``) and left out."""
    good, texts = [], []
    for f in files:
        try:
            texts.append(f.path.read_text("utf-8"))
            good.append(f)
        except (OSError, UnicodeDecodeError) as exc:
            failed.append(ItemProblem(index=len(failed), item=str(f.path),
                                      reason=f"unreadable text{where}: {exc}"))
    return good, texts


def store_in_spaces(index: Index, files: Sequence[CorpusFile], spaces: Sequence[Any], *,
                    known: dict[str, dict[str, Any]], metas: Mapping[str, Mapping[str, Any]],
                    failed: list[ItemProblem], manifest_file: Path | None,
                    quantization: Quantization | None = None, batch_size: int = 64,
                    on_batch: Callable[[str, int, int], None] | None = None) -> set[str]:
    """Store the text documents ``files`` in each space's text collection (see the module
    docstring); returns the names of the collections written to.

    Args:
        index: The index.
        files: Text documents of this ingest; those the manifest (``known``) does not list as
            stored (failed, refused) are left alone.
        spaces: Cross-modal encoders (:func:`cross_modal`).
        known: The manifest entries (updated: each stored document's entry lists the space's
            collection, written to ``manifest_file`` after every batch).
        metas: The documents' metadata by path (their payloads carry it, as everywhere).
        failed: Where unreadable or unencodable documents are reported.
        manifest_file: The manifest (None: kept in memory only).
        quantization: For the collections this creates.
        batch_size: Documents per encode call and manifest write.
        on_batch: Called as ``on_batch(collection, done, total)`` after each batch.
    """
    written: set[str] = set()
    for space in spaces:
        col = target_collection(index, space, "text", quantization)
        todo = [f for f in files if _listed(known, f) and col.name
                not in known[str(f.path)].get("collections", ())]
        if not todo:
            continue
        ids = [document_id(str(f.path), f.sha256) for f in todo]
        stored = get_all(col, ids)
        adopted = [f for f, rec in zip(todo, stored, strict=True) if rec is not None
                   and rec.payload.get("sha256") == f.sha256
                   and rec.payload.get("representation") == "text"]
        _enter(known, adopted, col.name, manifest_file)  # stored before a kill: no re-encoding
        todo = [f for f in todo if f not in set(adopted)]
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            good, texts = read_documents(batch, failed, where=f" ({col.name})")
            report = space.encode_document(texts, errors="report") if good else None
            if report is not None:
                for problem in report.failed:
                    failed.append(ItemProblem(index=len(failed),
                                              item=str(good[problem.index].path),
                                              reason=f"{col.name}: {problem.reason}"))
                kept = [good[i] for i in report.indices.tolist()]
                if kept:
                    col.upsert([document_id(str(f.path), f.sha256) for f in kept],
                               report.vectors,  # (n, d)
                               [document_payload(f, "text", "text", metas[str(f.path)])
                                for f in kept], model=space.card.name)
                    _enter(known, kept, col.name, manifest_file)
                    written.add(col.name)
            if on_batch:
                on_batch(col.name, min(start + batch_size, len(todo)), len(todo))
    return written


def _listed(known: Mapping[str, Mapping[str, Any]], f: CorpusFile) -> bool:
    """Whether the manifest lists ``f`` as stored, in this version."""
    entry = known.get(str(f.path))
    return entry is not None and entry.get("doc") == document_id(str(f.path), f.sha256)


def _enter(known: dict[str, dict[str, Any]], files: Sequence[CorpusFile], name: str,
           manifest_file: Path | None) -> None:
    """Add collection ``name`` to the entries of ``files`` (then write the manifest)."""
    if not files:
        return
    for f in files:
        entry = known[str(f.path)]
        entry["collections"] = sorted({*entry.get("collections", ()), name})
    if manifest_file is not None:
        save_manifest(manifest_file, known)


def remove_model(index: Index, model: str, *, manifest_file: Path | None,
                 known: dict[str, dict[str, Any]] | None = None,
                 delete_entry: Callable[[Index, Mapping[str, Any]], None] | None = None,
                 ) -> list[str]:
    """Take ``model`` out of an index: every collection of it is dropped, and no manifest
    entry lists them any more; a document that was held by that model alone (an image of a
    removed image model) is deleted whole (its lexical point too) and leaves the manifest, so
    the next ``xmodal index`` of its folder indexes it again with the models given then.

    The manifest is written first: a kill between the two leaves collections the manifest does
    not list (the next ingest adopts or ignores them), never an entry naming a dropped
    collection (which an ingest would take as stored).

    Args:
        index: The index.
        model: The model name (as in ``CollectionInfo.model``).
        manifest_file: The manifest (None: only the collections are dropped).
        known: The manifest's entries, when the caller holds them (read from
            ``manifest_file`` otherwise).
        delete_entry: Deletes a document by its entry (default:
            :func:`xmodal.index.deletion.delete_entry`).

    Returns:
        The names of the collections dropped (sorted).

    Raises:
        ValueError: no collection of the index belongs to ``model``.
    """
    from .deletion import delete_entry as default_delete
    from .manifest import load_manifest

    names = sorted(c.name for c in index.collections() if c.model == model)
    if not names:
        held = sorted({c.model for c in index.collections()})
        raise ValueError(f"no collection of the index belongs to model {model!r} "
                         f"(its models: {held})")
    entries = known if known is not None else (
        load_manifest(manifest_file) if manifest_file is not None else {})
    orphans = []
    for key, entry in list(entries.items()):
        cols = [c for c in entry.get("collections", ()) if c not in names]
        if entry.get("collections") and not cols:
            orphans.append(entries.pop(key))
        else:
            entry["collections"] = cols
            if entry.get("segments"):
                entry["segments"] = {c: n for c, n in entry["segments"].items() if c not in names}
    if manifest_file is not None:
        save_manifest(manifest_file, entries)
    for entry in orphans:
        (delete_entry or default_delete)(index, entry)
    for name in names:
        with contextlib.suppress(KeyError):
            index.drop_collection(name)
    return names
