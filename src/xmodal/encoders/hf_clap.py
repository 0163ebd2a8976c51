"""CLAP through ``transformers`` (``ClapModel``), from a folder or a Hub id; audio deterministic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audio_windows import pool_windows
from .base import EncoderLoadError
from .card import ModelCard
from .hf_dual import HFDualEncoder, check_vocab, load_parts, model_folder, pooled, text_context


class ClapEncoder(HFDualEncoder):
    """A ``ClapModel`` behind the :class:`~xmodal.encoders.Encoder` protocol (text and audio).

    Audio is deterministic (never a random crop): each clip is decoded at the feature
    extractor's rate, cut into consecutive windows of its ``max_length_s`` (10 s) with
    :func:`xmodal.data.audio.windows`, each window embedded whole, and the window vectors
    averaged with :func:`xmodal.data.audio.window_weights` (a short last window counts for its
    real samples), then L2-normalised. A window never exceeds the extractor's maximum, so its
    ``truncation`` mode never crops; a short window is padded by the extractor's own ``padding``
    (``"repeatpad"`` for LAION's CLAP, as in training). ``is_longer`` is always ``False`` (no
    window is longer than the maximum; transformers would otherwise pick one at random). Fused
    checkpoints (``enable_fusion``) get the 4-channel ``"fusion"`` features, unfused ones the
    1-channel ``"rand_trunc"`` features — each is what the weights expect. The card's
    ``logit_scale`` is ``exp(logit_scale_a)``, the scale LAION-CLAP uses for audio–text logits.
    Load with ``load_encoder("hf-clap:/path")``; ``tests/encoders/test_hf_clap.py`` shows it.
    """

    def __init__(self, model: Any, tokenizer: Any, feature_extractor: Any, *, name: str) -> None:
        self.model, self.tokenizer, self.feature_extractor = model, tokenizer, feature_extractor
        text = model.config.text_config
        check_vocab(tokenizer, text.vocab_size, "hf-clap")
        # RoBERTa positions start after the padding id: 514 positions hold 512 tokens.
        positions = int(text.max_position_embeddings) - int(text.pad_token_id or 0) - 1
        context = text_context(tokenizer, positions, "hf-clap")
        self.text_kwargs = {"padding": True, "max_length": context}
        self.fusion = bool(model.config.audio_config.enable_fusion)
        rate = int(feature_extractor.sampling_rate)
        window_s = float(feature_extractor.max_length_s)
        if round(window_s * rate) > int(feature_extractor.nb_max_samples):
            raise EncoderLoadError(f"hf-clap: window of {window_s} s exceeds the extractor's "
                                   f"{feature_extractor.nb_max_samples} samples")
        self.card = ModelCard(
            name=name, family="clap", dim=int(model.config.projection_dim),
            modalities=("text", "audio"), logit_scale=float(model.logit_scale_a.detach().exp()),
            max_text_tokens=context, audio_window_s=window_s, sample_rate=rate,
        )

    @classmethod
    def from_path(cls, path: str | Path, *, name: str | None = None, device: str = "cpu",
                  dtype: Any = None, offline: bool = False) -> ClapEncoder:
        """Load a CLAP folder saved with ``save_pretrained``, or a Hub id
        ``ORG/NAME[@REVISION]`` resolved through the Hugging Face cache (downloaded unless
        ``offline`` or ``HF_HUB_OFFLINE=1``; see :mod:`xmodal.encoders.hub`).

        Raises:
            EncoderLoadError: No such folder, not a CLAP model, or a tokenizer that does not fit.
        """
        folder = model_folder(path, "hf-clap", offline=offline)
        model, tokenizer, extractor = load_parts(
            folder, "hf-clap", {"clap": "ClapModel"}, "audio", device=device, dtype=dtype)
        return cls(model, tokenizer, extractor, name=name or f"hf-clap:{path}")

    def _embed_audio(self, waves: list[np.ndarray], *, batch_size: int) -> np.ndarray:
        def embed(parts: list[np.ndarray]) -> np.ndarray:  # (total_windows, d)
            return np.concatenate([self._embed_windows(parts[s : s + batch_size])
                                   for s in range(0, len(parts), batch_size)])

        return pool_windows(waves, sample_rate=self.card.sample_rate,
                            window_s=self.card.audio_window_s, embed=embed)  # (n_clips, d)

    def _embed_windows(self, segments: list[np.ndarray]) -> np.ndarray:
        state = np.random.get_state()  # the extractor's "fusion" mode draws from numpy's RNG
        try:
            inputs = self.feature_extractor(
                segments, sampling_rate=self.card.sample_rate, return_tensors="pt",
                truncation="fusion" if self.fusion else "rand_trunc",  # never crops: see above
            )
        finally:
            np.random.set_state(state)
        features = inputs["input_features"].to(self.model.device, self.model.dtype)
        is_longer = torch.zeros((len(segments), 1), dtype=torch.bool, device=self.model.device)
        with torch.inference_mode():
            out = pooled(self.model.get_audio_features(input_features=features,
                                                       is_longer=is_longer))  # (b, d)
        return torch.nn.functional.normalize(out.float(), dim=-1).cpu().numpy()  # (b, d)
