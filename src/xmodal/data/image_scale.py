"""Decode only what the model sees: JPEG DCT scaling and integer reduction to a shorter side.

An encoder that resizes every image so that its shorter side is ``min_side`` (EfficientNet-Lite0:
256) never uses more pixels than that, yet a camera photo holds 12 MP. Two cheap steps bring it
down before any full-resolution copy is made:

- **JPEG**: :func:`request_draft` asks libjpeg for DCT scaling (``Image.draft``) by 1/2, 1/4 or
  1/8, the largest that keeps the shorter side ≥ ``min_side``. The decoder then skips most of the
  inverse DCT and colour conversion: a 4000×3000 photo decodes at 500×375 (1/8).
- **Other rasters** (PNG, WebP, ...): their decoders cannot scale, so the full image is decoded,
  then :func:`reduce_to` averages ``f × f`` blocks (``Image.reduce``, premultiplied for alpha),
  the largest integer ``f`` that keeps the shorter side ≥ ``min_side``.

Both keep the aspect ratio (up to one pixel of rounding) and leave the shorter side in
``[min_side, 2·min_side)`` when the factor is not capped (JPEG stops at 1/8); the model's own
resize then goes from there. Both are box-like averages, as the model's antialiased bicubic
resize is over the same footprint, so the network sees nearly the same pixels (the encoders'
tests bound the difference of features against the full decode).

Example:
    >>> draft_request(4000, 3000, 256)
    (342, 256)
    >>> reduce_factor(4000, 3000, 256), reduce_factor(300, 200, 256)
    (11, 1)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA"})
"""Modes :func:`reduce_to` averages directly (others are converted to RGB first by the caller:
averaging palette indices or colour keys would be wrong)."""


def draft_request(width: int, height: int, min_side: int) -> tuple[int, int] | None:
    """The size to pass to ``Image.draft`` so the shorter side stays ≥ ``min_side``.

    Pillow picks the largest scale ``s`` in 8, 4, 2, 1 with ``s ≤ min(width // w, height // h)``
    and decodes ``ceil(width / s) × ceil(height / s)``, so asking for the image scaled to a
    shorter side of ``min_side`` (rounded up) never goes below it.

    Returns:
        ``(w, h)``, or ``None`` when no scaling by 2 or more is possible.
    """
    short = min(width, height)
    if min_side < 1 or short < 2 * min_side:
        return None
    scale = min_side / short
    return max(min_side, math.ceil(width * scale)), max(min_side, math.ceil(height * scale))


def request_draft(img: Image, min_side: int) -> None:
    """Ask a not-yet-loaded JPEG for DCT scaling to a shorter side ≥ ``min_side`` (in place).

    Other formats, and JPEGs too small to scale, are left as they are. Call it after the pixel
    limits were checked on the header size and before ``load()``.
    """
    if img.format not in ("JPEG", "MPO"):
        return
    size = draft_request(*img.size, min_side)
    if size is not None:
        img.draft(None, size)  # None: keep the mode, scale only


def reduce_factor(width: int, height: int, min_side: int) -> int:
    """The largest integer factor that keeps the shorter side ≥ ``min_side`` (1: none)."""
    if min_side < 1:
        return 1
    return max(1, min(width, height) // min_side)


def reduce_to(img: Image, min_side: int) -> Image:
    """``img`` averaged by :func:`reduce_factor` (``Image.reduce``), or ``img`` itself when the
    factor is 1 or its mode is not in :data:`REDUCIBLE_MODES`.

    Example:
        >>> from PIL import Image
        >>> reduce_to(Image.new("RGB", (1200, 900), (9, 9, 9)), 256).size
        (400, 300)
    """
    factor = reduce_factor(*img.size, min_side)
    if factor < 2 or img.mode not in REDUCIBLE_MODES:
        return img
    return img.reduce(factor)  # LA / RGBA: averaged premultiplied by Pillow
