"""Decoding a batch of images or audio clips, for encoders and their worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .audio import load_audios
from .images import DEFAULT_MAX_PIXELS, load_images
from .problems import ItemProblem, describe


def decode_batch(
    modality: Literal["image", "audio"],
    chunk: list[Any],
    sample_rate: int | None,
    prepare: Callable[[Any], Any] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
) -> tuple[list[Any], list[int], list[ItemProblem]]:
    """Decode one batch: (good items, their positions in ``chunk``, problems).

    A top-level function of a light module, so worker processes can run it without importing
    the encoders (torch, transformers). ``prepare`` (a picklable top-level function, e.g. a
    spectrogram) is applied to each decoded item there too, so that work also leaves the
    process running the model; an item it fails on is reported like a decoding failure.
    ``max_pixels`` (width × height) refuses larger images (:func:`~xmodal.data.images.load_image`);
    ``min_side`` decodes images only as large as a model resizing their shorter side to it needs.

    Example:
        >>> import numpy as np
        >>> waves, where, bad = decode_batch("audio", [np.zeros(4), "missing.wav"], 16000)
        >>> len(waves), where, bad[0].index
        (1, [0], 1)
    """
    if modality == "image":
        got = load_images(chunk, max_pixels=max_pixels, min_side=min_side)
        items, where, bad = list(got.images), list(got.indices), list(got.failed)
    else:
        got = load_audios(chunk, sample_rate=sample_rate)
        items, where, bad = [], [], list(got.failed)
        for wave, i in zip(got.waves, got.indices, strict=True):
            if wave.size == 0:
                bad.append(ItemProblem(index=i, item=describe(chunk[i]), reason="empty audio"))
            else:
                items.append(wave)
                where.append(i)
    if prepare is not None:
        items, where, bad = _prepared(prepare, items, where, bad, chunk)
    return items, where, sorted(bad, key=lambda p: p.index)


def _prepared(prepare, items, where, bad, chunk):
    out, kept = [], []
    for item, i in zip(items, where, strict=True):
        try:
            out.append(prepare(item))
            kept.append(i)
        except (ValueError, RuntimeError) as exc:  # e.g. a clip a spectrogram cannot take
            reason = f"preprocessing: {exc}"
            bad.append(ItemProblem(index=i, item=describe(chunk[i]), reason=reason))
    return out, kept, bad
