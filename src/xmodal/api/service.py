"""One served index: what the HTTP API, the MCP server and the web page all call.

:class:`SearchService` opens the index once (a Qdrant Edge folder is single-process), holds a
:class:`~xmodal.search.searcher.Searcher`, validates every input against :class:`ServeLimits`
before a model or the store sees it, and returns plain JSON-able dicts. Refusals are typed
(:mod:`xmodal.api.limits`); :func:`~xmodal.api.limits.error_status` maps each to its HTTP status:
unknown collection 404, model mismatch 409, bad input 422, too large 413, overloaded 429.

Example (exact store, vectors only — no encoder is loaded)::

    >>> import tempfile, numpy as np
    >>> from xmodal.index import open_index
    >>> folder = tempfile.mkdtemp()
    >>> with open_index("exact:" + folder) as index:
    ...     col = index.create_collection("toy.image", dim=2, model="toy", modality="image")
    ...     _ = col.upsert(["a", "b"], np.eye(2), [{"modality": "image"}] * 2)
    >>> service = SearchService("exact:" + folder, router_model=None)
    >>> service.health()
    {'status': 'ok', 'collections': 1, 'documents': 2}
    >>> [c["name"] for c in service.collections()]
    ['toy.image']
    >>> service.get("toy.image", ["b", "nope"])[1] is None
    True
    >>> service.close()
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from xmodal.api import folders
from xmodal.api import items as stored
from xmodal.api.diagnose import CollectionDiagnosisJSON, diagnose_collection
from xmodal.api.hooks import ServiceHooks
from xmodal.api.items import MAX_BATCH
from xmodal.api.limits import (
    BadInput,
    IndexingDisabled,
    InputTooLarge,
    NotFound,
    Overloaded,
    ReadOnly,
    ServeLimits,
    check_audio,
    check_image,
    check_k,
    check_text,
    check_vector,
    pixel_limited,
)
from xmodal.api.rerank_offer import RerankNotOffered, RerankOffer
from xmodal.index.ingest import IndexReportJSON
from xmodal.index.quantization import Quantization
from xmodal.index.text_spaces import load_spaces
from xmodal.index.types import CollectionMismatchError, IndexStoreError
from xmodal.index.video_ingest import VIDEO, VIDEO_MODALITIES
from xmodal.search.hits import SearchJSON
from xmodal.search.reach import ReachJSON
from xmodal.search.request import SearchRequest

__all__ = [
    "MAX_BATCH",
    "BadInput",
    "CollectionDiagnosisJSON",
    "IndexingDisabled",
    "InputTooLarge",
    "NotFound",
    "Overloaded",
    "ReadOnly",
    "RerankNotOffered",
    "SearchService",
    "ServeLimits",
]

class SearchService:
    """Search, inspect and (unless read-only) edit one index, with limits on every input.

    Thread-safe: searches run concurrently; writes take a lock. :meth:`slot` bounds the work
    in flight (callers wrap each request in it; a full service raises :class:`Overloaded`).

    Args:
        index_uri: What :func:`xmodal.index.open_index` opens (a folder, ``exact:PATH``, a URL).
        load: Loads an encoder from a model name (default: ``load_encoder``; Hub models are
            fetched here, at start, and requests read the Hugging Face cache only).
        router_model: Text model of the router's zero-shot part (None: rules only).
        limits: What one request may ask for.
        read_only: Refuse :meth:`upsert`, :meth:`delete` and :meth:`index_paths`
            (:class:`ReadOnly`, 403).
        index_root: The folder :meth:`index_paths` may index under (None: off, 403).
        device, batch_size: Where the default loader's models run, and the items per forward
            pass (None: the encoders' own; ``device`` ignored with ``load``). ``batch_size``
            also sets the files :meth:`index_paths` stores a step, as ``xmodal index`` does.
        rerankers: The cross-encoders a request's ``rerank`` may pick (loaded now; another
            value is :class:`RerankNotOffered`, 400; see :mod:`xmodal.api.rerank_offer`).

    ``hooks`` (:class:`~xmodal.api.hooks.ServiceHooks`) reports searches and encoder calls.
    """

    def __init__(self, index_uri: str, *, load: Callable[[str], Any] | None = None,
                 router_model: str | None = "minilm", limits: ServeLimits | None = None,
                 read_only: bool = False, index_root: str | os.PathLike[str] | None = None,
                 device: str = "cpu", batch_size: int | None = None,
                 rerankers: Sequence[str] = ()) -> None:
        from xmodal.index import open_index
        from xmodal.search.rerank import load_cross_encoder
        from xmodal.search.searcher import Searcher

        self.index_uri = str(index_uri)
        self.limits = limits or ServeLimits()
        self.read_only = read_only
        self.index_root = None if index_root is None else folders.index_root(index_root)
        self.batch_size = batch_size
        self.rerank = RerankOffer(rerankers, load_cross_encoder)  # before the index opens
        self.index, self.hooks = open_index(self.index_uri), ServiceHooks()
        if load is None:  # Hub models are fetched now, at start: requests read the cache only
            load = folders.serving_loader(self.index, router_model, device=device,
                                          batch_size=batch_size)
        timed = self.hooks.timed(pixel_limited(load, self.limits))  # reports encode times
        self.searcher = Searcher(self.index, load=timed, router_model=router_model,
                                 load_reranker=self.rerank.scorer)
        self._write_lock = threading.RLock()
        self._slots = threading.BoundedSemaphore(self.limits.max_concurrency)
        self._manifest: tuple[tuple[int, int], dict[str, dict[str, Any]]] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Release the index (idempotent)."""
        self.index.close()

    def __enter__(self) -> SearchService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of ``max_concurrency`` work slots, or raise :class:`Overloaded` at once."""
        self.try_acquire()
        try:
            yield
        finally:
            self._slots.release()

    def try_acquire(self) -> None:
        """Take a slot without a context (release with :meth:`release`); Overloaded if full."""
        if not self._slots.acquire(blocking=False):
            raise Overloaded(f"all {self.limits.max_concurrency} work slots are busy; retry "
                             "shortly", retry_after=1)

    def release(self) -> None:
        """Give back a slot taken with :meth:`try_acquire` (the servers' runner,
        :func:`~xmodal.api.runner.run_blocking`, takes and gives back slots so)."""
        self._slots.release()

    # -- search ----------------------------------------------------------------------------
    def request(self, **fields: Any) -> SearchRequest:
        """The :class:`~xmodal.search.request.SearchRequest` of ``fields`` (its field names),
        for this service: ``k`` is checked against the served bound first (the message names
        ``limits.max_k``), and a refusal is :class:`BadInput` (a vector that is not one numeric
        row: ``VectorError``)."""
        if "k" in fields:
            check_k(fields["k"], self.limits)
        try:
            return SearchRequest(**fields)
        except IndexStoreError:
            raise
        except ValueError as exc:
            raise BadInput(str(exc)) from exc

    def search(self, request: SearchRequest | None = None, *, model: str | None = None,
               **fields: Any) -> SearchJSON:
        """Search within the served limits; the JSON of ``xmodal search --json``.

        Every input is checked before a model or the store sees it: ``k`` against
        ``limits.max_k``, a text query's length, an upload's bytes, pixels and seconds, a
        vector's collection, model and dimension, a ``rerank`` among the offered ones.

        Args:
            request: The search: a text ``query``, ``image`` / ``audio`` file bytes, or a
                ``vector`` of ``collection``'s model (normalised here). None: built from
                ``fields`` by :meth:`request`.
            model: With a ``vector``: the model that made it; refused (409) when not the
                collection's.
            **fields: The request's fields, when ``request`` is None.

        Returns:
            ``{"hits": [...], "trace": [...], "errors": [...]}`` (``SearchResult.to_json``).

        Example::

            hits = service.search(query="a red heart", k=3)["hits"]
            hits[0]["path"], hits[0]["score"]  # ('/photos/heart.png', 0.31)
            service.search(SearchRequest(vector=v, collection="starter-image.image", k=5))
        """
        if request is None:
            request = self.request(**fields)
        elif fields:
            raise TypeError("give a SearchRequest or keyword fields, not both")
        check_k(request.k, self.limits)
        if request.rerank is not None:
            request = replace(request, rerank=self.rerank.pick(request.rerank))
        if request.vector is not None:
            col = self._collection_of(request.collection or "", model, "the vector is")
            request = replace(request, vector=check_vector(request.vector, col.dim))
        elif request.query is not None:
            check_text(request.query, self.limits)
        elif request.image is not None:
            check_image(bytes(request.image), self.limits)
        elif request.audio is not None:
            check_audio(bytes(request.audio), self.limits)
        return self.hooks.searched(request, self.searcher.search(request).to_json())

    def _collection_of(self, name: str, model: str | None, what: str) -> Any:
        """The collection ``name`` (404 when unknown), refused (409) when ``model`` is given
        and is not the collection's. Reads stored metadata only (``.info`` would count every
        point: milliseconds at 100k, on every vector query)."""
        col = self.index.collection(name)
        if model is not None and model != col.model:
            raise CollectionMismatchError(f"{what} from model {model!r}; {name} holds "
                                          f"{col.model!r} vectors")
        return col

    # -- collections -----------------------------------------------------------------------
    @staticmethod
    def _info_dict(info: Any) -> dict[str, Any]:
        return {"name": info.name, "model": info.model, "modality": info.modality,
                "dim": int(info.dim), "count": int(info.count), "backend": info.backend,
                "card": dict(info.card), "calibration": info.calibration,
                "quantization": info.quantization}

    def collections(self) -> list[dict[str, Any]]:
        """Every collection: name, model, modality, dim, count, backend, card, calibration."""
        return [self._info_dict(info) for info in self.index.collections()]

    def routes(self) -> list[ReachJSON]:
        """The reachability matrix: which query modality reaches which documents, and how
        (:mod:`xmodal.search.reach`)."""
        return self.searcher.reach().to_json()

    def collection(self, name: str) -> dict[str, Any]:
        """One collection's dict plus ``"stats"`` (backend statistics); 404 when unknown."""
        col = self.index.collection(name)
        stats = json.loads(json.dumps(col.stats(), default=str))
        return {**self._info_dict(col.info), "stats": stats}

    def _manifest_entries(self) -> dict[str, dict[str, Any]]:
        """The ingest manifest (path → entry), re-read when its file changes."""
        from xmodal.index.ingest import load_manifest, manifest_path
        from xmodal.index.manifest import manifest_stamp

        path = manifest_path(self.index_uri)
        mtime = manifest_stamp(path)
        if mtime is None:
            return {}
        if self._manifest is None or self._manifest[0] != mtime:
            try:
                self._manifest = (mtime, load_manifest(path))
            except (OSError, ValueError):
                return {}
        return self._manifest[1]

    def diagnostics(self, name: str) -> CollectionDiagnosisJSON:
        """``xmodal diagnose --json`` of a collection's stored vectors (at most
        :data:`~xmodal.api.diagnose.DIAGNOSE_CAP`, a seeded sample of its documents in the
        manifest), plus ``collection`` and ``sampled``."""
        col = self.index.collection(name)
        docs = {e["doc"] for e in self._manifest_entries().values()
                if name in e.get("collections", ()) and "doc" in e}
        return diagnose_collection(col, docs)

    # -- items -----------------------------------------------------------------------------
    def get(self, collection: str, ids: Sequence[str],
            with_vectors: bool = False) -> list[dict[str, Any] | None]:
        """The stored record of each id (``{id, payload[, vector]}``), None where absent."""
        return stored.records(self.index.collection(collection), ids, with_vectors)

    def upsert(self, collection: str, items: Sequence[Mapping[str, Any]], *,
               model: str | None = None, normalize: bool = False) -> dict[str, Any]:
        """Insert or replace ``[{"id", "vector", "payload"}]`` in an existing collection.

        Returns:
            ``{"inserted": n, "updated": m}``.

        Raises:
            ReadOnly: the service is read-only. CollectionMismatchError: ``model`` is not the
            collection's. VectorError: a bad vector (names the id). BadInput: bad payloads
            (:func:`~xmodal.api.items.checked_items`).
        """
        if self.read_only:
            raise ReadOnly("this service is read-only")
        if not items:
            raise BadInput("give at least one item")
        col = self._collection_of(collection, model, "the vectors are")
        ids, rows, payloads = stored.checked_items(items, col.dim)
        with self._write_lock:
            res = col.upsert(ids, rows, payloads, model=col.model, normalize=normalize)
            self.searcher.refresh()  # the routes: what each collection holds may change
        return {"inserted": res.inserted, "updated": res.updated}

    def delete(self, collection: str, ids: Sequence[str]) -> dict[str, Any]:
        """Delete ids from a collection; ``{"deleted": how many were present}``. A document's
        id deletes its time segments too (in every collection), and an indexed file's document
        goes whole, with its manifest entry (:func:`~xmodal.index.deletion.delete_documents`)."""
        from xmodal.index.deletion import delete_documents
        from xmodal.index.ingest import manifest_path

        if self.read_only:
            raise ReadOnly("this service is read-only")
        ids = stored.check_ids(ids)
        self.index.collection(collection)  # 404 before the lock
        with self._write_lock:
            deleted = delete_documents(self.index, collection, ids,
                                       manifest=manifest_path(self.index_uri))
            self._manifest = None
            self.searcher.refresh()
        return {"deleted": deleted}

    # -- folders ---------------------------------------------------------------------------
    def index_paths(self, paths: Sequence[str], *, prune: bool = False,
                    quantization: Quantization | None = None) -> IndexReportJSON:
        """Scan and ingest files and folders under the index root into the open index; the
        JSON of ``xmodal index --json``. Each modality is encoded by the model of the index's
        collection of that modality (else the default), through the searcher's encoder and
        its lock. ``prune`` deletes documents of files gone from the given paths, no other.
        ``quantization``: of the collections it creates (an existing one keeps its own).

        Raises:
            ReadOnly, IndexingDisabled: 403. BadInput: a refused path, named (see
            :mod:`xmodal.api.folders`). InputTooLarge: too many paths.
            CollectionMismatchError: 409, another ``quantization`` than an existing
            collection's (nothing stored).
        """
        from xmodal.commands.index import FILES_PER_STEP
        from xmodal.index.ingest import ingest, manifest_path

        if self.read_only:
            raise ReadOnly("this service is read-only")
        started = time.perf_counter()
        root = folders.require_root(self.index_root)
        targets = folders.confine_all(root, list(paths))
        files, skipped = folders.scan_confined(root, targets)
        models = folders.document_models(self.index.collections())
        kinds = {f.modality for f in files}  # a video: the image, audio, text models it has
        wanted = (kinds - {VIDEO}) | (set(VIDEO_MODALITIES) & set(models) if VIDEO in kinds
                                      else set())
        encoders, why = folders.load_encoders(wanted, models,
                                              self.searcher.shared_encoder)
        spaces = load_spaces(self.index.collections(), self.searcher.shared_encoder) \
            if "text" in kinds else []
        with self._write_lock:  # files without an encoder: skipped by ingest, never pruned
            report = ingest(self.index, files=files, encoders=encoders, spaces=spaces,
                            manifest=manifest_path(self.index_uri), prune=prune,
                            prune_within=targets, quantization=quantization,
                            batch_size=max(FILES_PER_STEP, self.batch_size or 0))
            self.searcher.refresh()  # new collections become searchable
            self._manifest = None
        out = report.to_json(scan_skipped=skipped, seconds=time.perf_counter() - started)
        for item in out["skipped"]:
            item["reason"] = why.get(item["reason"], item["reason"])
        return out

    # -- media and health ------------------------------------------------------------------
    def media_entry(self, doc_id: str) -> tuple[Path, dict[str, Any]]:
        """The original file of an indexed document and its manifest entry (``sha256``…), as
        ``xmodal index`` recorded them. Never a path from a request or an API-written payload:
        a document the manifest does not list, or whose file is gone, is :class:`NotFound`."""
        for path, entry in self._manifest_entries().items():
            if entry.get("doc") == doc_id:
                if Path(path).is_file():
                    return Path(path), entry
                raise NotFound(f"the file of document {doc_id} is gone")
        raise NotFound(f"no indexed document {doc_id!r}")

    def media_path(self, doc_id: str) -> Path:
        """The file of :meth:`media_entry`."""
        return self.media_entry(doc_id)[0]

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "collections": n, "documents": m}``: documents are the files in
        the ingest manifest, or (without one) the vectors stored over all collections."""
        infos = self.index.collections()
        manifest = self._manifest_entries()
        docs = len(manifest) if manifest else sum(int(i.count) for i in infos)
        return {"status": "ok", "collections": len(infos), "documents": docs}

