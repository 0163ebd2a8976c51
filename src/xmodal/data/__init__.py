"""Data: decoding inputs (audio, images...) for the encoders, with limits and reported failures."""

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
from .images import (
    DEFAULT_MAX_PIXELS,
    DecodedImages,
    ImageDecodeError,
    load_image,
    load_images,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SECONDS",
    "AudioDecodeError",
    "DecodedAudio",
    "DecodedImages",
    "ImageDecodeError",
    "load_audio",
    "load_audios",
    "load_image",
    "load_images",
    "window_weights",
    "windows",
]
