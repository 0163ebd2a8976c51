"""The packaged towers on ONNX Runtime: what each exports, and the check against torch.

- EfficientNet-Lite0/Lite2: ``pixels (batch, 3, crop, crop)`` → ``pooled (batch, 1280)``, the
  pooled features before the classifier (``+classes`` runs its one linear head in torch on
  them). The spatial size is fixed per variant (its "same" padding is).
- aisfx: ``blocks (batch, frames, 96)`` → ``embedding (batch, 512)``; the blocks of every clip
  of a call form the batch, so the audio's length only changes the batch.
- sentence-transformers text models (the packaged MiniLM, ``mpnet``, ``st:`` text models):
  the tokenizer's ``input_ids``, ``attention_mask`` (and ``token_type_ids``) of shape
  ``(batch, tokens)`` → the model's own sentence embedding (transformer, pooling, normalise
  in one graph). Tokenisation stays in Python (``SentenceTransformer.preprocess``).

A freshly exported graph is run beside torch on a small example before it is used; a cosine
below :data:`MIN_COSINE` for any row is an :class:`~xmodal.encoders.base.EncoderLoadError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..base import EncoderLoadError
from .graphs import CachedGraph, GraphSpec, export_graph

MIN_COSINE = 0.9999
"""Smallest cosine an exported fp32 graph's vectors may have with torch's."""
CHECK_TEXTS = ("a dog", "the quick brown fox jumps over the lazy dog near the river bank",
               "x", "crème brûlée, 3 spoons")
"""Texts of different lengths (so padding is exercised) that check a text graph."""


class PooledFeatures(torch.nn.Module):
    """EfficientNet-Lite's pooled features: ``extract_features`` then the spatial mean."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(pixels).mean(dim=(2, 3))  # (N, 1280)


class SentenceEmbedding(torch.nn.Module):
    """A SentenceTransformer's ``sentence_embedding`` from positional tokenizer outputs."""

    def __init__(self, model: Any, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        out = self.model(dict(zip(self.names, tensors, strict=True)))
        return out["sentence_embedding"]  # (N, d)


def efficientnet_graph(encoder: Any) -> tuple[CachedGraph, torch.nn.Module, tuple]:
    """Export (or find) the pooled-features graph of an EfficientNet-Lite encoder."""
    from ..towers.efficientnet import VARIANTS

    crop = VARIANTS[encoder.variant].crop
    module = PooledFeatures(encoder.model).eval()
    example = (torch.from_numpy(_pixels(3, crop)),)
    spec = GraphSpec(f"efficientnet-{encoder.variant}", ("pixels",), ("pooled",),
                     {"pixels": {0: "batch"}, "pooled": {0: "batch"}})
    return export_graph(module, example, spec), module, example


def aisfx_graph(encoder: Any) -> tuple[CachedGraph, torch.nn.Module, tuple]:
    """Export (or find) aisfx's block-embedding graph."""
    module = encoder.model.embedding_net.eval()
    example = (torch.from_numpy(np.random.default_rng(0).normal(size=(3, 100, 96))
                                .astype(np.float32)),)
    spec = GraphSpec("aisfx", ("blocks",), ("embedding",),
                     {"blocks": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}})
    return export_graph(module, example, spec), module, example


def text_graph(encoder: Any) -> tuple[CachedGraph, torch.nn.Module, tuple]:
    """Export (or find) a sentence-transformers text model's sentence-embedding graph."""
    st = encoder.model
    features = st.preprocess(list(CHECK_TEXTS))
    names = tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features)
    module = SentenceEmbedding(st, names).eval()
    example = tuple(features[n] for n in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    spec = GraphSpec(encoder.card.name, names, ("embedding",), {**axes, "embedding": {0: "batch"}})
    return export_graph(module, example, spec), module, example


def check_against_torch(graph: Any, module: torch.nn.Module, example: tuple,
                        names: tuple[str, ...], what: str) -> float:
    """Run ``graph`` and ``module`` on ``example``; the smallest row cosine, or an
    :class:`EncoderLoadError` if it is below :data:`MIN_COSINE`."""
    with torch.inference_mode():
        ref = module(*example).float().numpy()  # (n, d)
    got = graph.run({n: t.numpy() for n, t in zip(names, example, strict=True)})  # (n, d)
    low = float(row_cosines(got, ref).min())
    if not low >= MIN_COSINE:
        raise EncoderLoadError(
            f"the ONNX graph of {what} differs from torch (cosine {low:.6f} < {MIN_COSINE}); "
            "use runtime='torch'"
        )
    return low


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` with the same row of ``b``, in float64.

    Example:
        >>> row_cosines(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [1.0, 0.0]]))
        array([1.        , 0.70710678])
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)  # (n, d)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))  # (n,)


def embed_texts(encoder: Any, texts: list[str], *, prompt: str | None,
                batch_size: int) -> np.ndarray:
    """Texts through a text encoder's ONNX graph: sorted by length into batches (less
    padding, as sentence-transformers does), tokenised by the model, returned in input order,
    L2-normalised ``(n, d)`` float32."""
    st = encoder.model
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.empty((len(texts), encoder.card.dim), dtype=np.float32)  # (n, d)
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        features = st.preprocess([texts[i] for i in rows], prompt=prompt)
        feeds = {k: v.numpy() for k, v in features.items() if isinstance(v, torch.Tensor)}
        out[rows] = encoder.graph.run(feeds)  # (b, d)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _pixels(n: int, crop: int) -> np.ndarray:
    """Smooth random images in [-1, 1] ``(n, 3, crop, crop)`` (noise alone is not what the
    network sees; a low-frequency pattern is closer)."""
    rng = np.random.default_rng(0)
    small = rng.uniform(-1, 1, size=(n, 3, 8, 8)).astype(np.float32)  # (n, 3, 8, 8)
    reps = -(-crop // 8)
    return np.kron(small, np.ones((1, 1, reps, reps), np.float32))[:, :, :crop, :crop].copy()
