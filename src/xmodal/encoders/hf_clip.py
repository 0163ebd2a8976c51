"""CLIP through ``transformers`` (``CLIPModel``), from a local folder or a Hub id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .card import ModelCard
from .hf_dual import HFDualEncoder, check_vocab, load_parts, model_folder, text_context


class CLIPEncoder(HFDualEncoder):
    """A ``CLIPModel`` behind the :class:`~xmodal.encoders.Encoder` protocol (text and image).

    Text is truncated to the model's context (77 tokens for OpenAI CLIP) and the truncation is
    reported; images go through the folder's image processor. Both sides use the model's
    projections (``get_text_features`` / ``get_image_features``) and are L2-normalised, so
    ``card.logit_scale * (t @ v)`` are the model's logits. Load it with
    ``load_encoder("hf-clip:/path/to/folder")``; ``tests/encoders/test_hf_clip.py`` builds a tiny
    folder and shows the whole round trip.
    """

    def __init__(self, model: Any, tokenizer: Any, image_processor: Any, *, name: str) -> None:
        self.model, self.tokenizer, self.image_processor = model, tokenizer, image_processor
        text = model.config.text_config
        check_vocab(tokenizer, text.vocab_size, "hf-clip")
        context = text_context(tokenizer, int(text.max_position_embeddings), "hf-clip")
        self.text_kwargs = {"padding": True, "max_length": context}
        self.card = ModelCard(
            name=name, family="clip", dim=int(model.config.projection_dim),
            modalities=("text", "image"), logit_scale=float(model.logit_scale.detach().exp()),
            max_text_tokens=context,
        )

    @classmethod
    def from_path(cls, path: str | Path, *, name: str | None = None, device: str = "cpu",
                  dtype: Any = None, offline: bool = False) -> CLIPEncoder:
        """Load a CLIP folder saved with ``save_pretrained``, or a Hub id
        ``ORG/NAME[@REVISION]`` resolved through the Hugging Face cache (downloaded unless
        ``offline`` or ``HF_HUB_OFFLINE=1``; see :mod:`xmodal.encoders.hub`).

        Raises:
            EncoderLoadError: No such folder, not a CLIP model, or a tokenizer that does not fit.
        """
        folder = model_folder(path, "hf-clip", offline=offline)
        model, tokenizer, processor = load_parts(
            folder, "hf-clip", {"clip": "CLIPModel"}, "image", device=device, dtype=dtype)
        return cls(model, tokenizer, processor, name=name or f"hf-clip:{path}")

    def _embed_images(self, images: list[Any], *, batch_size: int) -> np.ndarray:
        return self._embed_pixels(self.image_processor, images, batch_size)
