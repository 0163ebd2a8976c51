"""Vector index: collections keyed by (model, modality), an embedded default, a server adapter.

``open_index(uri)`` picks the backend from the URI:

* a plain folder path -> **Qdrant Edge**, the embedded default (``pip install 'xmodal[index]'``);
* ``"exact:PATH"`` -> exact NumPy search persisted in PATH (no extra dependency);
* ``"http://host:6333"`` / ``"https://..."`` -> a Qdrant server or cluster via ``qdrant-client``;
* ``"qdrant-local::memory:"`` / ``"qdrant-local:PATH"`` -> ``qdrant-client``'s in-process local
  mode (a brute-force implementation of the server API, for tests and CI).

Every backend validates batches before the store sees them (finite, unit-norm, right
dimension, unique ids) and refuses vectors of another model or dimension than the collection's.

Example:
    >>> import numpy as np, tempfile
    >>> with open_index("exact:" + tempfile.mkdtemp()) as index:
    ...     col = index.create_collection("img", dim=3, model="toy-clip", modality="image")
    ...     _ = col.upsert(["x", "y"], np.eye(3)[:2], [{"kind": "cat"}, {"kind": "dog"}])
    ...     hits = col.search(np.eye(3)[1], k=5, filter={"kind": "dog"})
    >>> hits[0].ids, hits[0].payloads
    (('y',), ({'kind': 'dog'},))
"""

from __future__ import annotations

import os
from typing import Any

from xmodal.index.exact import ExactIndex
from xmodal.index.protocols import Collection, Index
from xmodal.index.types import (
    CollectionInfo,
    CollectionMismatchError,
    CollectionNotFoundError,
    DuplicateIdError,
    IndexBusyError,
    IndexStoreError,
    Record,
    SearchHits,
    UpsertResult,
    VectorError,
)
from xmodal.index.validate import check_ids, check_vectors, document_id, point_id

__all__ = [
    "Collection",
    "CollectionInfo",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "DuplicateIdError",
    "ExactIndex",
    "Index",
    "IndexBusyError",
    "IndexStoreError",
    "Record",
    "SearchHits",
    "UpsertResult",
    "VectorError",
    "check_ids",
    "check_vectors",
    "collection_name",
    "document_id",
    "open_index",
    "point_id",
]


def collection_name(model: str, modality: str) -> str:
    """The conventional collection name of a (model, modality) pair.

    Example:
        >>> collection_name("openai/clip-vit-base-patch32", "image")
        'openai-clip-vit-base-patch32.image'
    """
    slug = "".join(c if c.isalnum() or c in "_.-" else "-" for c in model).strip("-._")
    return f"{slug or 'model'}.{modality}"


def open_index(uri: str | os.PathLike[str], **options: Any) -> Index:
    """Open (or create) an index; the URI picks the backend (see the module docstring).

    Args:
        uri: A folder path, ``"exact:PATH"``, ``"http(s)://..."`` or ``"qdrant-local:..."``.
        **options: Passed to the backend (e.g. ``optimize_after`` or ``indexing_threshold_kb``
            for Qdrant Edge, ``api_key`` for a server).

    Returns:
        An :class:`Index`; use it as a context manager or call ``close()``.

    Raises:
        MissingDependencyError: the backend's package is not installed (names the extra).
    """
    text = os.fspath(uri)
    if text.startswith("exact:"):
        return ExactIndex(text[len("exact:") :], **options)
    if text.startswith(("http://", "https://")):
        from xmodal.index.qdrant_server import QdrantServerIndex

        return QdrantServerIndex.connect(url=text, **options)
    if text.startswith("qdrant-local:"):
        from xmodal.index.qdrant_server import QdrantServerIndex

        rest = text[len("qdrant-local:") :]
        if rest == ":memory:":
            return QdrantServerIndex.connect(location=":memory:", **options)
        return QdrantServerIndex.connect(path=rest, **options)
    if "://" in text:
        raise ValueError(f"unknown index URI scheme: {text!r}")
    from xmodal.index.qdrant_edge import EdgeIndex

    return EdgeIndex(text, **options)
