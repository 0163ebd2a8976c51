"""Encoders: every model family behind one ``Encoder`` protocol, loaded from local weights.

Example:
    >>> from xmodal.encoders import load_encoder
    >>> enc = load_encoder("minilm")
    >>> v = enc.encode_text(["a dog barking", "a cat meowing"])
    >>> v.shape, v.dtype.name
    ((2, 384), 'float32')
"""

from __future__ import annotations

from .._optional import MissingDependencyError
from .base import Encoder, EncoderBase, EncoderLoadError, UnsupportedModalityError
from .card import ModelCard
from .feature_cache import FeatureCache, content_hash
from .hf_clap import ClapEncoder
from .hf_clip import CLIPEncoder
from .hf_siglip import SiglipEncoder
from .lit import LiTConfig, LiTEncoder, LiTModel
from .registry import load_encoder
from .report import EncodeReport, ItemProblem
from .sentence_transformers import SentenceTransformerEncoder

__all__ = [
    "CLIPEncoder",
    "ClapEncoder",
    "EncodeReport",
    "Encoder",
    "EncoderBase",
    "EncoderLoadError",
    "FeatureCache",
    "ItemProblem",
    "LiTConfig",
    "LiTEncoder",
    "LiTModel",
    "MissingDependencyError",
    "ModelCard",
    "SentenceTransformerEncoder",
    "SiglipEncoder",
    "UnsupportedModalityError",
    "content_hash",
    "load_encoder",
]
