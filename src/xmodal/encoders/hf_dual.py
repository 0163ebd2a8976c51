"""Shared machinery for the dual-tower ``transformers`` families (CLIP, SigLIP, CLAP).

Every family loads from a local folder or a Hub id resolved to a cached snapshot
(:mod:`xmodal.encoders.hub`), with ``from_pretrained(folder, local_files_only=True,
use_safetensors=True)``, checks that the tokenizer fits the model, and embeds text with the
model's own ``get_text_features`` (projection applied), L2-normalised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._optional import require
from .base import EncoderBase, EncoderLoadError
from .hub import resolve_location

_UNSET_LIMIT = 1_000_000  # tokenizers without a limit report ~1e30 as model_max_length
_HOW = ("pass a local folder saved with save_pretrained (model, tokenizer and processor) or "
        "a Hub id ORG/NAME[@REVISION]")


def model_folder(path: str | Path, prefix: str, *, offline: bool = False) -> Path:
    """The folder behind ``PREFIX:PATH`` (a local folder, or a Hub id's cached snapshot), or
    :class:`EncoderLoadError` saying how to get one."""
    folder = resolve_location(path, prefix=prefix, offline=offline)
    if not folder.exists():
        raise EncoderLoadError(f"{prefix}: model folder not found: {folder}. {_HOW}")
    if not folder.is_dir() or not (folder / "config.json").exists():
        raise EncoderLoadError(
            f"{prefix}: {folder} is not a transformers model folder (no config.json). {_HOW}"
        )
    return folder


def load_parts(folder: Path, prefix: str, model_types: dict[str, str], processor: str,
               *, device: str, dtype: Any) -> tuple[Any, Any, Any]:
    """Load (model, tokenizer, image processor or feature extractor) from ``folder``, offline
    and from safetensors weights only.

    ``model_types`` maps a config ``model_type`` to the transformers model class for it;
    ``processor`` is ``"image"`` or ``"audio"``.
    """
    tf = require("transformers", "hf")
    try:
        config = tf.AutoConfig.from_pretrained(folder, local_files_only=True)
        if config.model_type not in model_types:
            raise EncoderLoadError(
                f"{prefix}: {folder} holds a {config.model_type!r} model, not "
                f"{' or '.join(model_types)}: use the matching prefix (hf-clip, hf-siglip, hf-clap)"
            )
        model_cls = getattr(tf, model_types[config.model_type])
        model = model_cls.from_pretrained(folder, local_files_only=True,
                                          use_safetensors=True)
        tokenizer = tf.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        auto = tf.AutoImageProcessor if processor == "image" else tf.AutoFeatureExtractor
        extractor = auto.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise EncoderLoadError(
            f"{prefix}: could not load {folder} offline ({exc.__class__.__name__}: {exc}). {_HOW}"
        ) from exc
    model = model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)
    return model.eval(), tokenizer, extractor


def text_context(tokenizer: Any, model_limit: int, prefix: str) -> int:
    """The text context in tokens; a tokenizer that disagrees with the model is an error."""
    own = getattr(tokenizer, "model_max_length", None)
    if own is not None and own < _UNSET_LIMIT and int(own) != model_limit:
        raise EncoderLoadError(
            f"{prefix}: tokenizer/model context-length mismatch: {int(own)} vs {model_limit} "
            "tokens (tokenizer model_max_length vs the model's text positions); the tokenizer "
            "does not belong to this model — save the model's own tokenizer in its folder"
        )
    return model_limit


def check_vocab(tokenizer: Any, vocab_size: int, prefix: str) -> None:
    """A tokenizer with ids beyond the model's embedding table belongs to another model."""
    if len(tokenizer) > vocab_size:
        raise EncoderLoadError(
            f"{prefix}: tokenizer/model mismatch: the tokenizer has {len(tokenizer)} tokens, the "
            f"model's text embedding table {vocab_size}"
        )


def pooled(out: Any) -> Any:
    """The embedding tensor from ``get_*_features`` (a tensor, or an output's pooler_output)."""
    return out if hasattr(out, "ndim") else out.pooler_output


class HFDualEncoder(EncoderBase):
    """A transformers dual encoder: text through ``get_text_features``, L2-normalised.

    Subclasses set ``card`` and ``text_kwargs`` (tokenizer options: padding, max length) and add
    the image or audio side.
    """

    model: Any
    tokenizer: Any
    text_kwargs: dict[str, Any]
    lowercase: bool = False  # SigLIP: the model was trained on lower-cased text

    def _texts(self, texts: list[str], prompt: str | None) -> list[str]:
        full = [prompt + t for t in texts] if prompt else texts
        return [t.lower() for t in full] if self.lowercase else full

    def _embed_texts(
        self, texts: list[str], *, prompt: str | None, batch_size: int, progress: bool
    ) -> np.ndarray:
        full = self._texts(texts, prompt)
        parts = []
        starts = range(0, len(full), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=f"text ({len(full)} items)")
        for start in starts:
            batch = self.tokenizer(full[start : start + batch_size], return_tensors="pt",
                                   truncation=True, **self.text_kwargs)
            with torch.inference_mode():
                out = pooled(self.model.get_text_features(**batch.to(self.model.device)))
            parts.append(torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy())
        return np.concatenate(parts)  # (n, d)

    def _token_counts(self, texts: list[str], prompt: str | None) -> list[int]:
        ids = self.tokenizer(self._texts(texts, prompt), add_special_tokens=True,
                             truncation=False, verbose=False)["input_ids"]
        return [len(x) for x in ids]

    def _embed_pixels(self, processor: Any, images: list[Any], batch_size: int) -> np.ndarray:
        """Image side shared by CLIP and SigLIP: the processor's inputs to get_image_features."""
        parts = []
        for start in range(0, len(images), batch_size):
            inputs = processor(images=images[start : start + batch_size], return_tensors="pt")
            inputs = inputs.to(self.model.device)
            if "pixel_values" in inputs:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            with torch.inference_mode():
                out = pooled(self.model.get_image_features(**inputs))  # (b, d)
            parts.append(torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy())
        return np.concatenate(parts)  # (n, d)
