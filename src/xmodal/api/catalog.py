"""The index as an agent reads it: its collections (with how to read their scores) and one
stored item. The MCP tools ``describe_collections`` and ``fetch_item`` answer these.

:func:`describe` lists every collection with its model card's family notes and, per query
modality the model embeds, the raw-cosine threshold above which a hit is likely relevant
(stored calibration, or the family default), the limits a search must respect, and the routes
(:mod:`xmodal.search.reach`: which query modality reaches which documents, directly, through a
text pivot, or not at all and which models to add).
:func:`read_item` returns one stored record, and for a text document its text.

Example (exact store, vectors only)::

    >>> import tempfile, numpy as np
    >>> from xmodal.index import open_index
    >>> from xmodal.api.service import SearchService
    >>> folder = tempfile.mkdtemp()
    >>> with open_index("exact:" + folder) as index:
    ...     col = index.create_collection("toy.image", dim=2, model="toy", modality="image")
    ...     _ = col.upsert(["a", "b"], np.eye(2), [{"modality": "image"}] * 2)
    >>> with SearchService("exact:" + folder, router_model=None) as service:
    ...     about = describe(service)
    ...     item = read_item(service, "toy.image", "b")
    >>> [c["name"] for c in about["collections"]], about["documents"], item["payload"]
    (['toy.image'], 2, {'modality': 'image'})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import TypedDict  # pydantic needs this one below Python 3.12

from xmodal.api.limits import NotFound
from xmodal.modalities import MODALITIES
from xmodal.search.reach import ReachJSON

if TYPE_CHECKING:
    from xmodal.api.service import SearchService

__all__ = ["MAX_TEXT_CHARS", "CollectionJSON", "DescribeJSON", "ItemJSON", "describe",
           "read_item"]

MAX_TEXT_CHARS = 20_000
"""Most characters of a text document :func:`read_item` returns (the rest is cut, and said so)."""


class CollectionJSON(TypedDict):
    """One collection, its model and how to read its scores."""

    name: str
    modality: str
    count: int
    dim: int
    backend: str
    model: str
    family: str | None
    model_modalities: list[str]
    strengths: str | None
    weaknesses: str | None
    card: dict[str, Any]
    calibration: dict[str, dict[str, Any]]
    quantization: str


class DescribeJSON(TypedDict):
    """Every collection plus the limits a search must respect."""

    collections: list[CollectionJSON]
    documents: int
    limits: dict[str, Any]
    routes: list[ReachJSON]  # query modality × document modality: direct, pivot or none


class ItemJSON(TypedDict):
    """A stored record; ``text`` for text documents (their file as indexed)."""

    collection: str
    id: str
    payload: dict[str, Any]
    vector: list[float] | None
    text: str | None
    text_truncated: bool


def _calibration_summary(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per query modality the model embeds: the raw-cosine threshold and where it came from
    (a stored calibration, or the family's default), without the calibrator's knot arrays."""
    from xmodal.search.thresholds import calibration_for, threshold_for

    card = info.get("card") or {}
    family = str(card.get("family") or "")
    out: dict[str, dict[str, Any]] = {}
    for q in card.get("modalities") or [info["modality"]]:
        if q not in MODALITIES:
            continue
        entry = calibration_for(info.get("calibration"), q) or {}
        try:
            threshold: float | None = threshold_for(family, info.get("calibration"),
                                                    query_modality=q)
        except ValueError:
            threshold = None
        out[q] = {"threshold": threshold, "calibrated": bool(entry),
                  "cross_modal": q != info["modality"], "method": entry.get("method"),
                  "target": entry.get("target"), "heldout": entry.get("heldout"),
                  "projection": "projection" in entry}
    return out


def _collection_json(info: dict[str, Any]) -> CollectionJSON:
    from xmodal.encoders.card import FAMILY_NOTES

    card = dict(info.get("card") or {})
    notes = FAMILY_NOTES.get(card.get("family"))  # type: ignore[call-overload]
    return CollectionJSON(
        name=info["name"], modality=info["modality"], count=info["count"], dim=info["dim"],
        backend=info["backend"], model=info["model"], family=card.get("family"),
        model_modalities=list(card.get("modalities") or []),
        strengths=notes.strengths if notes else None,
        weaknesses=notes.weaknesses if notes else None,
        card=card, calibration=_calibration_summary(info),
        quantization=info.get("quantization", "none"))


def describe(service: SearchService) -> DescribeJSON:
    """Every collection of ``service`` (how to read its scores), its documents and limits.

    Args:
        service: The served index.

    Returns:
        The answer of the MCP tool ``describe_collections``.
    """
    lim = service.limits
    return DescribeJSON(
        collections=[_collection_json(i) for i in service.collections()],
        documents=int(service.health()["documents"]),
        limits={"max_k": lim.max_k, "max_text_chars": lim.max_text_chars,
                "max_upload_bytes": lim.max_body_bytes,
                "max_image_pixels": lim.max_image_pixels,
                "max_audio_seconds": lim.max_audio_seconds},
        routes=service.routes())


def read_item(service: SearchService, collection: str, id: str, *,
              with_vector: bool = False) -> ItemJSON:
    """One stored record, with the text of a text document (cut at :data:`MAX_TEXT_CHARS`).

    Args:
        service: The served index.
        collection: The collection name.
        id: The item id.
        with_vector: Also return the stored unit vector.

    Returns:
        The answer of the MCP tool ``fetch_item``.

    Raises:
        NotFound: no such item (an unknown collection: ``CollectionNotFoundError``).
    """
    got = service.get(collection, [id], with_vectors=with_vector)[0]
    if got is None:
        raise NotFound(f"no item {id!r} in collection {collection}")
    payload = dict(got["payload"])
    text = None
    if payload.get("modality") == "text":
        try:
            text = service.media_path(id).read_text("utf-8", errors="replace")
        except (OSError, KeyError):  # NotFound: not in the manifest, or gone
            text = None
    return ItemJSON(collection=collection, id=id, payload=payload, vector=got.get("vector"),
                    text=None if text is None else text[:MAX_TEXT_CHARS],
                    text_truncated=text is not None and len(text) > MAX_TEXT_CHARS)
