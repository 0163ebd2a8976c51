"""Decoding a batch of images or audio clips, for encoders and their worker processes."""

from __future__ import annotations

from typing import Any, Literal

from .audio import load_audios
from .images import load_images
from .problems import ItemProblem, describe


def decode_batch(
    modality: Literal["image", "audio"], chunk: list[Any], sample_rate: int | None
) -> tuple[list[Any], list[int], list[ItemProblem]]:
    """Decode one batch: (good items, their positions in ``chunk``, problems).

    A top-level function of a light module, so worker processes can run it without importing
    the encoders (torch, transformers).

    Example:
        >>> import numpy as np
        >>> waves, where, bad = decode_batch("audio", [np.zeros(4), "missing.wav"], 16000)
        >>> len(waves), where, bad[0].index
        (1, [0], 1)
    """
    if modality == "image":
        got = load_images(chunk)
        return list(got.images), list(got.indices), list(got.failed)
    got = load_audios(chunk, sample_rate=sample_rate)
    waves, where, bad = [], [], list(got.failed)
    for wave, i in zip(got.waves, got.indices, strict=True):
        if wave.size == 0:
            bad.append(ItemProblem(index=i, item=describe(chunk[i]), reason="empty audio"))
        else:
            waves.append(wave)
            where.append(i)
    return waves, where, sorted(bad, key=lambda p: p.index)
