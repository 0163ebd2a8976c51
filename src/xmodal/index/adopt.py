"""Documents a kill left in the store but not in the manifest: found there and adopted by the
next ingest, not encoded again (:mod:`xmodal.index.ingest`, crash safety).

A document is adopted when its main record is stored with the same content hash, caption and
metadata, and its caption record too when it has a caption.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xmodal.data.corpus import CorpusFile

from .metadata import payload_metadata
from .protocols import Collection
from .validate import document_id

__all__ = ["find_stored", "get_all"]


def find_stored(todo: list[CorpusFile], main: Collection, caption_col: Collection | None,
                metas: Mapping[str, Mapping[str, Any]]) -> list[CorpusFile]:
    """The files of ``todo`` whose document is completely in the store already, as it would be
    stored now (same content and caption; the caption representation too when there is one)."""
    if not todo:
        return []
    ids = [document_id(str(f.path), f.sha256) for f in todo]
    mains = get_all(main, ids)
    found = [(f, i) for f, i, rec in zip(todo, ids, mains, strict=True)
             if rec is not None and rec.payload.get("sha256") == f.sha256
             and rec.payload.get("caption") == f.caption
             and payload_metadata(rec.payload) == metas[str(f.path)]]
    if caption_col is None:
        return [f for f, _ in found]
    with_caption = [(f, i) for f, i in found if f.caption]
    cap_ids = [i for _, i in with_caption]
    caps = dict(zip(cap_ids, get_all(caption_col, cap_ids), strict=True))
    return [f for f, i in found
            if not f.caption or (caps[i] is not None
                                 and caps[i].payload.get("caption") == f.caption)]


def get_all(col: Collection, ids: list[str], chunk: int = 1024) -> list[Any]:
    """``col.get`` in chunks (records carry their vectors: bounded memory per call)."""
    return [r for s in range(0, len(ids), chunk) for r in col.get(ids[s : s + chunk])]
