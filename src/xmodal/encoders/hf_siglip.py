"""SigLIP and SigLIP 2 through ``transformers``, from a local folder or a Hub id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .card import ModelCard
from .hf_dual import HFDualEncoder, check_vocab, load_parts, model_folder, text_context

MODEL_TYPES = {"siglip": "SiglipModel", "siglip2": "Siglip2Model"}


class SiglipEncoder(HFDualEncoder):
    """A ``SiglipModel`` (or ``Siglip2Model``) behind the ``Encoder`` protocol (text and image).

    SigLIP was trained on lower-cased text padded to its full context (64 tokens), and its
    pooled text embedding depends on that padding, so text is lower-cased here (whatever the
    tokenizer does: ``SiglipTokenizer`` lower-cases, a converted fast tokenizer may not) and
    padded with ``padding="max_length"``. A tokenizer whose ``model_max_length`` differs from
    the model's text positions is refused at load time. The card carries the trained
    ``logit_scale`` (``exp(t)``) and ``logit_bias``: ``sigmoid(scale * t @ v + bias)`` is the
    model's pair probability. Load with ``load_encoder("hf-siglip:/path")``; see
    ``tests/encoders/test_hf_siglip.py`` for a round trip on a tiny folder.
    """

    lowercase = True

    def __init__(self, model: Any, tokenizer: Any, image_processor: Any, *, name: str) -> None:
        self.model, self.tokenizer, self.image_processor = model, tokenizer, image_processor
        text = model.config.text_config
        check_vocab(tokenizer, text.vocab_size, "hf-siglip")
        context = text_context(tokenizer, int(text.max_position_embeddings), "hf-siglip")
        self.text_kwargs = {"padding": "max_length", "max_length": context}
        dim = getattr(text, "projection_size", None) or text.hidden_size
        self.card = ModelCard(
            name=name, family="siglip", dim=int(dim), modalities=("text", "image"),
            logit_scale=float(model.logit_scale.detach().exp()),
            logit_bias=float(model.logit_bias.detach()),
            max_text_tokens=context,
        )

    @classmethod
    def from_path(cls, path: str | Path, *, name: str | None = None, device: str = "cpu",
                  dtype: Any = None, offline: bool = False) -> SiglipEncoder:
        """Load a SigLIP or SigLIP 2 folder saved with ``save_pretrained``, or a Hub id
        ``ORG/NAME[@REVISION]`` resolved through the Hugging Face cache (downloaded unless
        ``offline`` or ``HF_HUB_OFFLINE=1``; see :mod:`xmodal.encoders.hub`).

        Raises:
            EncoderLoadError: No such folder, not a SigLIP model, or a tokenizer that does not
                fit the model (vocabulary or context length).
        """
        folder = model_folder(path, "hf-siglip", offline=offline)
        model, tokenizer, processor = load_parts(
            folder, "hf-siglip", MODEL_TYPES, "image", device=device, dtype=dtype)
        return cls(model, tokenizer, processor, name=name or f"hf-siglip:{path}")

    def _embed_images(self, images: list[Any], *, batch_size: int) -> np.ndarray:
        return self._embed_pixels(self.image_processor, images, batch_size)
