"""Data: decoding inputs with limits (images, audio, video, subtitles), training pairs, batch
order, dedup, audio augmentation."""

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
from .batching import BatchOrder, BatchPosition, SourceBatchOrder, epoch_permutation, shard
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
from .subtitles import SubtitleError, TimedText, format_srt, parse_srt, parse_vtt, read_subtitles
from .video import (
    VIDEO_EXTENSIONS,
    DecodedVideo,
    DecodedVideos,
    DecodeStats,
    Keyframe,
    SegmentConfig,
    VideoDecodeError,
    VideoInfo,
    VideoLimits,
    VideoSegment,
    load_videos,
    probe_video,
    read_video,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SECONDS",
    "VIDEO_EXTENSIONS",
    "AudioAugment",
    "AudioDecodeError",
    "AugmentDraw",
    "BatchOrder",
    "BatchPosition",
    "CorpusFile",
    "CorpusScan",
    "DecodeStats",
    "DecodedAudio",
    "DecodedImages",
    "DecodedVideo",
    "DecodedVideos",
    "DedupResult",
    "ImageDecodeError",
    "Keyframe",
    "PairDataset",
    "Removal",
    "SegmentConfig",
    "SourceBatchOrder",
    "SubtitleError",
    "TimedText",
    "VideoDecodeError",
    "VideoInfo",
    "VideoLimits",
    "VideoSegment",
    "content_hash",
    "dedup_pairs",
    "epoch_permutation",
    "format_srt",
    "load_audio",
    "load_audios",
    "load_image",
    "load_images",
    "load_pairs",
    "load_videos",
    "parse_srt",
    "parse_vtt",
    "probe_video",
    "read_subtitles",
    "read_video",
    "scan_corpus",
    "shard",
    "window_weights",
    "windows",
]
