"""The collections an ingest writes to: one per (model, modality), created with the encoder's
model card, and the captions of a media modality in the same model's text collection.

Example:
    >>> from types import SimpleNamespace
    >>> card = SimpleNamespace(name="clap", supports=lambda m: m in ("text", "audio"))
    >>> targets(SimpleNamespace(card=card), "audio", captions=True)
    ['clap.audio', 'clap.text']
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from . import collection_name
from ._meta import check_same_quantization
from .protocols import Collection, Index
from .quantization import Quantization

__all__ = ["captioned", "card_dict", "check_quantizations", "target_collection", "targets"]


def card_dict(encoder: Any) -> dict[str, Any]:
    """An encoder's model card as JSON-able data (stored with its collections)."""
    card = encoder.card
    data = dataclasses.asdict(card)
    data["modalities"] = list(card.modalities)
    return json.loads(json.dumps(data, default=str))


def captioned(encoder: Any, modality: str, captions: bool) -> bool:
    """Whether ingesting ``modality`` with ``encoder`` also stores captions (its text side)."""
    return captions and modality != "text" and encoder.card.supports("text")


def targets(encoder: Any, modality: str, captions: bool) -> list[str]:
    """Names of the collections that ingesting ``modality`` with ``encoder`` writes to."""
    names = [collection_name(encoder.card.name, modality)]
    if captioned(encoder, modality, captions):
        names.append(collection_name(encoder.card.name, "text"))
    return names


def check_quantizations(index: Index, wanted_names: list[list[str]],
                        quantization: Quantization | None) -> None:
    """Refuse, before anything is stored, a run asking an existing collection it would write
    to for another quantisation than the collection's."""
    if quantization is None:
        return
    wanted = {n for names in wanted_names for n in names}
    for info in index.collections():
        if info.name in wanted:
            check_same_quantization(info.name, info.quantization, quantization)


def target_collection(index: Index, encoder: Any, modality: str,
                      quantization: Quantization | None = None) -> Collection:
    """The collection of ``encoder``'s ``modality`` vectors, created when missing."""
    card = encoder.card
    return index.create_collection(collection_name(card.name, modality), dim=card.dim,
                                   model=card.name, modality=modality, card=card_dict(encoder),
                                   exist_ok=True, quantization=quantization)
