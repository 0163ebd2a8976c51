"""Held-out retrieval figures of a model being trained: Recall@K both ways, beside chance.

"Recall@K" here is CLIP's: the fraction of queries with *any* positive in the top K (a hit
rate). The text side is the held-out set's distinct captions (normalised), so two items sharing
a caption are both correct for it. Ties count against the query (a positive must score strictly
above the others to rank ahead of them).

Example:
    >>> import torch
    >>> from xmodal.data.pairs import PairDataset
    >>> from xmodal.train.models import TowerPair
    >>> eye = torch.eye(4)
    >>> model = TowerPair(torch.nn.Identity(), torch.nn.Identity(),
    ...                   lookup_a=lambda i: eye[i], lookup_b=lambda t: eye[int(t)])
    >>> data = PairDataset(anchors=(0, 1, 2, 3), positives=("0", "1", "2", "3"),
    ...                    negatives=None, anchor_modality="image", name="toy")
    >>> retrieval_figures(model, data).to_text[1]
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from xmodal.data.dedup import normalize_caption
from xmodal.data.pairs import PairDataset

from .models import DualModel


@dataclass(frozen=True)
class RetrievalFigures:
    """Held-out Recall@K (any positive in the top K) both ways, beside chance."""

    n_items: int  # held-out items (images, clips, queries)
    n_captions: int  # their distinct captions
    to_text: dict[int, float]  # K -> hit rate, item → caption
    from_text: dict[int, float]  # K -> hit rate, caption → item
    chance_to_text_at_10: float  # 10 / n_captions


def embed_all(model: DualModel, side: int, items: list[Any], batch: int = 256) -> np.ndarray:
    """``(n, d)`` embeddings of ``items`` on ``side``, without gradients, in eval mode."""
    was_training = model.module.training
    model.module.eval()
    parts = []
    with torch.no_grad():
        for s in range(0, len(items), batch):
            x = model.prepare(side, items[s : s + batch])
            parts.append(model.embed(side, x).float().cpu().numpy())
    model.module.train(was_training)
    return np.concatenate(parts)  # (n, d)


def retrieval_figures(model: DualModel, data: PairDataset,
                      ks: tuple[int, ...] = (1, 5, 10)) -> RetrievalFigures:
    """Recall@K item→caption and caption→item on ``data`` (see the module docstring)."""
    items, captions, own = paired_layout(data.anchors, data.positives)
    first = {}
    for p in data.positives:
        first.setdefault(normalize_caption(p), p)
    a = embed_all(model, 0, items)  # (n_items, d)
    t = embed_all(model, 1, [first[c] for c in captions])  # (n_cap, d)
    return figures_from_scores(a @ t.T, own, ks)


def paired_layout(anchors: Sequence[Any], positives: Sequence[str]
                  ) -> tuple[list[Any], list[str], np.ndarray]:
    """Distinct items, distinct normalised captions (sorted), and which caption is whose.

    Returns:
        ``(items, captions, own)`` with ``own`` ``(n_items, n_captions)`` boolean.
    """
    keys = [normalize_caption(p) for p in positives]
    captions = sorted(set(keys))
    where = {c: i for i, c in enumerate(captions)}
    items = list(dict.fromkeys(anchors))
    item_row = {item: i for i, item in enumerate(items)}
    own = np.zeros((len(items), len(captions)), dtype=bool)  # (n_items, n_cap) positives
    for anchor, key in zip(anchors, keys, strict=True):
        own[item_row[anchor], where[key]] = True
    return items, captions, own


def figures_from_scores(scores: np.ndarray, own: np.ndarray,
                        ks: tuple[int, ...] = (1, 5, 10)) -> RetrievalFigures:
    """:class:`RetrievalFigures` from an item × caption score matrix and its positives.

    Any score works (cosines, fused RRF scores): only the order within a row or column counts.

    Example:
        >>> s = np.array([[0.9, 0.1], [0.8, 0.2]])
        >>> figures_from_scores(s, np.eye(2, dtype=bool), ks=(1,)).to_text
        {1: 0.5}
    """
    best_pos_row = np.where(own, scores, -np.inf).max(axis=1)  # (n_items,)
    i2t_rank = (np.where(own, -np.inf, scores) > best_pos_row[:, None]).sum(axis=1)
    best_pos_col = np.where(own, scores, -np.inf).max(axis=0)  # (n_cap,)
    t2i_rank = (np.where(own, -np.inf, scores) > best_pos_col[None, :]).sum(axis=0)
    n_items, n_captions = own.shape
    return RetrievalFigures(
        n_items=n_items, n_captions=n_captions,
        to_text={k: float((i2t_rank < k).mean()) for k in ks},
        from_text={k: float((t2i_rank < k).mean()) for k in ks},
        chance_to_text_at_10=min(1.0, 10 / n_captions),
    )
