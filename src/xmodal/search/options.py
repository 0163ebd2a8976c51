"""Lookups for the options of a :class:`~xmodal.search.request.SearchRequest` that need the
index (weight names) or one list (its weight, its filter): small pure functions, kept out of the
searcher's control flow.

Example:
    >>> weights = {"emoji.text": 0.5, "emoji.text[audio]": 2.0}
    >>> list_weight(weights, ListName("emoji.text", "image")), list_weight(weights,
    ...     ListName("emoji.text", "audio")), list_weight(weights, ListName("emoji.image"))
    (0.5, 2.0, 1.0)
    >>> list_filter({"album": "a"},
    ...             ListName("emoji.text", "image"))  # doctest: +NORMALIZE_WHITESPACE
    {'must': [{'must': [{'key': 'album', 'match': {'value': 'a'}}]},
              {'key': 'modality', 'match': {'value': 'image'}}]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xmodal.index.filters import Filter, MatchAny, MatchValue, parse_filter, to_json
from xmodal.index.types import CollectionInfo

from .hits import ListName

__all__ = ["LIST_KINDS", "allows_modality", "check_weight_names", "list_filter", "list_weight",
           "weighted"]

LIST_KINDS: Mapping[str, tuple[str, ...]] = {"text": ("text", "video")}
"""The document kinds a text collection's list for a document modality holds, where more than
that modality: a video's texts (its caption, its subtitles) are searched with the text
documents (one list per collection: a video is never counted twice by one collection)."""


def check_weight_names(weights: Mapping[str, float] | None,
                       collections: Sequence[CollectionInfo], extra: Sequence[str] = ()) -> None:
    """Refuse a weight for a name that is neither a collection nor one of its lists, nor one
    of the ``extra`` lists (a reranker's); the values were checked by the request."""
    names = {c.name for c in collections} | {"bm25", *extra}  # bm25: search/lexical.py
    for name in weights or {}:
        if ListName.parse(name).collection not in names:
            raise ValueError(f"weight for {name!r}: no such collection")


def list_weight(weights: Mapping[str, float] | None, name: ListName) -> float:
    """A list's weight: its own entry, else its collection's, else 1."""
    if not weights:
        return 1.0
    return float(weights.get(str(name), weights.get(name.collection, 1.0)))


def weighted(weights: Mapping[str, float] | None, name: ListName) -> bool:
    """Whether the caller gave a list a weight (its own entry or its collection's): then it is
    kept as given, never re-weighted by a rule (:mod:`xmodal.search.lead`)."""
    return bool(weights) and (str(name) in weights or name.collection in weights)


def list_filter(filter: Mapping[str, Any] | Filter | None,
                name: ListName) -> dict[str, Any] | None:
    """The payload filter one list is searched with (Qdrant's filter JSON): the caller's, and
    for a text collection filtered to one modality's documents,
    ``{"must": [caller, {"key": "modality", "match": {"value": m}}]}``."""
    caller = parse_filter(filter)
    if name.doc_modality is not None:
        kinds = LIST_KINDS.get(name.doc_modality)
        modality = ({"key": "modality", "match": {"any": list(kinds)}} if kinds else
                    {"key": "modality", "match": {"value": name.doc_modality}})
        return {"must": [to_json(caller), modality] if caller else [modality]}
    return to_json(caller) if caller else None


def allows_modality(filter: Mapping[str, Any] | Filter | None, modality: str) -> bool:
    """Whether a payload filter can admit documents of ``modality`` (or of another kind its
    lists hold: :data:`LIST_KINDS`): False only when one of its top-level ``must`` conditions
    on ``modality`` (value or any) excludes it, or a ``must_not`` value names it (conservative:
    else the list is searched and the filter decides)."""
    return any(_allows(filter, kind) for kind in LIST_KINDS.get(modality, (modality,)))


def _allows(filter: Mapping[str, Any] | Filter | None, modality: str) -> bool:
    flt = parse_filter(filter)
    for c in flt.must:
        if isinstance(c, MatchValue) and c.key == "modality" and c.value != modality:
            return False
        if isinstance(c, MatchAny) and c.key == "modality" and modality not in c.values:
            return False
    return not any(isinstance(c, MatchValue) and c.key == "modality" and c.value == modality
                   for c in flt.must_not)
