"""Ingest: files → encoders → collections, incremental, resumable, reporting every bad file.

Each document (one file) is stored once per *representation*, all under the same document id
(:func:`~xmodal.index.document_id` of its path and content hash):

- an image or audio file in the ``(model, image|audio)`` collection of its modality's encoder;
- its side-car caption, if any, in the ``(model, text)`` collection of the *same* encoder (so a
  text query can match the caption as well as the pixels, fused by document);
- a text document in the ``(model, text)`` collection of the text encoder, and in the text
  collection of each cross-modal model given as ``spaces`` (:mod:`xmodal.index.text_spaces`);
- a long audio file's windows (time segments, each with ``t_start`` / ``t_end``), beside its
  whole-file vector in its ``(model, audio)`` collection (:mod:`xmodal.index.segment_ingest`);
- a video (kind ``"video"``, with the image encoder): its frames, soundtrack and subtitles as
  time segments, its whole-file vector in the image collection
  (:mod:`xmodal.index.video_ingest`).

Lexical lists: every document's text representations (file name, caption, a text document's
text) are also stored in the index's lexical (BM25) collection, under the same document id and
payload (:mod:`xmodal.index.lexical_store`), written with the captions, before the main vector;
an index made before lexical lists existed gets them for its unchanged files on the next ingest
(no re-encoding), and ``lexical=False`` leaves them out.

Payloads carry ``path``, ``modality``, ``sha256``, ``representation`` and the caption, then the
document's metadata, flat (:mod:`xmodal.index.metadata`: automatic keys, ``captions.jsonl``
keys, a ``NAME.json`` side-car; a bad side-car is reported in ``skipped`` and left out). A
manifest (``xmodal-manifest.sqlite`` in the index folder, or in the user cache for server URIs;
:mod:`xmodal.index.manifest_store`) maps each path to its document id and content hash: a file
already stored unchanged is not re-encoded, a changed file replaces its old document, a file
whose metadata alone changed (a side-car edited, the file touched) gets its payloads rewritten
with the stored vectors (not re-encoded; counted unchanged), and ``prune=True`` deletes the
documents of files that no longer exist. Bad files (undecodable, empty) are reported and
skipped; the rest are indexed (a video decoded in part, truncated say, with what decoded: its
decode warnings are in the report's ``warnings``).

Crash safety (a kill at any point, SIGKILL included, loses nothing acknowledged and leaves no
half-stored document behind a manifest entry):

1. A batch stores its captions and segments first and its main representations *last*: a
   document whose main representation is in the store is complete (its main vector is the
   commit mark).
2. Then an old version of a changed file is deleted, then the batch's manifest rows are
   written in one SQLite transaction (all or none): every manifest entry is a complete
   document. A batch writes its own rows only, so the manifest costs the same per file at
   100,000 files as at 1,000 (``benchmarks/ingest_scale.py``).
3. Only then is the batch acknowledged (``on_stored``, ``progress``).

A kill between 1 and 2 leaves documents stored but not in the manifest. The next ingest
*reconciles* them instead of re-encoding: a file missing from the manifest whose main record
is in the store with the same content hash and caption (and its caption, when it has one) is
adopted into the manifest, and the old version of a changed file is deleted then. So a resumed
ingest encodes only the files that are not stored, and ids are never stored twice (upserts
are keyed by document id).

Example (the exact store and a toy encoder; real runs use ``xmodal index``)::

    index = open_index("exact:/tmp/idx")
    report = ingest(index, ["~/pictures"], encoders={"image": load_encoder("starter-image")})
    print(report.summary())
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xmodal.data.corpus import CorpusFile, scan_corpus
from xmodal.data.problems import ItemProblem

from .adopt import find_stored
from .deletion import delete_entry as _delete_doc  # one name: tests stub it
from .ingest_targets import (
    captioned,
    card_dict,
    check_quantizations,
    target_collection,
    targets,
)
from .lexical_ingest import lexical_backfill, store_lexical
from .lexical_store import LexicalCollection, open_lexical
from .manifest import (
    MANIFEST,
    IndexReportJSON,
    IngestReport,
    Manifest,
    PathProblemJSON,
    known_files,
    load_manifest,
    manifest_path,
    shared_records,
)
from .manifest import save_manifest as _save_manifest  # one name: tests stub it
from .metadata import (
    SYSTEM_KEYS,
    document_metadata,
    document_payload,
    metadata_digest,
)
from .protocols import Collection, Index
from .quantization import Quantization, check_quantization
from .segment_ingest import (
    drop_orphan_segments,
    encode_audio_batch,
    probe_segments,
    refresh_segments,
    store_segments,
)
from .segments import WINDOW, segment_window_s
from .text_spaces import cross_modal, read_documents, store_in_spaces
from .validate import document_id
from .video_ingest import VIDEO, probe_video_segments, store_videos, video_targets

__all__ = ["MANIFEST", "IndexReportJSON", "IngestReport", "PathProblemJSON", "card_dict",
           "ingest", "load_manifest", "manifest_path", "shared_records"]


def ingest(
    index: Index,
    paths: Sequence[str | os.PathLike[str]] | None = None,
    *,
    encoders: Mapping[str, Any],
    files: Sequence[CorpusFile] | None = None,
    manifest: str | os.PathLike[str] | None = None,
    prune: bool = False,
    prune_within: Sequence[str | os.PathLike[str]] | None = None,
    batch_size: int = 64,
    workers: int = 0,
    captions: bool = True,
    lexical: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    on_stored: Callable[[Sequence[CorpusFile]], None] | None = None,
    quantization: Quantization | None = None,
    spaces: Sequence[Any] = (),
    rehash: bool = False,
) -> IngestReport:
    """Encode and store the files under ``paths`` (or the given ``files``).

    Args:
        index: An open index.
        paths: Files and folders to scan (see :func:`~xmodal.data.corpus.scan_corpus`).
        encoders: Encoder per modality (``"image"``, ``"audio"``, ``"text"``); files of a
            modality without one are skipped with that reason (videos need ``"image"``).
        files: Pre-scanned files instead of ``paths`` (e.g. the demo datasets).
        manifest: The manifest file (default: none kept — every file is looked up in the
            index, and ``prune`` is unavailable).
        prune: Delete the documents of manifest paths that are gone or no longer scanned.
        prune_within: With ``prune``: only manifest paths at or under these absolute paths
            are candidates (a served ``POST /index`` prunes what it names, nothing else).
        batch_size: Files encoded and stored per batch (and between manifest writes).
        workers: Decoding worker processes for images and audio.
        captions: Also store side-car captions in the encoder's text collection.
        lexical: Also store each document's text (file name, caption, text) in the index's
            lexical BM25 collection (created when missing).
        progress: Called as ``progress(modality, done, total)`` after each batch.
        on_stored: Called with the files of each batch once they are stored and recorded in
            the manifest (the acknowledgement: a kill after it loses none of them).
        quantization: ``"none"``, ``"scalar"`` or ``"binary"`` for the collections this run
            creates (see :mod:`xmodal.index.quantization`); None: ``"none"`` for new ones, and
            existing ones keep theirs. Checked before anything is stored.
        spaces: Cross-modal encoders whose text side also stores the text documents (in their
            text collections: image and audio queries reach them; back-filled for documents
            stored before; :mod:`xmodal.index.text_spaces`). ``xmodal index`` passes every
            image/audio model of the run and of the index.
        rehash: Read every scanned file to hash it, even one whose size and modification time
            are those the manifest recorded (by default that one keeps its recorded sha256:
            :mod:`xmodal.data.content_keys`).

    Raises:
        ValueError: an unknown ``quantization``.
        CollectionMismatchError: ``quantization`` differs from an existing collection's that
            this run would write to (nothing is stored then).

    Returns:
        An :class:`IngestReport`.
    """
    if quantization is not None:
        check_quantization(quantization)
    skipped: list[ItemProblem] = []
    manifest_file = Path(manifest).expanduser() if manifest is not None else None
    if prune and manifest_file is None:
        raise ValueError("prune needs a manifest (the record of what was indexed)")
    known = load_manifest(manifest_file) if manifest_file else Manifest()
    if files is None:
        if paths is None:
            raise ValueError("give paths to scan or files")
        scan = scan_corpus(paths, known=None if rehash else known_files(known))
        files, skipped = list(scan.files), list(scan.skipped)
    counts = {"indexed": 0, "unchanged": 0, "replaced": 0, "pruned": 0}
    failed: list[ItemProblem] = []
    warned: list[ItemProblem] = []  # indexed with what decoded (a truncated video...)
    written: set[str] = set()
    by_modality: dict[str, list[CorpusFile]] = {}
    seen_paths: set[str] = set()
    metas: dict[str, dict[str, Any]] = {}  # path -> the document's metadata
    for f in files:
        if str(f.path) in seen_paths:
            skipped.append(ItemProblem(index=len(skipped), item=str(f.path),
                                       reason="listed twice: indexed once, first caption"))
        elif _modality(f.modality) not in encoders:
            skipped.append(ItemProblem(index=len(skipped), item=str(f.path),
                                       reason=f"no encoder for {_modality(f.modality)}"
                                       + (" (a video's frames)" if f.modality == VIDEO else "")))
        else:
            by_modality.setdefault(f.modality, []).append(f)
            metas[str(f.path)], problems = document_metadata(f)
            skipped.extend(ItemProblem(index=len(skipped), item=item, reason=reason)
                           for item, reason in problems)
        seen_paths.add(str(f.path))
    lex = open_lexical(index, create=bool(by_modality)) if lexical else None
    spaces = [e for e in cross_modal(spaces) if "text" in by_modality
              and e.card.name != encoders["text"].card.name]
    check_quantizations(index, [targets(encoders[_modality(m)], _modality(m), captions)
                                + (video_targets(encoders) if m == VIDEO else [])
                                for m in by_modality] + [targets(e, "text", False)
                                                         for e in spaces], quantization)
    for modality, group in by_modality.items():
        encoder = encoders[_modality(modality)]
        window = segment_window_s(encoder.card) if modality == "audio" else None
        main = target_collection(index, encoder, _modality(modality), quantization)
        caption_col = (target_collection(index, encoder, "text", quantization)
                       if captioned(encoder, modality, captions) else None)
        todo, same_files, refreshed, main_name = [], [], set(), main.name
        for f in group:
            key, doc = str(f.path), document_id(str(f.path), f.sha256)
            entry = known.get(key)
            same = (bool(entry) and entry["sha256"] == f.sha256 and entry.get("doc") == doc
                    and entry.get("caption") == f.caption
                    and main_name in entry.get("collections", ()))
            if same and entry.get("meta") != metadata_digest(metas[key]):
                _refresh_metadata(index, entry, metas[key])  # only the metadata changed
                known.touch(key)
                refreshed.add(f)
            if same and f.stat is not None and entry.get("stat") != list(f.stat):
                entry["stat"] = list(f.stat)  # touched, or recorded before stats were
                known.touch(key)
            if manifest_file and known.pending >= batch_size:
                _save_manifest(manifest_file, known)  # a kill: done again next time, no harm
            if same:
                counts["unchanged"] += 1
                same_files.append(f)
            else:
                todo.append(f)
        if manifest_file and known.pending:
            _save_manifest(manifest_file, known)
        stored_already = find_stored(todo, main, caption_col, metas)
        if stored_already:  # stored before a crash or by an ingest without a manifest
            adopted = set(stored_already)
            todo = [f for f in todo if f not in adopted]
            counts["unchanged"] += len(stored_already)
            adopted_ids = [document_id(str(f.path), f.sha256) for f in stored_already]
            found = ({d: {main.name: {WINDOW: n}} for d, n in probe_segments(
                main, adopted_ids).items()} if window else probe_video_segments(
                index, main, encoders, adopted_ids) if modality == VIDEO else {})
            counts["replaced"] += _record(known, stored_already, index, main, caption_col,
                                          metas, found)
            if manifest_file:
                _save_manifest(manifest_file, known)
        if lex is not None:  # an index made before lexical lists: add them, no re-encoding
            lexical_backfill(lex, [*same_files, *stored_already], modality, failed, metas,
                             refresh=refreshed)
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            segmented: dict[str, dict[str, dict[str, int]]] = {}
            if modality == VIDEO:
                stored = store_videos(index, batch, encoders, main, caption_col, failed, metas,
                                      lex, segmented, quantization, warned)
            else:
                stored = _store_batch(batch, encoder, modality, main, caption_col, workers,
                                      failed, metas, lex, window, segmented)
            counts["replaced"] += _record(known, stored, index, main, caption_col, metas,
                                          segmented)
            written.update(n for d in segmented.values() for n in d)
            counts["indexed"] += len(stored)
            written.update(c.name for c in (main, caption_col) if c is not None)
            if manifest_file:
                _save_manifest(manifest_file, known)
            if on_stored and stored:
                on_stored(stored)
            if progress:
                progress(modality, min(start + batch_size, len(todo)), len(todo))
    if spaces:  # after the text model's pass: its manifest entries say what is stored
        written |= store_in_spaces(index, by_modality["text"], spaces, known=known, metas=metas,
                                   failed=failed, manifest_file=manifest_file,
                                   quantization=quantization, batch_size=batch_size,
                                   on_batch=progress)
    if prune and manifest_file:
        present = {str(f.path) for f in files}
        scope = [Path(w) for w in prune_within] if prune_within is not None else None
        for key in [k for k in known if k not in present and (scope is None or any(
                Path(k) == w or Path(k).is_relative_to(w) for w in scope))]:
            _delete_doc(index, known.pop(key))
            counts["pruned"] += 1
        _save_manifest(manifest_file, known)
    known.close()
    return IngestReport(failed=tuple(failed), skipped=tuple(skipped),
                        collections=tuple(sorted(written)), warnings=tuple(warned), **counts)


def _modality(kind: str) -> str:
    """The modality of a document kind's main vector (a video's: its frames, ``"image"``)."""
    return "image" if kind == VIDEO else kind


def _record(known: Manifest, stored: list[CorpusFile], index: Index,
            main: Collection, caption_col: Collection | None,
            metas: Mapping[str, Mapping[str, Any]],
            segmented: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    """Enter stored files in the manifest (deleting old versions, and segments a kill left for
    other versions of their paths); returns how many replaced. ``segmented``: the segments
    each document id has (``{collection: {representation: count}}``)."""
    replaced = 0
    names = {c.name for c in (main, caption_col) if c is not None}
    for f in stored:
        key, doc = str(f.path), document_id(str(f.path), f.sha256)
        old = known.get(key)
        if old is not None and old.get("doc") != doc:
            _delete_doc(index, old)
            replaced += 1
        cols, segs = set(names), dict((segmented or {}).get(doc, {}))
        if old is not None and old.get("doc") == doc:
            cols |= set(old.get("collections", ()))  # also stored by another model
            segs = {**old.get("segments", {}), **segs}
        known[key] = {"doc": doc, "sha256": f.sha256, "caption": f.caption,
                      "meta": metadata_digest(metas[key]), "collections": sorted(cols)}
        if f.stat is not None:
            known[key]["stat"] = list(f.stat)
        if segs:
            known[key]["segments"] = segs
    by_col: dict[str, dict[str, str]] = {}  # collection -> {path: doc} of segmented documents
    for f in stored:
        doc = document_id(str(f.path), f.sha256)
        for name in (segmented or {}).get(doc, {}):
            by_col.setdefault(name, {})[str(f.path)] = doc
    for name, docs in by_col.items():  # segments of versions a kill left unrecorded
        with contextlib.suppress(KeyError):
            drop_orphan_segments(index.collection(name), docs)
    return replaced


def _refresh_metadata(index: Index, entry: dict[str, Any], meta: Mapping[str, Any]) -> None:
    """Store a document's new metadata in each of its collections (same vectors: no encode)."""
    for name in entry.get("collections", []):
        with contextlib.suppress(KeyError):  # the collection was dropped meanwhile
            col = index.collection(name)
            (rec,) = col.get([entry["doc"]])
            if rec is not None and rec.vector is not None:
                system = {k: v for k, v in rec.payload.items() if k in SYSTEM_KEYS}
                col.upsert([rec.id], rec.vector[None, :], [{**system, **meta}], normalize=True)
    refresh_segments(index, entry, meta, SYSTEM_KEYS)
    entry["meta"] = metadata_digest(meta)


