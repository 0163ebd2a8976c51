"""Data: decoding inputs with limits, training pairs, batch order, dedup, audio augmentation."""

from __future__ import annotations

from .audio import (
    DEFAULT_MAX_SECONDS,
    AudioDecodeError,
    DecodedAudio,
    load_audio,
    load_audios,
    window_weights,
    windows,
)
from .augment import AudioAugment, AugmentDraw
from .batching import BatchOrder, BatchPosition, epoch_permutation, shard
from .content import content_hash
from .corpus import CorpusFile, CorpusScan, scan_corpus
from .dedup import DedupResult, Removal, dedup_pairs
from .images import (
    DEFAULT_MAX_PIXELS,
    DecodedImages,
    ImageDecodeError,
    load_image,
    load_images,
)
from .pairs import PairDataset, load_pairs

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SECONDS",
    "AudioAugment",
    "AudioDecodeError",
    "AugmentDraw",
    "BatchOrder",
    "BatchPosition",
    "CorpusFile",
    "CorpusScan",
    "DecodedAudio",
    "DecodedImages",
    "DedupResult",
    "ImageDecodeError",
    "PairDataset",
    "Removal",
    "content_hash",
    "dedup_pairs",
    "epoch_permutation",
    "load_audio",
    "load_audios",
    "load_image",
    "load_images",
    "load_pairs",
    "scan_corpus",
    "shard",
    "window_weights",
    "windows",
]
