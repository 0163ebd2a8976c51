"""Image augmentation for contrastive training of locked-tower models (training only).

A caption names what is drawn, not where the drawing sits, which way it faces or what it is
drawn on. Each change here keeps the first and alters the rest, the way open_clip's training
transforms do (``RandomResizedCrop`` and friends), written for one image at a time with an
explicit generator so that a variant is a function of ``(seed, copy, item)``:

- a random crop of ``crop_scale`` of the area at an aspect ratio in ``aspect``, which the
  tower then resizes as it resizes every image (so the object moves and changes scale);
- a horizontal flip with probability ``flip`` (left–right is rarely named in a caption);
- under transparency, a random ``background`` instead of white: icons, sprites and emoji are
  drawn on nothing, and a user's copies of them sit on any colour.

:class:`ImageAugment` draws the values (:meth:`ImageAugment.sample`, an
:class:`ImageAugmentDraw` for logging) and applies them (:meth:`ImageAugment.apply`) to a
path, bytes or a PIL image, decoded by :func:`~xmodal.data.images.load_image` with its limits.

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> aug = ImageAugment(crop_scale=(0.25, 0.25), aspect=(1.0, 1.0), flip=0.0,
    ...                    background_colour=1.0)
    >>> img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    >>> out = aug(img, rng=np.random.default_rng(0))
    >>> out.size, out.mode
    ((20, 20), 'RGB')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .images import DEFAULT_MAX_PIXELS, RGB, WHITE, load_image

__all__ = ["ImageAugment", "ImageAugmentDraw"]

BACKGROUNDS: tuple[RGB, ...] = ((0, 0, 0), (128, 128, 128), (245, 240, 225))
"""Backgrounds drawn besides a uniformly random colour: black, mid grey, off-white paper."""


@dataclass(frozen=True)
class ImageAugmentDraw:
    """The values of one augmentation: the crop box as fractions of the width and height
    ``(left, top, right, bottom)``, the flip, and the colour under transparency."""

    box: tuple[float, float, float, float]
    flip: bool
    background: RGB


@dataclass(frozen=True)
class ImageAugment:
    """Random crop, flip and background, drawn per call from a given generator.

    Args:
        crop_scale: Range of the crop's share of the image's area, in (0, 1].
        aspect: Range of the crop's width / height, relative to the image's own aspect ratio
            (drawn uniformly in log space).
        flip: Probability of a horizontal flip.
        background_colour: Probability that transparent pixels get a colour other than white
            (one of :data:`BACKGROUNDS` or a uniformly random one, equally likely).
    """

    crop_scale: tuple[float, float] = (0.6, 1.0)
    aspect: tuple[float, float] = (3 / 4, 4 / 3)
    flip: float = 0.5
    background_colour: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")
        if not 0 < self.aspect[0] <= self.aspect[1]:
            raise ValueError(f"aspect must satisfy 0 < low <= high, got {self.aspect}")
        for name in ("flip", "background_colour"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)}")

    def sample(self, rng: np.random.Generator) -> ImageAugmentDraw:
        """Draw one augmentation's values (the box is independent of the image's size)."""
        area = rng.uniform(*self.crop_scale)
        ratio = math.exp(rng.uniform(math.log(self.aspect[0]), math.log(self.aspect[1])))
        w = min(1.0, math.sqrt(area * ratio))
        h = min(1.0, math.sqrt(area / ratio))
        left, top = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        flip = bool(rng.random() < self.flip)
        background = WHITE
        if rng.random() < self.background_colour:
            pick = int(rng.integers(0, len(BACKGROUNDS) + 1))
            background = (BACKGROUNDS[pick] if pick < len(BACKGROUNDS)
                          else tuple(int(c) for c in rng.integers(0, 256, size=3)))
        return ImageAugmentDraw(box=(left, top, left + w, top + h), flip=flip,
                                background=background)

    def apply(self, item: Any, draw: ImageAugmentDraw, *,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> Any:
        """Decode ``item`` (path, bytes or PIL image) on the draw's background, crop, flip.

        Raises:
            ImageDecodeError: As :func:`~xmodal.data.images.load_image`, naming the item.
        """
        from PIL import ImageOps

        img = load_image(item, max_pixels=max_pixels, background=draw.background)
        width, height = img.size
        left, top, right, bottom = draw.box
        x0, y0 = math.floor(left * width), math.floor(top * height)
        w = max(1, round((right - left) * width))  # the crop's size does not depend on where
        h = max(1, round((bottom - top) * height))  # it starts: same box, same pixel size
        img = img.crop((x0, y0, min(width, x0 + w), min(height, y0 + h)))
        return ImageOps.mirror(img) if draw.flip else img

    def __call__(self, item: Any, *, rng: np.random.Generator,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> Any:
        """Sample and apply in one call."""
        return self.apply(item, self.sample(rng), max_pixels=max_pixels)