def _store_batch(batch: list[CorpusFile], encoder: Any, modality: str, main: Collection,
                 caption_col: Collection | None, workers: int, failed: list[ItemProblem],
                 metas: Mapping[str, Mapping[str, Any]],
                 lex: LexicalCollection | None = None, window: float | None = None,
                 segmented: dict[str, dict[str, dict[str, int]]] | None = None,
                 ) -> list[CorpusFile]:
    """Encode one batch (bad files reported), store it; returns the stored files. With a
    segment ``window`` (audio), long files also get their segments (recorded in
    ``segmented``)."""
    texts: list[str] = []
    if modality == "text":
        good, texts = read_documents(batch, failed)
        if not good:
            return []
        report = encoder.encode_document(texts, errors="report")
        batch = good
    elif window is not None:  # decoded once: whole file and windows (segment_ingest.py)
        report = encode_audio_batch(encoder, [str(f.path) for f in batch],
                                    [metas[str(f.path)].get("duration_s") for f in batch],
                                    window_s=window, workers=workers)
    else:
        method = getattr(encoder, f"encode_{modality}")
        kwargs = {"workers": workers} if workers else {}
        report = method([str(f.path) for f in batch], errors="report", **kwargs)
    for problem in report.failed:
        failed.append(ItemProblem(index=len(failed), item=str(batch[problem.index].path),
                                  reason=problem.reason))
    kept = report.indices.tolist()
    stored = [batch[i] for i in kept]
    if not stored:
        return []
    ids = [document_id(str(f.path), f.sha256) for f in stored]
    payloads = [document_payload(f, modality, modality, metas[str(f.path)]) for f in stored]
    if caption_col is not None:  # captions first: the main vector, stored last, marks complete
        with_caption = [(i, f) for i, f in zip(ids, stored, strict=True) if f.caption]
        keep: list[tuple[str, CorpusFile]] = []
        if with_caption:
            cap = encoder.encode_document([f.caption for _, f in with_caption],
                                          errors="report")
            keep = [with_caption[k] for k in cap.indices.tolist()]
            if keep:
                caption_col.upsert(
                    [i for i, _ in keep], cap.vectors,
                    [document_payload(f, modality, "caption", metas[str(f.path)]) for _, f in keep],
                    model=encoder.card.name)
        stale = sorted(set(ids) - {i for i, _ in keep})  # caption removed (or unencodable)
        if stale:
            caption_col.delete(stale)
    if lex is not None:  # before the main vector too: it is the mark of a complete document
        store_lexical(lex, stored, modality,
                      [texts[i] for i in kept] if modality == "text" else [None] * len(stored),
                      metas)
    segs = getattr(report, "segments", {})
    if segs:  # before the main vector, as the captions
        counts = store_segments(main, [(ids[k], payloads[k], segs[i]) for k, i in enumerate(kept)
                                       if i in segs], model=encoder.card.name)
        if segmented is not None:
            segmented.update((d, {main.name: {WINDOW: n}}) for d, n in counts.items())
    main.upsert(ids, report.vectors, payloads, model=encoder.card.name)
    return stored

