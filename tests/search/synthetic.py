"""A synthetic index for calibration and gap tests: one model ``syn`` with an image collection
and a caption (text) collection of the same documents, a manifest, and a dict-backed encoder.

Document ``i``: a shared signal ``s_i``; its item vector ``unit(s_i + noise + image_offset)``,
its caption query vector ``unit(s_i + noise + text_offset)`` (the offsets make a known modality
gap). The caption text is ``"doc i"`` (``"twin"`` for the documents given the same caption).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from xmodal.encoders.card import ModelCard


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def gapped_pairs(n: int, d: int = 32, *, noise: float = 0.6, offset: float = 2.5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(items, texts) ``(n, d)`` unit rows: shared signal + noise + a per-modality offset."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, d))
    off_i, off_t = unit(rng.standard_normal((2, d))) * offset
    items = unit(s + noise * rng.standard_normal((n, d)) + off_i)
    texts = unit(s + noise * rng.standard_normal((n, d)) + off_t)
    return items, texts


class DictEncoder:
    """``encode_query`` looks captions up in a dict (counts the texts it embeds)."""

    def __init__(self, vectors: dict[str, np.ndarray], dim: int) -> None:
        self.vectors, self.calls = vectors, 0
        self.card = ModelCard(name="syn", family="lit", dim=dim, modalities=("text", "image"))

    def encode_query(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def build_index(root: Path, n: int = 600, *, twins: int = 0, seed: int = 0,
                backend: str = "exact"):
    """An index (``backend`` "exact" or "edge": Qdrant Edge) at ``root`` with ``syn.image``
    and ``syn.text``; returns ``(uri, items, query_texts, captions, encoder)``. Stored caption
    vectors are random (so a test can tell whether the calibration used ``encode_query``)."""
    from xmodal.index import open_index

    items, texts = gapped_pairs(n, seed=seed)
    captions = [("twin" if i < twins else f"doc {i}") for i in range(n)]
    if twins:
        texts[:twins] = texts[0]  # one caption → one query vector
    rng = np.random.default_rng(seed + 1)
    stored = unit(rng.standard_normal(texts.shape))
    ids = [f"d{i:04d}" for i in range(n)]
    uri = "exact:" + str(root) if backend == "exact" else str(root)
    card = {"name": "syn", "family": "lit", "dim": 32, "modalities": ["text", "image"]}
    with open_index(uri) as index:
        for name, modality, vecs in (("syn.image", "image", items), ("syn.text", "text", stored)):
            col = index.create_collection(name, dim=32, model="syn", modality=modality,
                                          card=card)
            col.upsert(ids, vecs.astype(np.float32),
                       [{"path": f"/x/{i}.png", "modality": "image", "caption": c}
                        for i, c in zip(ids, captions, strict=True)])
    manifest = {f"/x/{i}.png": {"doc": i, "sha256": i, "caption": c,
                                "collections": ["syn.image", "syn.text"]}
                for i, c in zip(ids, captions, strict=True)}
    (root / "xmodal-manifest.json").write_text(json.dumps(manifest))
    encoder = DictEncoder({c: texts[i] for i, c in enumerate(captions)}, 32)
    return uri, items, texts, captions, encoder
