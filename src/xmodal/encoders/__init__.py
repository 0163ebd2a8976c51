"""Encoders: every model family behind one ``Encoder`` protocol, loaded from local weights.

Example:
    >>> from xmodal.encoders import load_encoder
    >>> enc = load_encoder("minilm")
    >>> v = enc.encode_text(["a dog barking", "a cat meowing"])
    >>> v.shape, v.dtype.name
    ((2, 384), 'float32')
"""

from __future__ import annotations

from ._lazy import MissingDependencyError
from .base import Encoder, UnsupportedModalityError
from .card import ModelCard
from .registry import load_encoder
from .report import EncodeReport, ItemProblem
from .sentence_transformers import EncoderLoadError, SentenceTransformerEncoder

__all__ = [
    "EncodeReport",
    "Encoder",
    "EncoderLoadError",
    "ItemProblem",
    "MissingDependencyError",
    "ModelCard",
    "SentenceTransformerEncoder",
    "UnsupportedModalityError",
    "load_encoder",
]
