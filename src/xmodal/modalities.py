"""The modalities xmodal embeds: the ``Modality`` type and the ``MODALITIES`` tuple, defined once.

Every stage (data, encoders, index, search, the front ends) names a modality with these three
strings; the tuple is derived from the type, so the two cannot drift apart. Its order
(text, image, audio) is the order modalities are listed and tried in.

Example:
    >>> MODALITIES
    ('text', 'image', 'audio')
    >>> "video" in MODALITIES
    False
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["MODALITIES", "Modality"]

Modality = Literal["text", "image", "audio"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)
