"""The modalities xmodal embeds: the ``Modality`` type and the ``MODALITIES`` tuple, defined once;
and the kinds of documents it indexes (``DocumentKind``): the three modalities plus ``"video"``.

Every stage (data, encoders, index, search, the front ends) names a modality with these three
strings; the tuple is derived from the type, so the two cannot drift apart. Its order
(text, image, audio) is the order modalities are listed and tried in.

A video is a *document kind*, not an embedding modality: no model embeds "video"; its
representations (frames, soundtrack, subtitles) live in image, audio and text collections, and
its payload's ``modality`` reads ``"video"``.

Example:
    >>> MODALITIES
    ('text', 'image', 'audio')
    >>> "video" in MODALITIES
    False
    >>> DOCUMENT_KINDS
    ('text', 'image', 'audio', 'video')
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["DOCUMENT_KINDS", "MODALITIES", "DocumentKind", "Modality"]

Modality = Literal["text", "image", "audio"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)
DocumentKind = Literal["text", "image", "audio", "video"]
DOCUMENT_KINDS: tuple[DocumentKind, ...] = get_args(DocumentKind)
